package transfer.api.ops;

import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import transfer.api.ApiConfig;
import transfer.ledger.Ledger;

/**
 * Returns abandoned work to the queue: expired leases, retries whose backoff is over, and queued
 * tasks whose doorbell may be lost. Every statement uses {@code SKIP LOCKED}, so every replica may
 * run it. It also keeps the task table's planner statistics fresh (one replica at a time).
 */
@Singleton
public class Reaper {
  private final Ledger ledger;
  private final ApiConfig config;

  public Reaper(Ledger ledger, ApiConfig config) {
    this.ledger = ledger;
    this.config = config;
  }

  @Scheduled(
      every = "${transfer.reaper.interval:2s}",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void pass() {
    int batch = config.reaper().batchSize();
    try {
      ledger.failOverdue(batch);
      ledger.reapExpiredLeases(batch);
      ledger.promoteDueTasks(batch);
      ledger.reannounceStale(config.reaper().reannounceAfter(), batch);
      if (config.reaper().analyzeAfter() > 0) {
        ledger.analyzeTasksIfStale(config.reaper().analyzeAfter());
      }
    } catch (RuntimeException e) {
      Log.warnf("reaper pass failed (%s); the next pass retries", e.getMessage());
    }
  }
}
