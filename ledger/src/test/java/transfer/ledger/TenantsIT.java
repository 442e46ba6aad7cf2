package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/**
 * Tenants, their keys and quotas, and the usage figures the quotas are checked against (tasks in
 * flight, bytes stored, whether a submit would replay).
 */
class TenantsIT {
  @RegisterExtension static final LedgerSchema db = new LedgerSchema();

  private final SettableClock clock = new SettableClock(Instant.parse("2026-05-01T00:00:00Z"));
  private Ledger ledger;
  private String tenant;

  @BeforeEach
  void newLedger() {
    ledger = new Ledger(db.dataSource(), clock);
    tenant = "t-" + UUID.randomUUID();
  }

  private static byte[] hash(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aTenantIsCreatedOnceWithItsFirstKeyAndQuotas() {
    QuotaOverrides q = new QuotaOverrides(5L, null, 2.5, 10, 3);
    TenantRow row =
        ledger.tenants().createTenant(tenant, "ACME", q, "key-1-" + tenant, hash("k1" + tenant));
    assertThat(row.id()).isEqualTo(tenant);
    assertThat(row.name()).isEqualTo("ACME");
    assertThat(row.quotas()).isEqualTo(q);
    assertThat(ledger.tenants().tenantForKeyHash(hash("k1" + tenant))).contains(tenant);

    assertThatThrownBy(
            () ->
                ledger
                    .tenants()
                    .createTenant(tenant, "other", null, "key-2-" + tenant, hash("k2" + tenant)))
        .isInstanceOf(Tenants.TenantExists.class);
    // Nothing of the refused creation was written.
    assertThat(ledger.tenants().tenantForKeyHash(hash("k2" + tenant))).isEmpty();
    assertThat(ledger.tenants().tenant(tenant).orElseThrow().name()).isEqualTo("ACME");
    assertThat(ledger.tenants().tenants(null, 100_000)).extracting(TenantRow::id).contains(tenant);
    assertThat(ledger.tenants().tenants(tenant, 10))
        .extracting(TenantRow::id)
        .doesNotContain(tenant);
  }

  @Test
  void keysAreAddedListedAndRevoked() {
    ledger.tenants().createTenant(tenant, tenant, null, "key-a-" + tenant, hash("a" + tenant));
    assertThat(ledger.tenants().addKey(tenant, "key-b-" + tenant, hash("b" + tenant))).isPresent();
    assertThat(ledger.tenants().addKey("no-" + tenant, "key-c-" + tenant, hash("c" + tenant)))
        .isEmpty();
    assertThat(ledger.tenants().tenantForKeyHash(hash("b" + tenant))).contains(tenant);

    clock.advance(Duration.ofSeconds(5));
    assertThat(ledger.tenants().revokeKey(tenant, "key-b-" + tenant))
        .hasValueSatisfying(h -> assertThat(h).isEqualTo(hash("b" + tenant)));
    Instant revokedAt = clock.instant();
    clock.advance(Duration.ofSeconds(5));
    // Again: still revoked, at the first time.
    assertThat(ledger.tenants().revokeKey(tenant, "key-b-" + tenant)).isPresent();
    assertThat(ledger.tenants().tenantForKeyHash(hash("b" + tenant))).isEmpty();
    assertThat(ledger.tenants().tenantForKeyHash(hash("a" + tenant))).contains(tenant);
    assertThat(ledger.tenants().keys(tenant))
        .extracting(ApiKeyRow::id, ApiKeyRow::revokedAt)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("key-a-" + tenant, null),
            org.assertj.core.groups.Tuple.tuple("key-b-" + tenant, revokedAt));
    // Another tenant's key id, or none: nothing revoked.
    assertThat(ledger.tenants().revokeKey("other-" + tenant, "key-a-" + tenant)).isEmpty();
    assertThat(ledger.tenants().revokeKey(tenant, "key-x")).isEmpty();
  }

  @Test
  void quotasAreReplacedAndNullsMeanTheDefaults() {
    ledger.tenants().createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    assertThat(ledger.tenants().tenant(tenant).orElseThrow().quotas())
        .isEqualTo(QuotaOverrides.NONE);
    QuotaOverrides q = new QuotaOverrides(1L, 1000L, 0.5, 1, null);
    assertThat(ledger.tenants().setQuotas(tenant, q)).map(TenantRow::quotas).contains(q);
    assertThat(ledger.tenants().setQuotas(tenant, new QuotaOverrides(null, 7L, null, null, null)))
        .map(TenantRow::quotas)
        .contains(new QuotaOverrides(null, 7L, null, null, null));
    assertThat(ledger.tenants().setQuotas("no-" + tenant, q)).isEmpty();
  }

  @Test
  void tasksInFlightCountsOpenTasksOnlyAndNoFurtherThanAsked() {
    ledger.tenants().createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
    String[] ids = new String[4];
    for (int i = 0; i < ids.length; i++) {
      ids[i] =
          ledger
              .submissions()
              .submit(
                  tenant,
                  session,
                  TaskRequest.download("http://127.0.0.1:9/" + i),
                  SessionConfig.DEFAULT.withDefaults(),
                  null,
                  null)
              .task()
              .id();
    }
    assertThat(ledger.tenants().tasksInFlight(tenant, 100)).isEqualTo(4);
    assertThat(ledger.tenants().tasksInFlight(tenant, 2)).isEqualTo(2);
    ledger.taskControl().suspend(tenant, session, ids[0]);
    assertThat(ledger.tenants().tasksInFlight(tenant, 100)).isEqualTo(4);
    ledger.taskControl().cancel(tenant, session, ids[1], false);
    assertThat(ledger.tenants().tasksInFlight(tenant, 100)).isEqualTo(3);
    assertThat(ledger.tenants().tasksInFlight("other-" + tenant, 100)).isZero();
  }

  @Test
  void bytesStoredSumsObjectsAndCompletedDownloads() {
    ledger.tenants().createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
    assertThat(ledger.tenants().bytesStored(tenant)).isZero();
    ledger
        .stagedObjects()
        .putObject(new StoredObject(tenant, session, "a", "file:///a", 100, "00", clock.instant()));
    ledger
        .stagedObjects()
        .putObject(new StoredObject(tenant, session, "b", "file:///b", 20, "00", clock.instant()));
    assertThat(ledger.tenants().bytesStored(tenant)).isEqualTo(120);

    TaskRow done =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                TaskRequest.download("http://127.0.0.1:9/done"),
                SessionConfig.DEFAULT.withDefaults(),
                null,
                null)
            .task();
    TaskRow open =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                TaskRequest.download("http://127.0.0.1:9/open"),
                SessionConfig.DEFAULT.withDefaults(),
                null,
                null)
            .task();
    long epoch =
        TestClaims.claim(ledger, done.id(), "w", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .completeDownload(Lease.of(done.id(), epoch), "file:///d", 3000, "ab", 3000))
        .isTrue();
    TestClaims.claim(ledger, open.id(), "w", Duration.ofSeconds(30)).orElseThrow();
    // A running download's bytes are not counted until it completes.
    assertThat(ledger.tenants().bytesStored(tenant)).isEqualTo(3120);
    ledger.stagedObjects().deleteObject(tenant, session, "a");
    assertThat(ledger.tenants().bytesStored(tenant)).isEqualTo(3020);
    assertThat(ledger.tenants().bytesStored("other-" + tenant)).isZero();
  }

  @Test
  void anIdempotencyKeyIsKnownOnceUsed() {
    ledger.tenants().createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
    assertThat(ledger.submissions().idempotencyKeyUsed(tenant, session, "k")).isFalse();
    ledger
        .submissions()
        .submit(
            tenant,
            session,
            TaskRequest.download("http://127.0.0.1:9/x"),
            SessionConfig.DEFAULT.withDefaults(),
            "k",
            null);
    assertThat(ledger.submissions().idempotencyKeyUsed(tenant, session, "k")).isTrue();
    assertThat(ledger.submissions().idempotencyKeyUsed(tenant, "other", "k")).isFalse();
  }
}
