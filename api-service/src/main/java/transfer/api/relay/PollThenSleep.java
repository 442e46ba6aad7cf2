package transfer.api.relay;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.OptionalLong;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import transfer.ledger.EventWakeups;

/**
 * When a loop that the ledger's writers wake (the sequencer, the relay's lanes) looks again: at
 * once after a full pass, after {@code busyPoll} after a pass that found work (so that under load
 * each pass takes what many writers committed), after the shorter {@code lingerPoll} after a pass
 * that found nothing (so that a lone piece of work waits little), and after {@code linger} without
 * work it falls asleep until a notification (or {@code idleWait}) wakes it.
 *
 * <p>Asleep, it holds its advisory lock ({@link EventWakeups}) on its listening connection, and
 * only then do writers notify: an awake loop polls, and no writer pays for a NOTIFY (PostgreSQL
 * serialises the commits of notifying transactions on one lock held through their WAL flush). The
 * lock is taken without waiting: while a writer is between its insert and its commit (it holds the
 * lock shared) the loop stays awake, and once the lock is taken the caller looks once more, so an
 * event committed just before the loop fell asleep is not left for the next wake-up. A loop whose
 * waker notifies whether it sleeps or not (the sequencer, once per round, wakes the events lane)
 * sleeps without a lock.
 *
 * <p>Used by one thread; the connection is the loop's own and stays open while it runs.
 */
final class PollThenSleep {
  /** How the loop pauses: {@link #SLEEP} but in a test. */
  @FunctionalInterface
  interface Pause {
    void pause(long ms);
  }

  /** The pause of the relay and the sequencer: {@link Thread#sleep}. */
  static final Pause SLEEP = PollThenSleep::sleep;

  private final Connection connection;
  private final PGConnection pg;
  private final OptionalLong lockKey;
  private final long busyPollMs;
  private final long lingerPollMs;
  private final long lingerMs;
  private final int idleWaitMs;
  private final Pause pause;
  private boolean asleep;
  private long lastWork = System.nanoTime();

  PollThenSleep(
      Connection connection,
      OptionalLong lockKey,
      long busyPollMs,
      long lingerPollMs,
      long lingerMs,
      long idleWaitMs,
      Pause pause)
      throws SQLException {
    this.pause = pause;
    this.connection = connection;
    this.pg = connection.unwrap(PGConnection.class);
    this.lockKey = lockKey;
    this.busyPollMs = busyPollMs;
    this.lingerPollMs = lingerPollMs;
    this.lingerMs = lingerMs;
    this.idleWaitMs = (int) Math.max(1, idleWaitMs);
  }

  /** True while the loop sleeps (it holds its lock; writers notify). */
  boolean asleep() {
    return asleep;
  }

  /**
   * After a pass that found work: awake (writers stop notifying), and a short pause unless the pass
   * was {@code full} (more is waiting), so that the next pass takes what committed meanwhile.
   */
  void worked(boolean full) throws SQLException {
    lastWork = System.nanoTime();
    if (asleep) {
      wake();
    }
    drain();
    if (!full) {
      pause(busyPollMs);
    }
  }

  /**
   * After a pass that found nothing: asleep, waits for a notification (or {@code idleWait}); awake,
   * pauses ({@code lingerPoll}), or after {@code linger} without work takes the lock and returns at
   * once for the last look. Answers true when a notification woke it (a writer committed work: the
   * caller's next pass need not look before it reads). Throws when the connection is broken.
   */
  boolean idle() throws SQLException {
    if (asleep) {
      PGNotification[] got = pg.getNotifications(idleWaitMs);
      if (got != null && got.length > 0) {
        wake();
        lastWork = System.nanoTime();
        return true;
      }
      return false;
    }
    if (System.nanoTime() - lastWork < lingerMs * 1_000_000 || !tryLock()) {
      drain();
      pause(lingerPollMs);
      return false;
    }
    asleep = true;
    // Notifications sent while awake are stale: the caller's next pass sees what they announced.
    pg.getNotifications();
    return false;
  }

  /**
   * Awake again after a pass that failed: writers stop notifying (a loop whose passes fail for
   * long, a Kafka outage, would otherwise make every writer pay for a NOTIFY meanwhile).
   */
  void stayAwake() throws SQLException {
    if (asleep) {
      wake();
    }
    lastWork = System.nanoTime();
  }

  /**
   * Drops the notifications that came while the loop was awake (its passes see what they
   * announced): a loop that never falls asleep (steady work, or a channel notified whether it
   * sleeps or not) would otherwise collect them without end in the driver, or on the server. Reads
   * only what already arrived; sends nothing.
   */
  private void drain() throws SQLException {
    pg.getNotifications();
  }

  private boolean tryLock() throws SQLException {
    if (lockKey.isEmpty()) {
      return true;
    }
    try (PreparedStatement ps = connection.prepareStatement("select pg_try_advisory_lock(?)")) {
      ps.setLong(1, lockKey.getAsLong());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  private void wake() throws SQLException {
    asleep = false;
    if (lockKey.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement("select pg_advisory_unlock(?)")) {
      ps.setLong(1, lockKey.getAsLong());
      ps.execute();
    }
  }

  private void pause(long ms) {
    if (ms > 0) {
      pause.pause(ms);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
