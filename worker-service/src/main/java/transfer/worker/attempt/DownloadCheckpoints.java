package transfer.worker.attempt;

import io.vertx.core.Future;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import org.jboss.logging.Logger;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Leases.FailOutcome;
import transfer.ledger.TaskRow;
import transfer.worker.storage.FileStorage;
import transfer.worker.storage.ObjectWriter;

/**
 * What a download's checkpoint is: the bytes of a temporary object that are forced to disk, the
 * epoch whose object holds them, and the validators of the response they came from. An attempt
 * starts from the checkpoint its claim returned, when that object is still there ({@link
 * #resumableFrom}, {@link #copyPrefix}). Every {@code checkpoint-interval} the writer forces what
 * it holds, and the next heartbeat records it. Once this attempt's own first checkpoint is
 * recorded, older attempts' objects are deleted; a plain final failure deletes them all. DESIGN.md,
 * "Checkpoints and resume on any worker".
 */
final class DownloadCheckpoints implements Checkpoints {
  private final Attempt attempt;
  private final FileStorage storage;
  private final Duration interval;

  private ObjectWriter writer;
  private String etag;
  private String lastModified;

  /** Bytes forced to disk: what a checkpoint may claim. */
  private long durable;

  /** A checkpoint the next heartbeat should record. */
  private boolean pending;

  private boolean ownRecorded;
  private long timer = -1;

  DownloadCheckpoints(Attempt attempt, FileStorage storage, Duration interval) {
    this.attempt = attempt;
    this.storage = storage;
    this.interval = interval;
  }

  /**
   * Where this attempt may start (on a worker thread): the claim's checkpoint, when its temporary
   * object is still there and {@code validated} (a validator lets us ask for the rest of the same
   * version, {@code If-Range}); else zero.
   */
  long resumableFrom(boolean validated) throws IOException {
    TaskRow task = attempt.task();
    if (task.bytesDurable() <= 0 || task.durableEpoch() == null || !validated) {
      return 0;
    }
    Path earlier = storage.temporary(task.prefixOwner(), task.durableEpoch());
    if (!Files.isRegularFile(earlier) || Files.size(earlier) < task.bytesDurable()) {
      attempt
          .telemetry()
          .logf(
              Logger.Level.INFO,
              "task %s: checkpoint at byte %d (epoch %d) has no stored object; starting from zero",
              task.id(),
              task.bytesDurable(),
              task.durableEpoch());
      return 0;
    }
    return task.bytesDurable();
  }

  /**
   * Copies the claim's checkpoint, its first {@code bytes}, into {@code target} and feeds them to
   * {@code digest}; false when that object is gone (or shorter) by now.
   */
  Future<Boolean> copyPrefix(Path target, long bytes, MessageDigest digest) {
    TaskRow task = attempt.task();
    return attempt
        .scheduler()
        .blocking(
            () ->
                storage.copyPrefix(
                    storage.temporary(task.prefixOwner(), task.durableEpoch()),
                    target,
                    bytes,
                    digest));
  }

  /** The body starts again from byte 0: nothing of it is durable. */
  void restart() {
    durable = 0;
  }

  /** The first {@code bytes}, copied from the checkpoint's object and forced, are durable. */
  void resumedAt(long bytes) {
    durable = bytes;
    pending = true;
  }

  /**
   * The body streams into {@code writer} from the response whose validators are {@code etag} and
   * {@code lastModified}: forced every interval from now on.
   */
  void start(ObjectWriter writer, String etag, String lastModified) {
    this.writer = writer;
    this.etag = etag;
    this.lastModified = lastModified;
    timer = attempt.scheduler().every(interval.toMillis(), this::flush);
  }

  void stop() {
    attempt.scheduler().cancel(timer);
  }

  /** Forces written bytes to disk; the next heartbeat records them as durable. */
  private void flush() {
    if (!attempt.running()) {
      return;
    }
    // Errors reach the writer's exception handler, which fails the attempt.
    writer
        .flush()
        .onSuccess(
            flushed -> {
              if (flushed > durable) {
                durable = flushed;
                pending = true;
              }
            });
  }

  private Checkpoint checkpoint() {
    return new Checkpoint(durable, attempt.epoch(), etag, lastModified);
  }

  @Override
  public Checkpoint take() {
    Checkpoint cp = pending ? checkpoint() : null;
    pending = false;
    return cp;
  }

  @Override
  public void recorded(Checkpoint checkpoint) {
    if (!ownRecorded) {
      // Our own object now holds the durable prefix: earlier attempts' are garbage.
      ownRecorded = true;
      attempt
          .scheduler()
          .blocking(
              () -> {
                storage.deleteTemporaries(attempt.task().id(), attempt.epoch());
                return null;
              });
    }
  }

  @Override
  public void notRecorded(Checkpoint checkpoint) {
    pending = true; // report it again at the next heartbeat
  }

  @Override
  public Checkpoint handBack() {
    // The temporary object stays: the next worker resumes from this checkpoint.
    return durable > 0 ? checkpoint() : null;
  }

  @Override
  public Future<Void> afterFailure(FailOutcome outcome) {
    // A retry resumes from the checkpoint, and a failure that offers resumeData keeps the durable
    // prefix (retention removes it); only a plain final failure drops them.
    if (outcome != FailOutcome.FAILED) {
      return Future.succeededFuture();
    }
    return attempt
        .scheduler()
        .blocking(
            () -> {
              storage.deleteTemporaries(attempt.task().id(), attempt.epoch() + 1);
              return null;
            });
  }
}
