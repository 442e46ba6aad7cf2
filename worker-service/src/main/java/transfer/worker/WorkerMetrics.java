package transfer.worker;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import transfer.contracts.Metric;
import transfer.contracts.TaskType;

/**
 * The worker's metrics ({@link Metric.Service#WORKER}). What runs per chunk of a body is one {@link
 * Counter#increment(double)} ({@link #bytes}); everything else happens once per request, attempt or
 * claim. Label values are bounded: task types, outcomes, the stable error codes, and at most {@link
 * #MAX_HOSTS} host names.
 */
@Singleton
public class WorkerMetrics {
  /** The attempts' {@code outcome} label values. */
  public static final String COMPLETED = "completed";

  /** Failed, and queued again after a backoff. */
  public static final String RETRY = "retry";

  /** Failed for good (the task is final). */
  public static final String FAILED = "failed";

  /** Stopped without writing: the task was no longer this attempt's (see {@link #leaseLost}). */
  public static final String FENCED = "fenced";

  /** Given back to the queue by a graceful stop. */
  public static final String HANDED_BACK = "handed_back";

  /** The ledger could not record the failure; the lease expires and the reaper takes over. */
  public static final String UNRECORDED = "unrecorded";

  /** The {@code error_code} of an attempt that had no error. */
  public static final String NO_ERROR = "none";

  /** Lease lost: a fenced write touched no row (taken over, canceled, suspended). */
  public static final String SUPERSEDED = "superseded";

  /** Lease lost: the worker could not renew it in time and stopped by itself. */
  public static final String NOT_RENEWED = "not_renewed";

  /** Host names with a series of their own; connections to further hosts count under "other". */
  public static final int MAX_HOSTS = 50;

  public static final String OTHER_HOSTS = "other";

  private final MeterRegistry registry;
  private final Counter downloaded;
  private final Counter uploaded;
  private final Timer claim;
  private final DistributionSummary ledgerGroup;
  private final Timer ledgerFlush;

  /** In-use counts by label value, each with its gauge; an entry goes when its count is 0. */
  private final Map<String, HostGauge> hosts = new HashMap<>(); // guarded by itself

  private record HostGauge(AtomicInteger inUse, Gauge gauge) {}

  public WorkerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.downloaded = bytesCounter(TaskType.DOWNLOAD);
    this.uploaded = bytesCounter(TaskType.UPLOAD);
    this.claim =
        Timer.builder(Metric.WORKER_CLAIM.meterName())
            .description(Metric.WORKER_CLAIM.description())
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(100_000))
            .maximumExpectedValue(Duration.ofSeconds(10))
            .register(registry);
    this.ledgerGroup =
        DistributionSummary.builder(Metric.WORKER_LEDGER_GROUP.meterName())
            .description(Metric.WORKER_LEDGER_GROUP.description())
            .publishPercentileHistogram()
            .minimumExpectedValue(1.0)
            .maximumExpectedValue(1000.0)
            .register(registry);
    this.ledgerFlush =
        Timer.builder(Metric.WORKER_LEDGER_FLUSH.meterName())
            .description(Metric.WORKER_LEDGER_FLUSH.description())
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(100_000))
            .maximumExpectedValue(Duration.ofSeconds(10))
            .register(registry);
    // Series that exist from the start at 0, so that rate() and alerts see the first increase.
    for (String reason : new String[] {SUPERSEDED, NOT_RENEWED}) {
      leaseLostCounter(reason);
    }
    for (TaskType type : TaskType.values()) {
      attemptCounter(type, COMPLETED, NO_ERROR);
    }
  }

  /** The gauges of this worker's slots and the attempts running in them. */
  public void transfers(int slots, Supplier<Number> running) {
    Gauge.builder(Metric.WORKER_SLOTS.meterName(), () -> slots)
        .description(Metric.WORKER_SLOTS.description())
        .register(registry);
    Gauge.builder(Metric.WORKER_TRANSFERS_RUNNING.meterName(), running)
        .description(Metric.WORKER_TRANSFERS_RUNNING.description())
        .strongReference(true)
        .register(registry);
  }

  /** The bytes counter of a direction: increment it by each chunk as it moves. */
  public Counter bytes(TaskType type) {
    return type == TaskType.UPLOAD ? uploaded : downloaded;
  }

  /** Counts an ended attempt; {@code errorCode} null when it had no error. */
  public void attemptEnded(TaskType type, String outcome, String errorCode) {
    attemptCounter(type, outcome, errorCode == null ? NO_ERROR : errorCode).increment();
  }

  public void leaseLost(String reason) {
    leaseLostCounter(reason).increment();
  }

  public Timer claim() {
    return claim;
  }

  /** One group commit of the ledger writer: its writes, and how long it took. */
  public void ledgerGroup(int writes, long duration, TimeUnit unit) {
    ledgerGroup.record(writes);
    ledgerFlush.record(duration, unit);
  }

  /**
   * Doorbells parked now: their sessions had nothing claimable at the last claim, and they wait for
   * a freed slot or the retry.
   */
  public void parkedDoorbells(Supplier<Number> parked) {
    Gauge.builder(Metric.WORKER_DOORBELLS_PARKED.meterName(), parked)
        .description(Metric.WORKER_DOORBELLS_PARKED.description())
        .register(registry);
  }

  /**
   * A request of an attempt goes to {@code host}; answers the label value it was counted under, to
   * be given back to {@link #connectionClosed}.
   */
  public String connectionOpened(String host) {
    synchronized (hosts) {
      String key = host;
      if (!hosts.containsKey(host)) {
        int named = hosts.size() - (hosts.containsKey(OTHER_HOSTS) ? 1 : 0);
        key = named < MAX_HOSTS ? host : OTHER_HOSTS;
      }
      hosts.computeIfAbsent(key, this::hostGauge).inUse().incrementAndGet();
      return key;
    }
  }

  /** That request is over; the host's series goes when it has none left. Null is ignored. */
  public void connectionClosed(String key) {
    if (key == null) {
      return;
    }
    synchronized (hosts) {
      HostGauge g = hosts.get(key);
      if (g != null && g.inUse().decrementAndGet() <= 0) {
        hosts.remove(key);
        registry.remove(g.gauge());
      }
    }
  }

  private HostGauge hostGauge(String key) {
    AtomicInteger inUse = new AtomicInteger();
    Gauge gauge =
        Gauge.builder(Metric.WORKER_CONNECTIONS.meterName(), inUse, AtomicInteger::get)
            .description(Metric.WORKER_CONNECTIONS.description())
            .tag("host", key)
            .strongReference(true)
            .register(registry);
    return new HostGauge(inUse, gauge);
  }

  private Counter bytesCounter(TaskType type) {
    return Counter.builder(Metric.WORKER_BYTES.meterName())
        .description(Metric.WORKER_BYTES.description())
        .baseUnit(Metric.WORKER_BYTES.baseUnit())
        .tag("direction", type.wire())
        .register(registry);
  }

  private Counter attemptCounter(TaskType type, String outcome, String errorCode) {
    return Counter.builder(Metric.WORKER_ATTEMPTS.meterName())
        .description(Metric.WORKER_ATTEMPTS.description())
        .tag("type", type.wire())
        .tag("outcome", outcome)
        .tag("error_code", errorCode)
        .register(registry);
  }

  private Counter leaseLostCounter(String reason) {
    return Counter.builder(Metric.WORKER_LEASES_LOST.meterName())
        .description(Metric.WORKER_LEASES_LOST.description())
        .tag("reason", reason)
        .register(registry);
  }
}
