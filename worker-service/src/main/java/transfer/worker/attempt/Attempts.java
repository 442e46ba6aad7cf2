package transfer.worker.attempt;

import io.opentelemetry.context.Context;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;
import transfer.contracts.TaskType;
import transfer.ledger.Claim;
import transfer.worker.storage.DownloadStore;
import transfer.worker.storage.UploadSources;

/**
 * Makes the attempts of claimed tasks, each part with what it needs of the worker: the lease's
 * terms and writer, where telemetry goes, how requests go out, storage.
 */
final class Attempts {
  private final Vertx vertx;
  private final LeaseWriter leases;
  private final LeaseTimer.Terms terms;
  private final Clock clock;
  private final AttemptTelemetry.Sinks sinks;
  private final Outbound outbound;
  private final UploadSources sources;
  private final DownloadStore downloads;
  private final Duration checkpointInterval;
  private final Allowance.Terms room;

  /**
   * @param checkpointInterval how often a download forces what it wrote, for its next heartbeat to
   *     record as durable ({@code transfer.worker.checkpoint-interval})
   * @param room how downloads reserve room in their tenants' bytes-stored quotas
   */
  Attempts(
      Vertx vertx,
      LeaseWriter leases,
      LeaseTimer.Terms terms,
      Clock clock,
      AttemptTelemetry.Sinks sinks,
      Outbound outbound,
      UploadSources sources,
      DownloadStore downloads,
      Duration checkpointInterval,
      Allowance.Terms room) {
    this.vertx = vertx;
    this.leases = leases;
    this.terms = terms;
    this.clock = clock;
    this.sinks = sinks;
    this.outbound = outbound;
    this.sources = sources;
    this.downloads = downloads;
    this.checkpointInterval = checkpointInterval;
    this.room = room;
  }

  /** The attempt of a task claimed without a doorbell: its span continues the task's context. */
  Attempt of(Claim claim) {
    return of(claim, AttemptTelemetry.storedContext(claim.task()));
  }

  /**
   * The attempt of {@code claim}, not started; its span is a child of {@code parent} (the
   * doorbell's CONSUMER span, or the task's stored context).
   */
  Attempt of(Claim claim, Context parent) {
    Function<Attempt, Transfer> transfer =
        claim.task().type() == TaskType.UPLOAD
            ? a -> new Upload(a, outbound, sources, clock)
            : a -> new Download(a, outbound, downloads, checkpointInterval, room, clock);
    return new Attempt(
        claim,
        new VertxScheduler(vertx),
        leases,
        terms,
        clock,
        new AttemptTelemetry(claim.task(), claim.epoch(), sinks, parent),
        transfer);
  }
}
