package transfer.ledger;

import static transfer.ledger.StoredJson.write;
import static transfer.ledger.TaskRows.selectForUpdate;
import static transfer.ledger.TaskRows.updateUnfenced;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.contracts.TaskState;
import transfer.contracts.WaitReasons;
import transfer.telemetry.LogFields;

/**
 * The reaper's statements, safe in every replica at once ({@code SKIP LOCKED}): expired leases
 * queued again or failed, overdue tasks failed, due tasks queued, lost doorbells rung again, and
 * the task table's statistics kept fresh for the claim's plan.
 */
public final class Reaping {
  private static final Logger LOG = Logger.getLogger(Reaping.class);
  private final Tx tx;
  private final Clock clock;
  private final TaskEndings endings;
  private final Outbox outbox;
  private final UnreadableTasks unreadable;

  Reaping(Tx tx, TaskEndings endings, Outbox outbox, UnreadableTasks unreadable) {
    this.tx = tx;
    this.clock = tx.clock();
    this.endings = endings;
    this.outbox = outbox;
    this.unreadable = unreadable;
  }

  /**
   * What {@link #reapExpiredLeases} did: tasks queued again, and tasks failed (no attempt left).
   */
  public record LeasesReaped(int requeued, int failed) {
    public int total() {
      return requeued + failed;
    }
  }

  /**
   * Leases that expired (the worker died or froze): back to queued with a new doorbell, or failed
   * when no attempt remains. Safe to run in every replica ({@code SKIP LOCKED}).
   */
  public LeasesReaped reapExpiredLeases(int limit) {
    List<TaskRow> expired =
        pass(
            "reap expired leases",
            "t.state = 'running' and t.lease_expires_at < ? order by t.lease_expires_at",
            now -> now,
            limit,
            this::expired);
    int failed = (int) expired.stream().filter(t -> t.countedAttempts() >= t.maxAttempts()).count();
    return new LeasesReaped(expired.size() - failed, failed);
  }

  /** An expired lease: queued again for another worker, or failed when no attempt remains. */
  private void expired(Connection c, TaskRow t, Instant now) throws SQLException {
    TaskError lost =
        TaskError.of(
            ErrorCodes.LEASE_EXPIRED,
            "worker "
                + t.leaseOwner()
                + " stopped renewing its lease (epoch "
                + t.leaseEpoch()
                + ")",
            true);
    if (t.countedAttempts() >= t.maxAttempts()) {
      try (LogFields f = LogFields.task(t)) {
        LOG.warnf(
            "task %s: lease of %s (epoch %d) expired and no attempt remains; failing it",
            t.id(), t.leaseOwner(), t.leaseEpoch());
      }
      endings.finishFailed(
          c,
          t,
          new TaskError(
              ErrorCodes.ATTEMPTS_EXHAUSTED,
              "gave up after " + t.countedAttempts() + " attempts; " + lost.message(),
              null,
              false),
          now,
          null);
    } else {
      try (LogFields f = LogFields.task(t)) {
        LOG.infof(
            "task %s: lease of %s (epoch %d) expired at %s; queued again for another worker",
            t.id(), t.leaseOwner(), t.leaseEpoch(), t.leaseExpiresAt());
      }
      updateUnfenced(
          c,
          t.id(),
          "state = 'queued', lease_owner = null, lease_expires_at = null, error ="
              + " ?::jsonb, announced_at = ?, updated_at = ?",
          write(lost),
          Timestamp.from(now),
          Timestamp.from(now));
      outbox.doorbell(c, t);
    }
  }

  /**
   * Tasks past their {@code resourceTimeout} (all attempts together) fail with {@code
   * resource_timeout}. A running one loses its lease with it, so its worker is fenced out.
   */
  public int failOverdue(int limit) {
    return pass(
            "fail overdue tasks",
            "t.state in ('queued', 'waiting', 'running', 'suspended') and t.deadline_at < ?"
                + " order by t.deadline_at",
            now -> now,
            limit,
            (c, t, now) -> {
              try (LogFields f = LogFields.task(t)) {
                LOG.infof(
                    "task %s: resourceTimeout passed at %s (attempt %d, %s); failing it",
                    t.id(), t.deadlineAt(), t.attempt(), t.state().wire());
              }
              endings.finishFailed(c, t, overdue(t), now, null);
            })
        .size();
  }

  /**
   * The error of a task past its deadline: {@code credentials_required} when it was waiting for new
   * credentials, else {@code resource_timeout}; the message says what it last met.
   */
  private static TaskError overdue(TaskRow t) {
    if (t.state() == TaskState.WAITING
        && WaitReasons.CREDENTIALS_REQUIRED.equals(t.waitingReason())) {
      return new TaskError(
          ErrorCodes.CREDENTIALS_REQUIRED,
          "no new credentials came before the deadline (" + t.deadlineAt() + ")" + lastError(t),
          t.error() == null ? null : t.error().httpStatus(),
          false);
    }
    return TaskError.of(
        ErrorCodes.RESOURCE_TIMEOUT,
        "not finished within the session's resourceTimeout (deadline "
            + t.deadlineAt()
            + ")"
            + lastError(t),
        false);
  }

  /** What a task that ran out of time last met, for its error's message ("" when nothing). */
  private static String lastError(TaskRow t) {
    if (t.error() == null) {
      return "";
    }
    return "; "
        + (t.state() == TaskState.WAITING && t.waitingReason() != null
            ? "it was waiting (" + t.waitingReason() + "), "
            : "")
        + "last error "
        + t.error().code()
        + ": "
        + t.error().message();
  }

  /** Waiting tasks whose time has come (retry backoff or earliestBeginAt): queued and announced. */
  public int promoteDueTasks(int limit) {
    return pass(
            "promote due tasks",
            "t.state = 'waiting' and t.next_attempt_at <= ? order by t.next_attempt_at",
            now -> now,
            limit,
            (c, t, now) -> {
              updateUnfenced(
                  c,
                  t.id(),
                  "state = 'queued', next_attempt_at = null, announced_at = ?, updated_at = ?",
                  Timestamp.from(now),
                  Timestamp.from(now));
              outbox.doorbell(c, t);
            })
        .size();
  }

  /**
   * Analyzes the task table when at least {@code changedRows} of its rows changed since its last
   * analyze (by anyone, autovacuum included), and no other replica is doing it. The claim's plan
   * depends on how many tasks the statistics say are queued and running, and a queue changes faster
   * than autovacuum looks with a default {@code autovacuum_naptime} of a minute (V7). True when it
   * analyzed.
   */
  public boolean analyzeTasksIfStale(long changedRows) {
    return tx.run(
        "analyze the task table",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("select pg_try_advisory_xact_lock(?)")) {
            ps.setLong(1, ANALYZE_LOCK);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              if (!rs.getBoolean(1)) {
                return false;
              }
            }
          }
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select coalesce(n_mod_since_analyze, 0) from pg_stat_user_tables"
                      + " where relid = 'tasks'::regclass")) {
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next() || rs.getLong(1) < changedRows) {
                return false;
              }
            }
          }
          try (Statement st = c.createStatement()) {
            st.execute("analyze tasks");
          }
          return true;
        });
  }

  private static final long ANALYZE_LOCK = 0x7472616e73616e61L; // "transana"

  /**
   * Queued tasks announced longer ago than {@code olderThan} and still unclaimed: their doorbell
   * may be lost (a topic recreated, an offset skipped), so ring again. A duplicate is harmless.
   */
  public int reannounceStale(Duration olderThan, int limit) {
    int stale =
        pass(
                "re-announce stale tasks",
                "t.state = 'queued' and t.announced_at < ? order by t.announced_at",
                now -> now.minus(olderThan),
                limit,
                (c, t, now) -> {
                  updateUnfenced(c, t.id(), "announced_at = ?", Timestamp.from(now));
                  outbox.doorbell(c, t);
                })
            .size();
    if (stale > 0) {
      LOG.infof("re-announced %d queued tasks not claimed within %s", stale, olderThan);
    }
    return stale;
  }

  /** What a pass does to each task it locked, in the pass's transaction. */
  @FunctionalInterface
  private interface Action {
    void apply(Connection c, TaskRow task, Instant now) throws SQLException;
  }

  /**
   * One pass of the reaper: locks up to {@code limit} tasks matching {@code where} (its one
   * parameter is {@code at} of now), skipping those another replica holds, applies {@code action}
   * to each in one transaction, and answers them.
   */
  private List<TaskRow> pass(
      String what, String where, UnaryOperator<Instant> at, int limit, Action action) {
    return tx.run(
        what,
        c -> {
          Instant now = clock.instant();
          List<UnreadableTask> bad = new ArrayList<>();
          List<TaskRow> tasks =
              selectForUpdate(c, where, Timestamp.from(at.apply(now)), limit, bad);
          // A row this version cannot read fails alone; the pass goes on with the others.
          unreadable.fail(c, bad, now);
          for (TaskRow t : tasks) {
            action.apply(c, t, now);
          }
          return tasks;
        });
  }
}
