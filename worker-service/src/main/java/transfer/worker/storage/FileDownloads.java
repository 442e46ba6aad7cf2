package transfer.worker.storage;

import io.vertx.core.Future;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.jboss.logging.Logger;
import transfer.ledger.TaskRow;
import transfer.storage.StorageLayout;
import transfer.storage.Stored;

/**
 * Downloads on the shared file system: each attempt writes its temporary object ({@code
 * .partial/<task>.e<epoch>.part}, {@link ObjectWriter}); a resumed attempt copies the checkpoint's
 * prefix out of the earlier attempt's object; a verified body is moved to its final name. See
 * DESIGN.md, "Checkpoints and resume on any worker".
 */
public final class FileDownloads implements DownloadStore {
  private static final Logger LOG = Logger.getLogger(FileDownloads.class);

  private final FileStorage storage;

  public FileDownloads(FileStorage storage) {
    this.storage = storage;
  }

  @Override
  public DownloadBody body(TaskRow task, long epoch) {
    return new Body(task, epoch);
  }

  private final class Body implements DownloadBody {
    private final TaskRow task;
    private final long epoch;
    private Path temporary;

    Body(TaskRow task, long epoch) {
      this.task = task;
      this.epoch = epoch;
    }

    @Override
    public long resumableFrom(boolean validated) throws IOException {
      temporary = storage.temporary(task.id(), epoch);
      if (task.bytesDurable() <= 0 || task.durableEpoch() == null || !validated) {
        return 0;
      }
      Path earlier = storage.temporary(task.prefixOwner(), task.durableEpoch());
      if (!Files.isRegularFile(earlier) || Files.size(earlier) < task.bytesDurable()) {
        LOG.infof(
            "task %s: checkpoint at byte %d (epoch %d) has no stored object; starting from zero",
            task.id(), task.bytesDurable(), task.durableEpoch());
        return 0;
      }
      return task.bytesDurable();
    }

    @Override
    public boolean restore(long bytes, MessageDigest digest) throws IOException {
      return storage.copyPrefix(
          storage.temporary(task.prefixOwner(), task.durableEpoch()), temporary, bytes, digest);
    }

    @Override
    public Future<BodySink> open(long from, MessageDigest digest) {
      return storage.openWriter(temporary, from, from == 0, digest).map(w -> (BodySink) w);
    }

    @Override
    public String state(long bytes) {
      return null;
    }

    @Override
    public Stored publish(long size, LeaseGate gate) throws IOException {
      String key = task.request().destinationKey();
      if (key != null) {
        gate.pass();
        return storage.commitNamed(temporary, task.tenantId(), key).stored();
      }
      return storage
          .commit(temporary, task.tenantId(), task.sessionId(), task.id(), epoch)
          .stored();
    }

    @Override
    public void discard(Stored stored) {
      if (task.request().destinationKey() != null) {
        LOG.infof(
            "task %s: leaving %s in place: the attempt the ledger took writes it too",
            task.id(), stored.location());
        return;
      }
      StorageLayout.file(stored.location()).ifPresent(storage::deleteQuietly);
    }

    @Override
    public void dropEarlier() {
      storage.deleteTemporaries(task.id(), epoch);
    }

    @Override
    public void dropAll() {
      storage.deleteTemporaries(task.id(), epoch + 1);
    }
  }
}
