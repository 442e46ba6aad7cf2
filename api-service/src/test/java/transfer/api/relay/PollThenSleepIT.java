package transfer.api.relay;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.testkit.TestInfra;

/**
 * When the relay's and the sequencer's loop pauses, and when it sleeps, on a real PostgreSQL: the
 * pauses are recorded instead of slept, so nothing here depends on timing.
 */
class PollThenSleepIT {
  private static final long BUSY = 25;
  private static final long LINGER_POLL = 5;
  private static final String CHANNEL = "poll_then_sleep_it";

  private final long lockKey = ThreadLocalRandom.current().nextLong();
  private final List<Long> pauses = new ArrayList<>();
  private Connection loop;
  private Connection other;

  @BeforeEach
  void connect() throws SQLException {
    TestInfra infra = TestInfra.shared();
    loop = DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
    other = DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
  }

  @AfterEach
  void close() throws SQLException {
    loop.close();
    other.close();
  }

  private PollThenSleep loop(long lingerMs) throws SQLException {
    return new PollThenSleep(
        loop, OptionalLong.of(lockKey), BUSY, LINGER_POLL, lingerMs, 5_000, pauses::add);
  }

  @Test
  void aPassThatFoundWorkPausesTheBusyPollAndAFullOneNotAtAll() throws SQLException {
    PollThenSleep p = loop(60_000);

    p.worked(false);
    p.worked(true);

    assertThat(pauses).containsExactly(BUSY);
    assertThat(p.asleep()).isFalse();
  }

  @Test
  void aPassThatFoundNothingWhileLingeringLooksAgainSoonAndStaysAwake() throws SQLException {
    PollThenSleep p = loop(60_000);
    p.worked(false);
    pauses.clear();

    assertThat(p.idle()).isFalse();
    assertThat(p.idle()).isFalse();

    assertThat(pauses).containsExactly(LINGER_POLL, LINGER_POLL);
    assertThat(p.asleep()).isFalse();
    assertThat(lockFree()).isTrue();
  }

  @Test
  void afterTheLingerItSleepsHoldingItsLockAndANotificationWakesIt() throws SQLException {
    PollThenSleep p = loop(0);
    try (Statement s = loop.createStatement()) {
      s.execute("listen " + CHANNEL);
    }

    assertThat(p.idle()).isFalse();
    assertThat(p.asleep()).isTrue();
    assertThat(pauses).isEmpty();
    assertThat(lockFree()).isFalse();

    try (Statement s = other.createStatement()) {
      s.execute("notify " + CHANNEL);
    }
    assertThat(p.idle()).isTrue();
    assertThat(p.asleep()).isFalse();
    assertThat(lockFree()).isTrue();
  }

  @Test
  void aFailedPassWakesItSoWritersStopNotifying() throws SQLException {
    PollThenSleep p = loop(0);
    assertThat(p.idle()).isFalse();
    assertThat(p.asleep()).isTrue();
    assertThat(lockFree()).isFalse();

    p.stayAwake();

    assertThat(p.asleep()).isFalse();
    assertThat(lockFree()).isTrue();
  }

  @Test
  void withoutALockItSleepsAfterTheLingerHoldingNothingAndANotificationWakesIt()
      throws SQLException {
    PollThenSleep p =
        new PollThenSleep(loop, OptionalLong.empty(), BUSY, LINGER_POLL, 0, 5_000, pauses::add);
    try (Statement s = loop.createStatement()) {
      s.execute("listen " + CHANNEL);
    }

    assertThat(p.idle()).isFalse();
    assertThat(p.asleep()).isTrue();
    assertThat(heldLocks()).isZero();

    try (Statement s = other.createStatement()) {
      s.execute("notify " + CHANNEL);
    }
    assertThat(p.idle()).isTrue();
    assertThat(p.asleep()).isFalse();
    assertThat(heldLocks()).isZero();
  }

  /** The advisory locks the loop's session holds. */
  private long heldLocks() throws SQLException {
    try (Statement s = loop.createStatement();
        ResultSet rs =
            s.executeQuery(
                "select count(*) from pg_locks where locktype = 'advisory'"
                    + " and pid = pg_backend_pid()")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Whether another session could take the loop's lock (it does not keep it). */
  private boolean lockFree() throws SQLException {
    try (PreparedStatement ps =
        other.prepareStatement("select pg_try_advisory_lock(?) and pg_advisory_unlock(?)")) {
      ps.setLong(1, lockKey);
      ps.setLong(2, lockKey);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }
}
