package transfer.api.ops;

import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Clock;
import java.time.Instant;
import transfer.api.ApiConfig;
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

  public Retention(Purging purging, Clock clock, ApiConfig config) {
    this.purging = purging;
    this.clock = clock;
    this.config = config;
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
        deleteStored(location);
      }
      for (String taskId : p.taskIds()) {
        deleteTemporaries(taskId);
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
  }

  private Path root() {
    return config.storage().root().toAbsolutePath().normalize();
  }

  private void deleteStored(String location) {
    try {
      Path file = Paths.get(URI.create(location)).normalize();
      // Only ever delete inside the storage root, whatever a row says.
      if (file.startsWith(root())) {
        Files.deleteIfExists(file);
      }
    } catch (IOException | IllegalArgumentException e) {
      Log.warnf(
          "retention: cannot delete stored object %s (%s); it stays", location, e.getMessage());
    }
  }

  private void deleteTemporaries(String taskId) {
    Path dir = root().resolve(".partial");
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> all = Files.newDirectoryStream(dir, taskId + ".e*.part")) {
      for (Path p : all) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      Log.warnf(
          "retention: cannot delete temporary objects of task %s (%s)", taskId, e.getMessage());
    }
  }
}
