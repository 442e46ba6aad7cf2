package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskState;

/**
 * One clock: a worker whose clock is a minute behind and an API host whose clock is a minute ahead
 * agree on leases and deadlines, because both ledgers read the database's clock ({@link
 * DatabaseClock}). The same skew without it makes the reaper take every lease at once.
 */
class ClockSkewIT {
  @RegisterExtension static final LedgerSchema db = new LedgerSchema();

  private static final Duration SKEW = Duration.ofSeconds(60);
  private static final Duration TTL = Duration.ofSeconds(30);

  private DatabaseClock apiClock;
  private DatabaseClock workerClock;
  private Ledger api;
  private Ledger worker;
  private String tenant;
  private String session;

  @BeforeEach
  void ledgers() {
    apiClock = DatabaseClock.start(db.dataSource(), offset(SKEW), Duration.ofSeconds(30));
    workerClock =
        DatabaseClock.start(db.dataSource(), offset(SKEW.negated()), Duration.ofSeconds(30));
    api = new Ledger(db.dataSource(), apiClock);
    worker = new Ledger(db.dataSource(), workerClock);
    tenant = "t-" + UUID.randomUUID();
    session = "s-" + UUID.randomUUID();
    api.tenants().ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    api.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
  }

  @AfterEach
  void stopClocks() {
    apiClock.close();
    workerClock.close();
  }

  private static Clock offset(Duration d) {
    return Clock.offset(Clock.systemUTC(), d);
  }

  private TaskRow submit() {
    return api.submissions()
        .submit(
            tenant,
            session,
            LedgerFixture.download("http://127.0.0.1/x"),
            SessionConfig.DEFAULT.withDefaults(),
            null,
            null)
        .task();
  }

  /** Seconds from the database's clock to the task's lease expiry. */
  private double leaseLeft(String taskId) throws Exception {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select extract(epoch from lease_expires_at - clock_timestamp())::float8"
                    + " from tasks where id = ?")) {
      ps.setString(1, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getDouble(1);
      }
    }
  }

  private TaskState state(String taskId) {
    return api.taskControl().task(tenant, session, taskId).orElseThrow().state();
  }

  @Test
  void bothClocksReadTheDatabasesTimeWhateverTheHostsSay() {
    assertThat(apiClock.synced()).isTrue();
    assertThat(workerClock.synced()).isTrue();
    // The database runs on this host: the skew is the offset given, to within a second.
    assertThat(apiClock.skew().toMillis()).isCloseTo(-SKEW.toMillis(), within(1000L));
    assertThat(workerClock.skew().toMillis()).isCloseTo(SKEW.toMillis(), within(1000L));
    assertThat(Duration.between(workerClock.instant(), apiClock.instant()).abs())
        .isLessThan(Duration.ofSeconds(1));
  }

  @Test
  void aLeaseFromAWorkerAMinuteBehindLastsItsTtlForTheReaperOfAHostAMinuteAhead() throws Exception {
    TaskRow t = submit();
    TestClaims.claim(worker, t.id(), "w-behind", TTL).orElseThrow();

    assertThat(leaseLeft(t.id())).isCloseTo(TTL.toSeconds(), within(5.0));
    api.reaping().reapExpiredLeases(1000);
    assertThat(state(t.id())).isEqualTo(TaskState.RUNNING);
    assertThat(
            worker
                .leases()
                .heartbeat(Lease.of(t.id(), 1), TTL, new Leases.Heartbeat(1, null, null, false, 0)))
        .isTrue();
    assertThat(leaseLeft(t.id())).isCloseTo(TTL.toSeconds(), within(5.0));
  }

  @Test
  void withoutTheDatabasesClockTheSameSkewLosesTheLeaseAtOnce() throws Exception {
    Ledger rawWorker = new Ledger(db.dataSource(), offset(SKEW.negated()));
    TaskRow t = submit();
    TestClaims.claim(rawWorker, t.id(), "w-behind", TTL).orElseThrow();

    assertThat(leaseLeft(t.id())).isCloseTo(TTL.minus(SKEW).toSeconds(), within(5.0));
    api.reaping().reapExpiredLeases(1000);
    assertThat(state(t.id())).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void aDeadlineSetByAHostAMinuteAheadIsCountedFromTheDatabasesTime() throws Exception {
    TaskRow t = submit();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select extract(epoch from clock_timestamp() - created_at)::float8 from tasks"
                    + " where id = ?")) {
      ps.setString(1, t.id());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getDouble(1)).isCloseTo(0.0, within(5.0));
      }
    }
  }
}
