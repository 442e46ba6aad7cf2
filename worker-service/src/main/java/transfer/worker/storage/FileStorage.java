package transfer.worker.storage;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import transfer.worker.WorkerConfig;

/**
 * Objects on a filesystem shared by the workers and the api-service. A transfer writes a temporary
 * object named by task and epoch; only a verified one is moved (atomically) to its final name, so a
 * partial body is never readable as content.
 */
@Singleton
public class FileStorage {
  private final Path root;

  @Inject
  public FileStorage(WorkerConfig config) {
    this(config.storage().root());
  }

  public FileStorage(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path temporary(String taskId, long epoch) throws IOException {
    // A dot-name can never clash with a tenant's directory: tenant ids start with a letter or
    // digit.
    Path dir = root.resolve(".partial");
    Files.createDirectories(dir);
    return dir.resolve(taskId + ".e" + epoch + ".part");
  }

  /** Moves a verified temporary object to its final place; answers the final path. */
  public Path commit(Path temporary, String tenantId, String sessionId, String taskId, long epoch)
      throws IOException {
    Path dir = root.resolve(tenantId).resolve(sessionId);
    Files.createDirectories(dir);
    Path target = dir.resolve(taskId + ".e" + epoch);
    return Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
  }

  public void deleteQuietly(Path p) {
    if (p == null) {
      return;
    }
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // An orphan in tmp/ is harmless; it never becomes content.
    }
  }
}
