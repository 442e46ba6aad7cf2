package transfer.api.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.logging.Log;
import io.quarkus.runtime.Startup;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import transfer.contracts.Metric;
import transfer.contracts.TaskState;
import transfer.contracts.Topics;
import transfer.ledger.QueueStatistics;

/**
 * The api-service's metrics ({@link Metric.Service#API}). The queue's gauges read a snapshot of the
 * ledger ({@link QueueStatistics#queueStats}) taken every {@code transfer.metrics.refresh} (5 s) by
 * every replica, so a scrape never waits for the database and many scrapers cost one query; the
 * ages are computed at the scrape from the snapshot's instants, so they keep growing between two
 * reads. While the ledger cannot be read the gauges are NaN, not the last values.
 */
@Singleton
@Startup
public class ApiMetrics {
  /** The reaper's {@code action} label values. */
  public static final String LEASE_EXPIRED_REQUEUED = "lease_expired_requeued";

  public static final String LEASE_EXPIRED_FAILED = "lease_expired_failed";
  public static final String RESOURCE_TIMEOUT_FAILED = "resource_timeout_failed";
  public static final String PROMOTED = "promoted";
  public static final String REANNOUNCED = "reannounced";

  /** The relay's lanes, as {@code transfer_outbox_parked_total} labels them. */
  public static final List<String> OUTBOX_LANES = List.of("doorbells", "events");

  /** The reaper's steps, as {@code transfer_reaper_step_failures_total} labels them. */
  static final List<String> REAPER_STEPS =
      List.of("overdue", "leases", "promote", "reannounce", "object_reservations", "analyze");

  static final List<String> REAPER_ACTIONS =
      List.of(
          LEASE_EXPIRED_REQUEUED,
          LEASE_EXPIRED_FAILED,
          RESOURCE_TIMEOUT_FAILED,
          PROMOTED,
          REANNOUNCED);

  static final List<TaskState> OPEN_STATES =
      List.of(TaskState.QUEUED, TaskState.WAITING, TaskState.RUNNING, TaskState.SUSPENDED);

  private final QueueStatistics queueStatistics;
  private final Clock clock;
  private final MeterRegistry registry;
  private final Map<String, Counter> reaper = new ConcurrentHashMap<>();
  private final Map<String, Counter> reaperSteps = new ConcurrentHashMap<>();
  private final Map<String, Timer> publish = new ConcurrentHashMap<>();
  private final Map<String, Counter> parked = new ConcurrentHashMap<>();
  private final Counter submitGroups;
  private final Counter requestsShed;
  private final Counter submitsGrouped;

  /** The last snapshot; null before the first read and after a failed one. */
  private volatile QueueStatistics.QueueStats stats;

  public ApiMetrics(QueueStatistics queueStatistics, Clock clock, MeterRegistry registry) {
    this.queueStatistics = queueStatistics;
    this.clock = clock;
    this.registry = registry;
    for (TaskState s : OPEN_STATES) {
      gauge(Metric.TASKS, m -> m.tasks(s)).tag("state", s.wire()).register(registry);
    }
    gauge(Metric.QUEUE_OLDEST_AGE, ApiMetrics::queueAgeSeconds).register(registry);
    gauge(Metric.OUTBOX_PENDING, ApiMetrics::outboxRows).register(registry);
    gauge(Metric.OUTBOX_OLDEST_AGE, ApiMetrics::outboxAgeSeconds).register(registry);
    // Every series exists from the start at 0, so that rate() and alerts see the first increase.
    for (String action : REAPER_ACTIONS) {
      reaperCounter(action);
    }
    for (String step : REAPER_STEPS) {
      reaperStepCounter(step);
    }
    for (String lane : OUTBOX_LANES) {
      parkedCounter(lane);
    }
    publishTimer(Topics.TASKS);
    publishTimer(Topics.EVENTS);
    submitGroups = counter(Metric.SUBMIT_GROUPS).register(registry);
    requestsShed = counter(Metric.REQUESTS_SHED).register(registry);
    submitsGrouped = counter(Metric.SUBMIT_GROUPED).register(registry);
  }

  private static Counter.Builder counter(Metric metric) {
    return Counter.builder(metric.meterName()).description(metric.description());
  }

  /** Counts a transaction that wrote {@code submits} single submits together (group commit). */
  public void submitGroup(int submits) {
    submitGroups.increment();
    submitsGrouped.increment(submits);
  }

  private Gauge.Builder<ApiMetrics> gauge(
      Metric metric, java.util.function.ToDoubleFunction<ApiMetrics> value) {
    return Gauge.builder(metric.meterName(), this, value)
        .description(metric.description())
        .baseUnit(metric.baseUnit())
        .strongReference(true);
  }

  @Scheduled(
      every = "${transfer.metrics.refresh:5s}",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void refresh() {
    try {
      stats = queueStatistics.queueStats();
    } catch (RuntimeException e) {
      stats = null;
      Log.debugf("metrics: cannot read the queue (%s); its gauges are NaN until the next read", e);
    }
  }

  /** Counts tasks the reaper changed ({@code n} may be 0). */
  public void reaped(String action, int n) {
    if (n > 0) {
      reaperCounter(action).increment(n);
    }
  }

  /** Counts a request answered 503 overloaded without being started. */
  public void shed() {
    requestsShed.increment();
  }

  /** Counts a record the relay parked ({@code lane}: doorbells or events). */
  public void parked(String lane) {
    parkedCounter(lane).increment();
  }

  private Counter parkedCounter(String lane) {
    return labelled(parked, Metric.OUTBOX_PARKED, "lane", lane);
  }

  /** Counts a reaper step that failed ({@code step}: one of a handful of fixed names). */
  public void reaperStepFailed(String step) {
    reaperStepCounter(step).increment();
  }

  private Counter reaperStepCounter(String step) {
    return labelled(reaperSteps, Metric.REAPER_STEP_FAILURES, "step", step);
  }

  /** The timer of publishes to {@code topic}, from the send to Kafka's acknowledgement. */
  public Timer publishTimer(String topic) {
    return publish.computeIfAbsent(
        topic,
        t ->
            Timer.builder(Metric.OUTBOX_PUBLISH.meterName())
                .description(Metric.OUTBOX_PUBLISH.description())
                .tag("topic", t)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry));
  }

  private Counter reaperCounter(String action) {
    return labelled(reaper, Metric.REAPER_TASKS, "action", action);
  }

  /**
   * The counter of {@code metric} whose one label {@code label} is {@code value}, kept in {@code
   * by}.
   */
  private Counter labelled(Map<String, Counter> by, Metric metric, String label, String value) {
    return by.computeIfAbsent(
        value,
        v ->
            Counter.builder(metric.meterName())
                .description(metric.description())
                .tag(label, v)
                .register(registry));
  }

  private double tasks(TaskState state) {
    QueueStatistics.QueueStats s = stats;
    return s == null ? Double.NaN : s.tasks().getOrDefault(state, 0L);
  }

  private double queueAgeSeconds() {
    QueueStatistics.QueueStats s = stats;
    return s == null ? Double.NaN : ageSeconds(s.oldest().get(TaskState.QUEUED));
  }

  private double outboxRows() {
    QueueStatistics.QueueStats s = stats;
    return s == null ? Double.NaN : s.outboxRows();
  }

  private double outboxAgeSeconds() {
    QueueStatistics.QueueStats s = stats;
    return s == null ? Double.NaN : ageSeconds(s.oldestOutbox());
  }

  private double ageSeconds(Instant since) {
    if (since == null) {
      return 0;
    }
    // Another replica's clock may be a little ahead: never a negative age.
    return Math.max(0, Duration.between(since, clock.instant()).toMillis() / 1000.0);
  }
}
