package transfer.api.storage;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import transfer.ledger.Purging;
import transfer.storage.StoredFiles;

/** Stored bytes on the file system shared with the workers ({@link StoredFiles}). */
public final class FileBytes implements StoredBytes {
  private final StoredFiles files;

  public FileBytes(StoredFiles files) {
    this.files = files;
  }

  @Override
  public Optional<StoredBody> existing(String location) {
    return files
        .existing(location)
        .flatMap(
            p -> {
              try {
                return Optional.of(new StoredBody.File(p, Files.size(p)));
              } catch (IOException e) {
                return Optional.empty();
              }
            });
  }

  @Override
  public String store(Path staged, String tenantId, String sessionId) throws IOException {
    return files.publishObject(staged, tenantId, sessionId).toUri().toString();
  }

  @Override
  public void delete(String location) {
    files.delete(location);
  }

  @Override
  public void deleteLeftovers(Purging.Purged.Left task) {
    files.deleteTemporaries(task.taskId(), Long.MAX_VALUE);
  }

  @Override
  public Optional<URL> link(String location) {
    return Optional.empty();
  }

  @Override
  public int sweepOrphans(
      java.time.Instant idleBefore,
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>>
          existingTasks) {
    return files.sweepOrphans(idleBefore, existingTasks);
  }
}
