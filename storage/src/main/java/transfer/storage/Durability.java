package transfer.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * The two calls that make stored bytes survive a machine crash: forcing a file's bytes to the
 * device, and syncing a directory so that a name created or moved into it stays. Everything that
 * must be durable before the ledger records it goes through here, so a test can see that it did (a
 * recording implementation) and in which order.
 */
public interface Durability {
  /** Forces the bytes (and the size) of {@code file}, open as {@code channel}, to the device. */
  void force(FileChannel channel, Path file) throws IOException;

  /** Makes the entries of directory {@code dir} (a name created or moved into it) durable. */
  void syncDirectory(Path dir) throws IOException;

  /** The operating system's {@code fsync}, on files and directories. */
  Durability SYSTEM = new SystemDurability();

  /** {@link Durability} by {@code fsync}. */
  final class SystemDurability implements Durability {
    private static final Logger LOG = Logger.getLogger(Durability.class);
    private final AtomicBoolean directoriesUnsynced = new AtomicBoolean();

    private SystemDurability() {}

    @Override
    public void force(FileChannel channel, Path file) throws IOException {
      channel.force(true);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      } catch (UnsupportedOperationException e) {
        unsupported(dir, e);
      } catch (IOException e) {
        // Some filesystems refuse fsync on a directory (EINVAL), as PostgreSQL's fsync_fname
        // allows for: there is nothing more to do on them. Any other error is a real one.
        if (!String.valueOf(e.getMessage()).contains("Invalid argument")) {
          throw e;
        }
        unsupported(dir, e);
      }
    }

    private void unsupported(Path dir, Exception e) {
      if (directoriesUnsynced.compareAndSet(false, true)) {
        LOG.warnf(
            "the filesystem of %s does not sync directories (%s); a name moved into a directory"
                + " may be lost in a machine crash",
            dir, e.getMessage());
      }
    }
  }
}
