package transfer.worker.attempt;

import io.opentelemetry.context.Context;
import io.quarkus.logging.Log;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import transfer.ledger.Claim;
import transfer.ledger.LeaseBatch;
import transfer.ledger.Reservations;
import transfer.worker.WorkerConfig;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.DownloadStore;
import transfer.worker.storage.FileStorage;
import transfer.worker.storage.StorageHealth;
import transfer.worker.storage.UploadSources;
import transfer.worker.trace.Tracing;

/**
 * The worker's transfer slots and the attempts running in them. A slot is reserved before a claim
 * and freed when the attempt has written its outcome, so the worker never holds more leases than it
 * can serve.
 */
@Singleton
public class Slots {
  private final AtomicInteger free;
  private final Map<String, Attempt> running = new ConcurrentHashMap<>();
  private final StorageHealth storageHealth;
  private final Attempts attempts;
  private final GroupCommit ledgerWriter;
  private volatile Runnable slotFreed = () -> {};

  public Slots(
      WorkerConfig config,
      Vertx vertx,
      OriginClients clients,
      LeaseBatch leases,
      Reservations reservations,
      FileStorage storage,
      DownloadStore downloads,
      UploadSources sources,
      Clock clock,
      Egress egress,
      WorkerMetrics metrics,
      Tracing tracing,
      StorageHealth storageHealth,
      @Named("workerId") String workerId) {
    this.storageHealth = storageHealth;
    WorkerConfig.Worker worker = config.worker();
    this.free = new AtomicInteger(worker.slots());
    metrics.transfers(worker.slots(), running::size);
    this.ledgerWriter =
        new GroupCommit(
            GroupCommit.Ledger.of(leases),
            storage.files()::syncDirectory,
            vertx,
            metrics,
            new GroupCommit.Settings(worker.ledger().batchWindow(), worker.ledger().batchMax()));
    this.attempts =
        new Attempts(
            vertx,
            ledgerWriter,
            new LeaseTimer.Terms(
                worker.leaseTtl(), worker.heartbeatInterval(), worker.selfFenceFraction()),
            clock,
            new AttemptTelemetry.Sinks(metrics, tracing.tracer(), workerId, storageHealth),
            new Outbound(
                clients, egress, config.fetch().maxBytes().asLongValue(), worker.maxRedirects()),
            sources,
            downloads,
            worker.checkpointInterval(),
            new Allowance.Terms(
                (lease, tenantId, wanted) ->
                    vertx.executeBlocking(
                        () ->
                            reservations.reserve(
                                lease,
                                tenantId,
                                wanted,
                                config.quota().bytesStored().asLongValue()),
                        false),
                config.quota().unreserved().asLongValue(),
                config.quota().reservationStep().asLongValue()));
  }

  /**
   * After the hand-backs (the shutdown's {@link #handBackAll}): the ledger writer flushes what is
   * queued and stops.
   */
  @PreDestroy
  void closeLedgerWriter() {
    try {
      ledgerWriter.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Reserves a slot for a claim; false when none is free, or while this worker's storage is failing
   * (StorageHealth: it claims nothing until its storage takes bytes again).
   */
  public boolean tryReserve() {
    if (!storageHealth.healthy()) {
      return false;
    }
    while (true) {
      int f = free.get();
      if (f <= 0) {
        return false;
      }
      if (free.compareAndSet(f, f - 1)) {
        return true;
      }
    }
  }

  public void unreserve() {
    free.incrementAndGet();
  }

  /** Slots a claim may take now: none while this worker's storage is failing. */
  public int freeSlots() {
    return storageHealth.healthy() ? free.get() : 0;
  }

  /** Whether every slot runs a transfer (or is reserved for a claim under way). */
  public boolean allTaken() {
    return free.get() <= 0;
  }

  /** Called (on any thread) each time a transfer ended and freed its slot. */
  public void onSlotFreed(Runnable listener) {
    this.slotFreed = listener;
  }

  /**
   * Runs a claimed task in a slot reserved with {@link #tryReserve()}; its attempt's span is a
   * child of {@code parent} (the doorbell's CONSUMER span, or the task's stored context).
   */
  public void start(Claim claim, Context parent) {
    Attempt attempt = attempts.of(claim, parent);
    running.put(attempt.taskId(), attempt);
    attempt
        .finished()
        .onComplete(
            ar -> {
              running.remove(attempt.taskId(), attempt);
              unreserve();
              slotFreed.run();
            });
    attempt.start();
  }

  /**
   * Hands one running task back to the queue with its checkpoint (its tenant runs above its fair
   * share); false when it does not run here (any more).
   */
  public boolean handBack(String taskId) {
    Attempt a = running.get(taskId);
    if (a == null) {
      return false;
    }
    a.handBack(
        "its tenant runs above its fair share of the workers while another tenant's tasks wait"
            + " for a slot; it resumes from its checkpoint when a slot is free");
    return true;
  }

  /** Hands every running task back to the queue and waits (bounded) until each is recorded. */
  public void handBackAll(Duration timeout) {
    List<Future<Void>> all = new ArrayList<>();
    for (Attempt a : running.values()) {
      all.add(a.handBack());
    }
    if (all.isEmpty()) {
      return;
    }
    Log.infof("handing back %d running task(s)", all.size());
    try {
      Future.join(all)
          .toCompletionStage()
          .toCompletableFuture()
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      Log.warnf(
          "not every task was handed back within %s; their leases expire and the reaper"
              + " re-queues them",
          timeout);
    }
  }
}
