package transfer.api.ops;

import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.ledger.Reaping;

/**
 * Returns abandoned work to the queue: expired leases, retries whose backoff is over, and queued
 * tasks whose doorbell may be lost. Every statement uses {@code SKIP LOCKED}, so every replica may
 * run it. It also keeps the task table's planner statistics fresh (one replica at a time). What it
 * changed is counted by action ({@code transfer_reaper_tasks_total}).
 */
@Singleton
public class Reaper {
  private final Reaping reaping;
  private final ApiConfig config;
  private final ApiMetrics metrics;

  public Reaper(Reaping reaping, ApiConfig config, ApiMetrics metrics) {
    this.reaping = reaping;
    this.config = config;
    this.metrics = metrics;
  }

  @Scheduled(
      every = "${transfer.reaper.interval:2s}",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void pass() {
    int batch = config.reaper().batchSize();
    try {
      metrics.reaped(ApiMetrics.RESOURCE_TIMEOUT_FAILED, reaping.failOverdue(batch));
      Reaping.LeasesReaped leases = reaping.reapExpiredLeases(batch);
      metrics.reaped(ApiMetrics.LEASE_EXPIRED_REQUEUED, leases.requeued());
      metrics.reaped(ApiMetrics.LEASE_EXPIRED_FAILED, leases.failed());
      metrics.reaped(ApiMetrics.PROMOTED, reaping.promoteDueTasks(batch));
      metrics.reaped(
          ApiMetrics.REANNOUNCED,
          reaping.reannounceStale(config.reaper().reannounceAfter(), batch));
      if (config.reaper().analyzeAfter() > 0) {
        reaping.analyzeTasksIfStale(config.reaper().analyzeAfter());
      }
    } catch (RuntimeException e) {
      Log.warnf("reaper pass failed (%s); the next pass retries", e.getMessage());
    }
  }
}
