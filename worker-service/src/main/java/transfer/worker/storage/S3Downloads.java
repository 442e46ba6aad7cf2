package transfer.worker.storage;

import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import org.jboss.logging.Logger;
import transfer.ledger.TaskRow;
import transfer.storage.Stored;
import transfer.storage.s3.S3Bucket;
import transfer.storage.s3.S3Checkpoint;

/**
 * Downloads into an S3 bucket: each body streams into a multipart upload ({@link S3PartWriter});
 * every uploaded part is a checkpoint whose state ({@link S3Checkpoint}) lets an attempt on any
 * worker continue the same upload from there, asking the origin for the rest with {@code Range}. An
 * attempt that starts over begins a new upload under its own key. See DESIGN.md, "Downloads into
 * S3".
 */
public final class S3Downloads implements DownloadStore {
  private static final Logger LOG = Logger.getLogger(S3Downloads.class);

  private final S3Bucket bucket;
  private final FileStorage files;
  private final WorkerExecutor requests;
  private final long partSize;
  private final Path spool;

  /**
   * @param files the worker's storage threads and chunk pool
   * @param requests the threads S3 requests block
   * @param partSize bytes of each part (a multiple of 1 MiB, at least 5 MiB)
   * @param spool the local directory parts are gathered in before they are uploaded
   */
  public S3Downloads(
      S3Bucket bucket, FileStorage files, WorkerExecutor requests, long partSize, Path spool) {
    this.bucket = bucket;
    this.files = files;
    this.requests = requests;
    this.partSize = partSize;
    this.spool = spool;
  }

  @Override
  public DownloadBody body(TaskRow task, long epoch) {
    return new Body(task, epoch);
  }

  /** The part size for a body of at most {@code limit} bytes: S3 takes 10,000 parts at most. */
  long partSizeFor(long limit) {
    long needed = (limit + 9_999) / 10_000;
    long mib = 1L << 20;
    return Math.max(partSize, (needed + mib - 1) / mib * mib);
  }

  private final class Body implements DownloadBody {
    private final TaskRow task;
    private final long epoch;
    private S3Checkpoint continued;
    private List<String> etags = List.of();
    private S3PartWriter writer;

    Body(TaskRow task, long epoch) {
      this.task = task;
      this.epoch = epoch;
    }

    @Override
    public long resumableFrom(boolean validated) {
      S3Checkpoint cp = S3Checkpoint.decode(task.durableState());
      if (task.bytesDurable() <= 0 || cp == null || !validated) {
        return 0;
      }
      // The upload may be another task's, whose resumeData this task was given: it completes it.
      if (cp.bytes() != task.bytesDurable()) {
        return 0;
      }
      if (!DigestState.available()) {
        LOG.infof(
            "task %s: the checkpoint at byte %d cannot continue the digest on this worker;"
                + " starting from zero",
            task.id(), task.bytesDurable());
        return 0;
      }
      continued = cp;
      return cp.bytes();
    }

    @Override
    public boolean restore(long bytes, MessageDigest digest) throws IOException {
      S3Checkpoint cp = continued;
      if (cp == null || cp.bytes() != bytes) {
        return false;
      }
      try {
        etags = bucket.parts(cp.key(), cp.uploadId(), cp.parts(), cp.partSize());
      } catch (S3Bucket.Missing e) {
        LOG.infof("task %s: %s; starting from zero", task.id(), e.getMessage());
        continued = null;
        return false;
      }
      if (!DigestState.restore(digest, cp.digestState())) {
        continued = null;
        return false;
      }
      return true;
    }

    @Override
    public Future<BodySink> open(long from, MessageDigest digest) {
      S3Checkpoint cp = from > 0 ? continued : null;
      if (from > 0 && cp == null) {
        return Future.failedFuture(new IOException("no checkpoint to continue at byte " + from));
      }
      if (writer != null) {
        writer.abort();
      }
      Long expected = task.request().expectedBytes();
      long size = cp != null ? cp.partSize() : partSizeFor(expected != null ? expected : 0);
      String key =
          cp != null
              ? cp.key()
              : bucket.layout().download(task.tenantId(), task.sessionId(), task.id(), epoch);
      writer =
          new S3PartWriter(
              bucket,
              files.io(),
              requests,
              files.buffers(),
              digest,
              size,
              spool,
              task.id() + ".e" + epoch,
              key,
              cp != null ? cp.uploadId() : null,
              cp != null ? etags : List.of(),
              from);
      if (cp != null) {
        writer.continues(from, cp.encode());
      }
      return Future.succeededFuture(writer);
    }

    @Override
    public String state(long bytes) {
      return writer == null ? null : writer.state(bytes);
    }

    @Override
    public Stored publish(long size, LeaseGate gate) throws IOException {
      writer.publish();
      String key = task.request().destinationKey();
      if (key == null) {
        return new Stored(bucket.layout().location(writer.key()), List.of());
      }
      // S3 has no rename: the object is copied inside the bucket and the attempt's own goes.
      String named = bucket.layout().named(task.tenantId(), key);
      try {
        bucket.copy(writer.key(), named, size, gate::pass);
      } finally {
        deleteOwn();
      }
      return new Stored(bucket.layout().location(named), List.of());
    }

    /** Deletes the object this attempt completed under its own key (copied, or not needed). */
    private void deleteOwn() {
      try {
        bucket.delete(writer.key());
      } catch (IOException e) {
        LOG.warnf(
            "task %s: could not delete s3://%s/%s, its body on the way to its destination (%s);"
                + " nothing else deletes it",
            task.id(), bucket.layout().bucket(), writer.key(), e.getMessage());
      }
    }

    @Override
    public void discard(Stored stored) {
      if (task.request().destinationKey() != null) {
        LOG.infof(
            "task %s: leaving %s in place: the attempt the ledger took writes it too",
            task.id(), stored.location());
        return;
      }
      bucket
          .layout()
          .key(stored.location())
          .ifPresent(
              k -> {
                try {
                  bucket.delete(k);
                } catch (IOException e) {
                  LOG.warnf(
                      "task %s: could not delete %s, refused by the ledger (%s); retention"
                          + " does not know it",
                      task.id(), stored.location(), e.getMessage());
                }
              });
    }

    @Override
    public void dropEarlier() {
      abortUploads(writer != null ? writer.uploadId() : null);
    }

    @Override
    public void dropAll() {
      if (writer != null) {
        writer.discardSpool();
      }
      abortUploads(null);
    }

    /** Aborts the task's multipart uploads but {@code keep}. */
    private void abortUploads(String keep) {
      String prefix = bucket.layout().downloads(task.tenantId(), task.sessionId(), task.id());
      try {
        for (S3Bucket.Upload u : bucket.uploads(prefix)) {
          if (!u.uploadId().equals(keep)) {
            bucket.abort(u.key(), u.uploadId());
          }
        }
      } catch (IOException e) {
        LOG.warnf(
            "task %s: could not list its multipart uploads (%s); retention aborts them later",
            task.id(), e.getMessage());
      }
    }
  }
}
