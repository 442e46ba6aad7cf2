package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;

/**
 * The reaper's statements: expired leases, overdue tasks, lost doorbells, the task table's
 * statistics.
 */
class ReapingIT extends LedgerFixture {
  ReapingIT() {
    super("2026-01-01T00:00:00Z");
  }

  @Test
  void anExpiredLeaseWithNoAttemptLeftFailsTheTaskAndIsCountedAsFailed() {
    SessionConfig oneAttempt = oneAttempt();
    ledger.sessions().upsertSession(tenant, session, oneAttempt);
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                download("http://127.0.0.1/x"),
                oneAttempt.withDefaults(),
                null,
                null)
            .task();
    TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow();
    clock.advance(Duration.ofSeconds(31));
    Reaping.LeasesReaped reaped = ledger.reaping().reapExpiredLeases(1000);
    // Other tests' tasks in this database may be reaped too; this one has no attempt left.
    assertThat(reaped.failed()).isGreaterThanOrEqualTo(1);
    assertThat(reaped.total()).isEqualTo(reaped.requeued() + reaped.failed());
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
  }

  @Test
  void aTaskPastItsResourceTimeoutFailsAndFencesItsWorker() {
    SessionConfig shortLived =
        new SessionConfig(null, null, null, Duration.ofMinutes(1), null, null, null, null);
    ledger.sessions().upsertSession(tenant, session, shortLived);
    TaskRequest r = download("http://127.0.0.1/x");
    TaskRow t =
        ledger
            .submissions()
            .submit(tenant, session, r, shortLived.withDefaults(), null, null)
            .task();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofMinutes(5)).orElseThrow().epoch();
    clock.advance(Duration.ofSeconds(61));
    assertThat(ledger.reaping().failOverdue(1000)).isGreaterThanOrEqualTo(1);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.RESOURCE_TIMEOUT);
    assertThat(heartbeat(t.id(), e)).isFalse();
  }

  @Test
  void anUnclaimedQueuedTaskIsAnnouncedAgain() throws Exception {
    TaskRow t = submit();
    clock.advance(Duration.ofMinutes(2));
    long before = outboxKeys("transfer-tasks").stream().filter(t.id()::equals).count();
    assertThat(ledger.reaping().reannounceStale(Duration.ofSeconds(60), 1000))
        .isGreaterThanOrEqualTo(1);
    long after = outboxKeys("transfer-tasks").stream().filter(t.id()::equals).count();
    assertThat(after).isEqualTo(before + 1);
  }

  @Test
  void theTaskTableIsAnalyzedOnceEnoughOfItChanged() {
    assertThat(ledger.reaping().analyzeTasksIfStale(Long.MAX_VALUE)).isFalse();
    Instant before = lastAnalyze();
    // The server counts changed rows a moment after their commit (and autovacuum may analyze
    // meanwhile): a new task each try, until one try finds a change since the last analyze.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              submit();
              return ledger.reaping().analyzeTasksIfStale(1);
            });
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> lastAnalyze() != null && !lastAnalyze().equals(before));
  }

  /** When the task table was last analyzed by an ANALYZE command (not by autovacuum). */
  private static Instant lastAnalyze() {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select last_analyze from pg_stat_user_tables where relid = 'tasks'::regclass");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      java.sql.Timestamp t = rs.getTimestamp(1);
      return t == null ? null : t.toInstant();
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
