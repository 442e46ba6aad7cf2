package transfer.worker.storage;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
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

  /**
   * Copies the first {@code bytes} of an earlier attempt's temporary object into {@code target}
   * (created or truncated), feeding them to {@code digest}, and forces them to disk. The earlier
   * object may still be written by a frozen worker, but only beyond its checkpoint, so the prefix
   * read here is stable. False when the earlier object is missing or shorter than {@code bytes}.
   */
  public boolean copyPrefix(Path source, Path target, long bytes, MessageDigest digest)
      throws IOException {
    if (!Files.isRegularFile(source) || Files.size(source) < bytes) {
      return false;
    }
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
        FileChannel out =
            FileChannel.open(
                target,
                StandardOpenOption.WRITE,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
      long done = 0;
      while (done < bytes) {
        buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
        int n = in.read(buf, done);
        if (n < 0) {
          return false;
        }
        buf.flip();
        digest.update(buf.duplicate());
        while (buf.hasRemaining()) {
          out.write(buf);
        }
        done += n;
      }
      out.force(false);
    }
    return true;
  }

  /** Deletes this task's temporary objects of attempts before {@code epoch} (all if MAX_VALUE). */
  public void deleteTemporaries(String taskId, long beforeEpoch) {
    Path dir = root.resolve(".partial");
    if (!Files.isDirectory(dir)) {
      return;
    }
    String prefix = taskId + ".e";
    try (DirectoryStream<Path> all = Files.newDirectoryStream(dir, prefix + "*.part")) {
      for (Path p : all) {
        String name = p.getFileName().toString();
        try {
          long epoch = Long.parseLong(name.substring(prefix.length(), name.length() - 5));
          if (epoch < beforeEpoch) {
            deleteQuietly(p);
          }
        } catch (NumberFormatException e) {
          // not one of ours
        }
      }
    } catch (IOException e) {
      // Orphans in .partial/ are harmless; they never become content.
    }
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
