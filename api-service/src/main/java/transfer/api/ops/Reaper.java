package transfer.api.ops;

import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.ledger.Reaping;
import transfer.ledger.Reservations;
import transfer.ledger.TenantUsage;
import transfer.ledger.Tenants;

/**
 * Returns abandoned work to the queue: expired leases, retries whose backoff is over, and queued
 * tasks whose doorbell may be lost; and gives back the quota room of object uploads abandoned
 * mid-body (their reservations expired). Every statement uses {@code SKIP LOCKED}, so every replica
 * may run it. It also keeps the task table's planner statistics fresh (one replica at a time), and
 * now and then recounts the tenants' usage counters. What it changed is counted by action ({@code
 * transfer_reaper_tasks_total}).
 */
@Singleton
public class Reaper {
  private final Reaping reaping;
  private final Reservations reservations;
  private final Tenants tenants;
  private final ApiConfig config;
  private final ApiMetrics metrics;

  public Reaper(
      Reaping reaping,
      Reservations reservations,
      Tenants tenants,
      ApiConfig config,
      ApiMetrics metrics) {
    this.reaping = reaping;
    this.reservations = reservations;
    this.tenants = tenants;
    this.config = config;
    this.metrics = metrics;
  }

  @Scheduled(
      every = "${transfer.reaper.interval:2s}",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void pass() {
    int batch = config.reaper().batchSize();
    // Each step in its own transaction and its own try: one that fails (a statement refused, a
    // lock timeout) leaves the others to run, and is tried again on the next pass.
    step(
        "overdue",
        "fail overdue tasks",
        () -> metrics.reaped(ApiMetrics.RESOURCE_TIMEOUT_FAILED, reaping.failOverdue(batch)));
    step(
        "leases",
        "reap expired leases",
        () -> {
          Reaping.LeasesReaped leases = reaping.reapExpiredLeases(batch);
          metrics.reaped(ApiMetrics.LEASE_EXPIRED_REQUEUED, leases.requeued());
          metrics.reaped(ApiMetrics.LEASE_EXPIRED_FAILED, leases.failed());
        });
    step(
        "promote",
        "queue due tasks",
        () -> metrics.reaped(ApiMetrics.PROMOTED, reaping.promoteDueTasks(batch)));
    step(
        "reannounce",
        "re-announce stale tasks",
        () ->
            metrics.reaped(
                ApiMetrics.REANNOUNCED,
                reaping.reannounceStale(config.reaper().reannounceAfter(), batch)));
    step(
        "object_reservations",
        "give back expired object reservations",
        () -> {
          int dropped = reservations.dropExpiredObjectReservations(batch);
          if (dropped > 0) {
            Log.infof(
                "reaper: gave back the quota room of %d object upload(s) whose api-service"
                    + " stopped before storing them",
                dropped);
          }
        });
    if (config.reaper().analyzeAfter() > 0) {
      step(
          "analyze",
          "analyze the task table",
          () -> reaping.analyzeTasksIfStale(config.reaper().analyzeAfter()));
    }
  }

  /**
   * One step of a pass ({@code id}: its label on {@code transfer_reaper_step_failures_total}); its
   * failure is logged and counted, and the pass goes on.
   */
  private void step(String id, String what, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      metrics.reaperStepFailed(id);
      Log.warnf(
          "reaper: could not %s (%s); the other steps go on, and the next pass tries again",
          what, e.getMessage());
    }
  }

  /**
   * Recounts the tenants' usage counters (what the tasks-in-flight and bytes-stored quotas read)
   * from their tasks and objects, and corrects those that drifted: 30 s after start, then every
   * {@code transfer.reaper.recount-usage-every} (6 h; {@code off} never). Only a write that
   * bypassed the ledger's triggers makes a counter drift, so a correction is logged as a warning. A
   * recount reads every tenant's tasks; replicas take turns (an advisory lock).
   */
  @Scheduled(
      every = "${transfer.reaper.recount-usage-every:6h}",
      delayed = "30s",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void recountUsage() {
    try {
      for (TenantUsage.Drift d : tenants.recountUsage()) {
        Log.warnf(
            "tenant %s: its usage counters differed from its tasks and objects by %d tasks in"
                + " flight and %d bytes stored, and were corrected (something wrote to the ledger"
                + " past its triggers)",
            d.tenantId(), d.tasksInFlight(), d.bytesStored());
      }
    } catch (RuntimeException e) {
      Log.warnf("usage recount failed (%s); the next one retries", e.getMessage());
    }
  }
}
