package transfer.contracts;

import java.util.List;

/**
 * The cluster's own metrics, served by each service on {@code /q/metrics} in Prometheus text
 * format, with the Micrometer name a service registers and the series Prometheus sees. Dashboards
 * and alerts are built on these names, so they are a contract like the topics: the services
 * register their meters by this list, their tests check that each is served under {@link
 * #series()}, and deploy's {@code GrafanaDashboardTest} checks the dashboard against it. Labels are
 * bounded: no task, session or tenant ids, no URLs.
 */
public enum Metric {
  // ------------------------------------------------ api-service: the ledger, read every few
  // seconds
  TASKS(
      Service.API,
      Kind.GAUGE,
      "transfer.tasks",
      null,
      List.of("state"),
      "Tasks not final, by state: queued, waiting, running, suspended."),
  QUEUE_OLDEST_AGE(
      Service.API,
      Kind.GAUGE,
      "transfer.queue.oldest.age",
      "seconds",
      List.of(),
      "How long the task queued longest has been queued (since it last became queued); 0 when"
          + " none is."),
  OUTBOX_PENDING(
      Service.API,
      Kind.GAUGE,
      "transfer.outbox.pending",
      null,
      List.of(),
      "Outbox rows (doorbells and events) not yet acknowledged by Kafka."),
  OUTBOX_PARKED(
      Service.API,
      Kind.COUNTER,
      "transfer.outbox.parked",
      null,
      List.of("lane"),
      "Records the relay gave up on (Kafka refused them transfer.outbox.park-after times while it"
          + " took others, or with an error no retry mends) and set aside in outbox_parked, by"
          + " lane: doorbells, events."),
  OUTBOX_OLDEST_AGE(
      Service.API,
      Kind.GAUGE,
      "transfer.outbox.oldest.age",
      "seconds",
      List.of(),
      "Age of the oldest outbox row not yet acknowledged by Kafka; 0 when the outbox is empty."),

  // ------------------------------------------------ api-service: the relay and the reaper
  OUTBOX_PUBLISH(
      Service.API,
      Kind.TIMER,
      "transfer.outbox.publish",
      null,
      List.of("topic"),
      "From the relay's send of an outbox row to Kafka's acknowledgement, by topic."),
  REAPER_TASKS(
      Service.API,
      Kind.COUNTER,
      "transfer.reaper.tasks",
      null,
      List.of("action"),
      "Tasks the reaper changed, by action: lease_expired_requeued, lease_expired_failed,"
          + " resource_timeout_failed, promoted, reannounced."),
  REAPER_STEP_FAILURES(
      Service.API,
      Kind.COUNTER,
      "transfer.reaper.step.failures",
      null,
      List.of("step"),
      "Reaper steps that failed (each is tried again on the next pass; the others go on), by"
          + " step: overdue, leases, promote, reannounce, object_reservations, analyze."),

  REQUESTS_SHED(
      Service.API,
      Kind.COUNTER,
      "transfer.api.requests.shed",
      null,
      List.of(),
      "Requests answered 503 overloaded at once, without being started, because the instance was"
          + " serving transfer.api.max-in-flight requests already."),
  SUBMIT_GROUPS(
      Service.API,
      Kind.COUNTER,
      "transfer.submit.groups",
      null,
      List.of(),
      "Transactions (and commits) that wrote concurrent single submits together (group commit)."),
  SUBMIT_GROUPED(
      Service.API,
      Kind.COUNTER,
      "transfer.submit.grouped",
      null,
      List.of(),
      "Single submits written by those transactions; divided by transfer_submit_groups_total,"
          + " the submits per commit."),

  // ------------------------------------------------ worker-service
  WORKER_TRANSFERS_RUNNING(
      Service.WORKER,
      Kind.GAUGE,
      "transfer.worker.transfers.running",
      null,
      List.of(),
      "Attempts running on this worker."),
  WORKER_SLOTS(
      Service.WORKER,
      Kind.GAUGE,
      "transfer.worker.slots",
      null,
      List.of(),
      "Transfers this worker runs at once at most (transfer.worker.slots)."),
  WORKER_BYTES(
      Service.WORKER,
      Kind.COUNTER,
      "transfer.worker.bytes",
      "bytes",
      List.of("direction"),
      "Bytes received from origins (download) or sent to targets (upload), as they move."),
  WORKER_ATTEMPTS(
      Service.WORKER,
      Kind.COUNTER,
      "transfer.worker.attempts",
      null,
      List.of("type", "outcome", "error_code"),
      "Attempts ended, by task type, outcome (completed, retry, failed, fenced, handed_back,"
          + " unrecorded) and the attempt's error code (none without one)."),
  WORKER_LEASES_LOST(
      Service.WORKER,
      Kind.COUNTER,
      "transfer.worker.leases.lost",
      null,
      List.of("reason"),
      "Attempts stopped because they no longer held their task: superseded (a fenced write touched"
          + " no row: the lease was taken over, or the task canceled or suspended) or not_renewed"
          + " (self-fenced after failing to renew)."),
  WORKER_CONNECTIONS(
      Service.WORKER,
      Kind.GAUGE,
      "transfer.worker.connections",
      null,
      List.of("host"),
      "Requests of running attempts in flight, by destination host name (each holds one"
          + " connection); a series goes when its host has none, hosts beyond the first 50 count"
          + " as other."),
  WORKER_CLAIM(
      Service.WORKER,
      Kind.TIMER,
      "transfer.worker.claim",
      null,
      List.of(),
      "Duration of one claim statement (the doorbells of a poll, or freed slots, at once)."),
  WORKER_DOORBELLS_PARKED(
      Service.WORKER,
      Kind.GAUGE,
      "transfer.worker.doorbells.parked",
      null,
      List.of(),
      "Doorbells of sessions that had nothing claimable at the last claim (at a limit), waiting"
          + " for a slot of this worker to free up or for the retry, instead of a claim each."),
  WORKER_LEDGER_GROUP(
      Service.WORKER,
      Kind.SUMMARY,
      "transfer.worker.ledger.group.size",
      null,
      List.of(),
      "Lease writes (heartbeats, completions, failures, hand-backs) of one group commit of the"
          + " worker's ledger writer: one transaction, one commit."),
  WORKER_LEDGER_FLUSH(
      Service.WORKER,
      Kind.TIMER,
      "transfer.worker.ledger.flush",
      null,
      List.of(),
      "Duration of one group commit of the worker's ledger writer: the directory syncs of its"
          + " downloads, its statements and its commit (a failed group's writes one by one"
          + " included).");

  /** Which service serves a metric. */
  public enum Service {
    API,
    WORKER
  }

  /** The Micrometer meter type. */
  public enum Kind {
    COUNTER,
    GAUGE,
    TIMER,
    /** A distribution summary with its histogram (no unit of time). */
    SUMMARY
  }

  private final Service service;
  private final Kind kind;
  private final String meterName;
  private final String baseUnit;
  private final List<String> labels;
  private final String description;

  Metric(
      Service service,
      Kind kind,
      String meterName,
      String baseUnit,
      List<String> labels,
      String description) {
    this.service = service;
    this.kind = kind;
    this.meterName = meterName;
    this.baseUnit = baseUnit;
    this.labels = labels;
    this.description = description;
  }

  public Service service() {
    return service;
  }

  public Kind kind() {
    return kind;
  }

  /** The name a service registers with Micrometer. */
  public String meterName() {
    return meterName;
  }

  /** The base unit given to Micrometer, or null. */
  public String baseUnit() {
    return baseUnit;
  }

  public List<String> labels() {
    return labels;
  }

  public String description() {
    return description;
  }

  /**
   * The Prometheus name, as Micrometer's Prometheus naming convention makes it: dots become
   * underscores, a base unit is appended, counters end in {@code _total} and timers in {@code
   * _seconds}. The services' tests read it back from {@code /q/metrics}, so a change of convention
   * fails there.
   */
  public String prometheusName() {
    String base = meterName.replace('.', '_');
    if (baseUnit != null && !base.endsWith("_" + baseUnit)) {
      base += "_" + baseUnit;
    }
    return switch (kind) {
      case COUNTER -> base + "_total";
      case TIMER -> base + "_seconds";
      case GAUGE, SUMMARY -> base;
    };
  }

  /** Every series name this metric is exported as (a timer's or summary's histogram has four). */
  public List<String> series() {
    String n = prometheusName();
    return kind == Kind.TIMER || kind == Kind.SUMMARY
        ? List.of(n + "_bucket", n + "_count", n + "_sum", n + "_max")
        : List.of(n);
  }

  /** The metrics one service serves. */
  public static List<Metric> of(Service service) {
    return java.util.Arrays.stream(values()).filter(m -> m.service == service).toList();
  }
}
