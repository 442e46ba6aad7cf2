package transfer.api.ops;

import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Instant;
import transfer.api.ApiConfig;
import transfer.api.storage.StoredBytes;
import transfer.ledger.Purging;

/**
 * Removes what is past its retention ({@code transfer.retention.*}): finished tasks with their
 * stored downloads and any temporary objects they left (kept for resumeData), and old events. The
 * ledger rows go first, in batches with {@code SKIP LOCKED}, so every replica may run it; a file
 * whose row is gone is never served again, so deleting it afterwards is safe.
 */
@Singleton
public class Retention {
  private final Purging purging;
  private final Clock clock;
  private final ApiConfig config;
  private final StoredBytes files;

  public Retention(Purging purging, Clock clock, ApiConfig config, StoredBytes files) {
    this.purging = purging;
    this.clock = clock;
    this.config = config;
    this.files = files;
  }

  @Scheduled(
      every = "${transfer.retention.interval:10m}",
      delayed = "30s",
      concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
  void pass() {
    try {
      purge(clock.instant());
    } catch (RuntimeException e) {
      Log.warnf("retention pass failed (%s); the next pass retries", e.getMessage());
    }
  }

  /** One retention run as of {@code now}: batches until nothing more is due. */
  public void purge(Instant now) {
    ApiConfig.Retention r = config.retention();
    int tasks = 0;
    int events = 0;
    while (true) {
      Purging.Purged p =
          purging.purgeExpired(now.minus(r.tasks()), now.minus(r.events()), r.batchSize());
      for (String location : p.locations()) {
        // Only ever ours (inside the root, or the bucket's prefix), whatever a row says.
        files.delete(location);
      }
      for (Purging.Purged.Left task : p.left()) {
        files.deleteLeftovers(task);
      }
      tasks += p.tasks();
      events += p.events();
      if (p.tasks() < r.batchSize() && p.events() < r.batchSize()) {
        break;
      }
    }
    if (tasks > 0 || events > 0) {
      Log.infof(
          "retention: removed %d finished task(s) older than %s and %d event(s) older than %s",
          tasks, r.tasks(), events, r.events());
    }
    int orphans = files.sweepOrphans(now.minus(r.orphansIdle()), purging::existingTasks);
    if (orphans > 0) {
      Log.infof(
          "retention: removed %d temporary object(s) untouched for %s that nothing will finish"
              + " (a staged body whose upload broke off, a download attempt of a task that is gone)",
          orphans, r.orphansIdle());
    }
  }
}
