package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The database's clock, read on this host: every time the ledger writes or compares (lease
 * expiries, deadlines, backoffs, retention, quota reservations) is the database's {@code
 * clock_timestamp()}, whatever this host's clock says. A worker whose clock is a minute off
 * therefore writes leases that expire when the reaper, on another host, expects them to.
 *
 * <p>It reads the database's time now and then ({@code every}, 30 s in the services) and counts
 * from there with this host's monotonic clock, so a step of this host's wall clock (NTP, a
 * suspended VM) changes nothing. A reading takes three round trips and keeps the shortest, placing
 * the database's time at its middle: the error is at most half that round trip, a millisecond on a
 * LAN. Until the first reading succeeds (the database is not up yet) it answers {@code local}'s
 * time; a failed reading keeps the last one. Asking the database for {@code now()} in every
 * statement would do the same for a round trip per transaction; this costs three every 30 s.
 */
public final class DatabaseClock extends Clock implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(DatabaseClock.class);

  /** A skew from this host's clock worth an operator's warning. */
  private static final Duration NOTABLE_SKEW = Duration.ofSeconds(1);

  private final DataSource dataSource;
  private final Clock local;
  private final ScheduledExecutorService timer;

  /** The database's time at a monotonic instant of this host; null before the first reading. */
  private record Anchor(Instant database, long nanos) {}

  private volatile Anchor anchor;
  private volatile Duration lastSkewWarned = Duration.ZERO;

  private DatabaseClock(DataSource dataSource, Clock local) {
    this.dataSource = dataSource;
    this.local = local;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "ledger-clock");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Reads the database's time once now (a failure is logged; {@code local} answers until a reading
   * succeeds), then again every {@code every}.
   */
  public static DatabaseClock start(DataSource dataSource, Clock local, Duration every) {
    DatabaseClock clock = new DatabaseClock(dataSource, local);
    clock.read();
    long ms = every.toMillis();
    clock.timer.scheduleWithFixedDelay(clock::read, ms, ms, TimeUnit.MILLISECONDS);
    return clock;
  }

  @Override
  public Instant instant() {
    Anchor a = anchor;
    if (a == null) {
      return local.instant();
    }
    return a.database().plusNanos(System.nanoTime() - a.nanos());
  }

  /** How far the database's clock is ahead of this host's (negative: behind), as last read. */
  public Duration skew() {
    return Duration.between(local.instant(), instant());
  }

  /** Whether the database's time was read at least once. */
  public boolean synced() {
    return anchor != null;
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("the database clock is UTC only");
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }

  /** One reading: the best of three round trips; a failure keeps the last one. */
  void read() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("select clock_timestamp()")) {
      Anchor best = null;
      long bestRtt = Long.MAX_VALUE;
      for (int i = 0; i < 3; i++) {
        long sent = System.nanoTime();
        Instant db;
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          db = rs.getObject(1, OffsetDateTime.class).toInstant();
        }
        long rtt = System.nanoTime() - sent;
        if (rtt < bestRtt) {
          bestRtt = rtt;
          best = new Anchor(db, sent + rtt / 2);
        }
      }
      if (!c.getAutoCommit()) {
        c.rollback();
      }
      anchor = best;
      warnOfSkew();
    } catch (SQLException | RuntimeException e) {
      LOG.warnf(
          "cannot read the database's clock (%s); the ledger's times follow %s until a reading"
              + " succeeds (the next in a moment)",
          e.getMessage(), anchor == null ? "this host's clock" : "the last reading");
    }
  }

  private void warnOfSkew() {
    Duration skew = skew();
    if (skew.abs().compareTo(NOTABLE_SKEW) >= 0
        && skew.minus(lastSkewWarned).abs().compareTo(NOTABLE_SKEW) >= 0) {
      lastSkewWarned = skew;
      LOG.warnf(
          "this host's clock is %d ms %s the database's; leases, deadlines and backoffs follow the"
              + " database's clock, but logs and this host's other programs do not: check its time"
              + " synchronisation (NTP)",
          skew.abs().toMillis(), skew.isNegative() ? "ahead of" : "behind");
    }
  }
}
