package transfer.api.relay;

import io.agroal.api.AgroalDataSource;
import io.quarkus.logging.Log;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;
import transfer.api.ApiConfig;
import transfer.api.events.EventSignal;

/**
 * A loop that the ledger's writers wake: the sequencer, and each lane of the relay. It runs passes
 * while they find work and sleeps on its channel between them ({@link PollThenSleep}), on a
 * listening connection of its own.
 *
 * <p>Two kinds of failure, kept apart. A pass that fails (the ledger or Kafka refused it) is the
 * loop's own trouble: it is logged, saying what waits meanwhile, and tried again after {@link
 * #RETRY}, on the same connection, while the other loops go on. A failure of the listening
 * connection ends {@link #runOn}: {@link #run} then takes another from the pool, and the relay's
 * leader, whose events lane listens on the connection that holds its leadership, stops leading. A
 * connection cut without a reset (a partition) would wait in silence, so the loop probes it every
 * {@link #PROBE}.
 */
final class WokenLoop implements Runnable {
  static final Duration RETRY = Duration.ofSeconds(2);
  static final Duration PROBE = Duration.ofSeconds(10);

  /** One pass of the loop's work. */
  interface Pass {
    /** Whether a pass would find anything: one cheap statement, after a pass that found nothing. */
    boolean look() throws Exception;

    /** One pass; answers how much it took (a pass that took {@code batch} was full). */
    int run() throws Exception;
  }

  private final String name;
  private final String waiting;
  private final AgroalDataSource dataSource;
  private final ApiConfig.Outbox config;
  private final String channel;
  private final OptionalLong sleepLock;
  private final Pass pass;
  private final BooleanSupplier go;

  /** Since when its passes have failed without one that went through; 0 while they go through. */
  private volatile long failingSince;

  /**
   * @param name the loop's name in log lines (and its thread's)
   * @param waiting what waits while its passes fail, for the operator
   * @param channel the channel that wakes it asleep
   * @param sleepLock the advisory lock it holds asleep, which writers' triggers look at (none when
   *     its waker notifies anyway)
   * @param go whether to go on
   */
  WokenLoop(
      String name,
      String waiting,
      AgroalDataSource dataSource,
      ApiConfig.Outbox config,
      String channel,
      OptionalLong sleepLock,
      Pass pass,
      BooleanSupplier go) {
    this.name = name;
    this.waiting = waiting;
    this.dataSource = dataSource;
    this.config = config;
    this.channel = channel;
    this.sleepLock = sleepLock;
    this.pass = pass;
    this.go = go;
  }

  String name() {
    return name;
  }

  /** How long its passes have failed without one that went through (zero while they go). */
  Duration failingFor() {
    long since = failingSince;
    return since == 0 ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - since);
  }

  /** Runs on connections of its own until stopped; one that fails is replaced after a pause. */
  @Override
  public void run() {
    while (go.getAsBoolean()) {
      try (Connection c = dataSource.getConnection()) {
        try {
          runOn(c);
        } finally {
          EventSignal.reset(c);
        }
      } catch (Exception e) {
        if (go.getAsBoolean()) {
          Log.warnf(
              "%s: its listening connection to the ledger failed (%s); %s; connecting again in %d s",
              name, e.getMessage(), waiting, RETRY.toSeconds());
          sleep(RETRY);
        }
      }
    }
  }

  /** Runs on {@code c}, which it listens on, until stopped; throws when {@code c} fails. */
  void runOn(Connection c) throws SQLException {
    EventSignal.listenTo(c, channel);
    PollThenSleep wakeups =
        new PollThenSleep(
            c,
            sleepLock,
            config.busyPoll().toMillis(),
            config.lingerPoll().toMillis(),
            config.linger().toMillis(),
            config.idlePoll().toMillis(),
            PollThenSleep.SLEEP);
    int batch = config.batchSize();
    boolean found = true;
    long probedAt = System.nanoTime();
    while (go.getAsBoolean()) {
      if (System.nanoTime() - probedAt >= PROBE.toNanos()) {
        if (!c.isValid((int) PROBE.toSeconds())) {
          throw new SQLException("the connection does not answer");
        }
        probedAt = System.nanoTime();
      }
      int taken;
      try {
        // After a pass that found nothing, a one-statement look first (most idle polls find
        // nothing); after one that found work, or a wake-up by a writer, the pass itself.
        taken = found || pass.look() ? pass.run() : 0;
        failingSince = 0;
      } catch (Exception e) {
        if (failingSince == 0) {
          failingSince = System.nanoTime();
        }
        wakeups.stayAwake();
        if (go.getAsBoolean()) {
          Log.warnf("%s: %s; %s, trying again in %d s", name, e, waiting, RETRY.toSeconds());
          sleep(RETRY);
        }
        found = true;
        continue;
      }
      if (taken == 0) {
        found = wakeups.idle();
      } else {
        found = true;
        wakeups.worked(taken >= batch);
      }
    }
  }

  static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
