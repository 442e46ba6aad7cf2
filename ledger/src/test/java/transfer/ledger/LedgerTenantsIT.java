package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/** Tenants, their keys and quotas, and the usage figures the quotas are checked against. */
class LedgerTenantsIT {
  private static PGSimpleDataSource ds;
  private final LedgerIT.SettableClock clock =
      new LedgerIT.SettableClock(Instant.parse("2026-05-01T00:00:00Z"));
  private Ledger ledger;
  private String tenant;

  @BeforeAll
  static void migrate() {
    ds = LedgerIT.migratedDataSource();
  }

  @BeforeEach
  void newLedger() {
    ledger = new Ledger(ds, clock);
    tenant = "t-" + UUID.randomUUID();
  }

  private static byte[] hash(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aTenantIsCreatedOnceWithItsFirstKeyAndQuotas() {
    QuotaOverrides q = new QuotaOverrides(5L, null, 2.5, 10);
    TenantRow row = ledger.createTenant(tenant, "ACME", q, "key-1-" + tenant, hash("k1" + tenant));
    assertThat(row.id()).isEqualTo(tenant);
    assertThat(row.name()).isEqualTo("ACME");
    assertThat(row.quotas()).isEqualTo(q);
    assertThat(ledger.tenantForKeyHash(hash("k1" + tenant))).contains(tenant);

    assertThatThrownBy(
            () ->
                ledger.createTenant(tenant, "other", null, "key-2-" + tenant, hash("k2" + tenant)))
        .isInstanceOf(Ledger.TenantExists.class);
    // Nothing of the refused creation was written.
    assertThat(ledger.tenantForKeyHash(hash("k2" + tenant))).isEmpty();
    assertThat(ledger.tenant(tenant).orElseThrow().name()).isEqualTo("ACME");
    assertThat(ledger.tenants(null, 100_000)).extracting(TenantRow::id).contains(tenant);
    assertThat(ledger.tenants(tenant, 10)).extracting(TenantRow::id).doesNotContain(tenant);
  }

  @Test
  void keysAreAddedListedAndRevoked() {
    ledger.createTenant(tenant, tenant, null, "key-a-" + tenant, hash("a" + tenant));
    assertThat(ledger.addKey(tenant, "key-b-" + tenant, hash("b" + tenant))).isPresent();
    assertThat(ledger.addKey("no-" + tenant, "key-c-" + tenant, hash("c" + tenant))).isEmpty();
    assertThat(ledger.tenantForKeyHash(hash("b" + tenant))).contains(tenant);

    clock.advance(Duration.ofSeconds(5));
    assertThat(ledger.revokeKey(tenant, "key-b-" + tenant))
        .hasValueSatisfying(h -> assertThat(h).isEqualTo(hash("b" + tenant)));
    Instant revokedAt = clock.instant();
    clock.advance(Duration.ofSeconds(5));
    // Again: still revoked, at the first time.
    assertThat(ledger.revokeKey(tenant, "key-b-" + tenant)).isPresent();
    assertThat(ledger.tenantForKeyHash(hash("b" + tenant))).isEmpty();
    assertThat(ledger.tenantForKeyHash(hash("a" + tenant))).contains(tenant);
    assertThat(ledger.keys(tenant))
        .extracting(ApiKeyRow::id, ApiKeyRow::revokedAt)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("key-a-" + tenant, null),
            org.assertj.core.groups.Tuple.tuple("key-b-" + tenant, revokedAt));
    // Another tenant's key id, or none: nothing revoked.
    assertThat(ledger.revokeKey("other-" + tenant, "key-a-" + tenant)).isEmpty();
    assertThat(ledger.revokeKey(tenant, "key-x")).isEmpty();
  }

  @Test
  void quotasAreReplacedAndNullsMeanTheDefaults() {
    ledger.createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    assertThat(ledger.tenant(tenant).orElseThrow().quotas()).isEqualTo(QuotaOverrides.NONE);
    QuotaOverrides q = new QuotaOverrides(1L, 1000L, 0.5, 1);
    assertThat(ledger.setQuotas(tenant, q)).map(TenantRow::quotas).contains(q);
    assertThat(ledger.setQuotas(tenant, new QuotaOverrides(null, 7L, null, null)))
        .map(TenantRow::quotas)
        .contains(new QuotaOverrides(null, 7L, null, null));
    assertThat(ledger.setQuotas("no-" + tenant, q)).isEmpty();
  }

  @Test
  void tasksInFlightCountsOpenTasksOnlyAndNoFurtherThanAsked() {
    ledger.createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.upsertSession(tenant, session, SessionConfig.DEFAULT);
    String[] ids = new String[4];
    for (int i = 0; i < ids.length; i++) {
      ids[i] =
          ledger
              .submit(
                  tenant,
                  session,
                  TaskRequest.download("http://127.0.0.1:9/" + i),
                  SessionConfig.DEFAULT.withDefaults(),
                  null)
              .task()
              .id();
    }
    assertThat(ledger.tasksInFlight(tenant, 100)).isEqualTo(4);
    assertThat(ledger.tasksInFlight(tenant, 2)).isEqualTo(2);
    ledger.suspend(tenant, session, ids[0]);
    assertThat(ledger.tasksInFlight(tenant, 100)).isEqualTo(4);
    ledger.cancel(tenant, session, ids[1], false);
    assertThat(ledger.tasksInFlight(tenant, 100)).isEqualTo(3);
    assertThat(ledger.tasksInFlight("other-" + tenant, 100)).isZero();
  }

  @Test
  void bytesStoredSumsObjectsAndCompletedDownloads() {
    ledger.createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.upsertSession(tenant, session, SessionConfig.DEFAULT);
    assertThat(ledger.bytesStored(tenant)).isZero();
    ledger.putObject(
        new StoredObject(tenant, session, "a", "file:///a", 100, "00", clock.instant()));
    ledger.putObject(
        new StoredObject(tenant, session, "b", "file:///b", 20, "00", clock.instant()));
    assertThat(ledger.bytesStored(tenant)).isEqualTo(120);

    TaskRow done =
        ledger
            .submit(
                tenant,
                session,
                TaskRequest.download("http://127.0.0.1:9/done"),
                SessionConfig.DEFAULT.withDefaults(),
                null)
            .task();
    TaskRow open =
        ledger
            .submit(
                tenant,
                session,
                TaskRequest.download("http://127.0.0.1:9/open"),
                SessionConfig.DEFAULT.withDefaults(),
                null)
            .task();
    long epoch = ledger.claim(done.id(), "w", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(ledger.completeDownload(done.id(), epoch, "file:///d", 3000, "ab", 3000)).isTrue();
    ledger.claim(open.id(), "w", Duration.ofSeconds(30)).orElseThrow();
    // A running download's bytes are not counted until it completes.
    assertThat(ledger.bytesStored(tenant)).isEqualTo(3120);
    ledger.deleteObject(tenant, session, "a");
    assertThat(ledger.bytesStored(tenant)).isEqualTo(3020);
    assertThat(ledger.bytesStored("other-" + tenant)).isZero();
  }

  @Test
  void anIdempotencyKeyIsKnownOnceUsed() {
    ledger.createTenant(tenant, tenant, null, "key-" + tenant, hash(tenant));
    String session = "s-" + UUID.randomUUID();
    ledger.upsertSession(tenant, session, SessionConfig.DEFAULT);
    assertThat(ledger.idempotencyKeyUsed(tenant, session, "k")).isFalse();
    ledger.submit(
        tenant,
        session,
        TaskRequest.download("http://127.0.0.1:9/x"),
        SessionConfig.DEFAULT.withDefaults(),
        "k");
    assertThat(ledger.idempotencyKeyUsed(tenant, session, "k")).isTrue();
    assertThat(ledger.idempotencyKeyUsed(tenant, "other", "k")).isFalse();
  }
}
