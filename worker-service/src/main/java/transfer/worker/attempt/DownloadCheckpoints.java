package transfer.worker.attempt;

import io.vertx.core.Future;
import java.io.IOException;
import java.security.MessageDigest;
import java.time.Duration;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Leases.FailOutcome;
import transfer.worker.storage.BodySink;
import transfer.worker.storage.DownloadBody;

/**
 * What a download's checkpoint is: the bytes of its body that storage holds durably (forced to
 * disk, or uploaded as S3 parts), the epoch that holds them, the validators of the response they
 * came from, and what storage needs to continue them ({@link DownloadBody#state}). An attempt
 * starts from the checkpoint its claim returned, when its bytes are still there ({@link
 * #resumableFrom}, {@link #restore}). Every {@code checkpoint-interval} the sink is flushed, and
 * the next heartbeat records what is durable. Once this attempt's own first checkpoint is recorded,
 * what older attempts left is deleted; a plain final failure deletes it all. DESIGN.md,
 * "Checkpoints and resume on any worker".
 */
final class DownloadCheckpoints implements Checkpoints {
  private final Attempt attempt;
  private final DownloadBody body;
  private final Duration interval;

  private BodySink writer;
  private String etag;
  private String lastModified;

  /** Bytes stored durably: what a checkpoint may claim. */
  private long durable;

  /** A checkpoint the next heartbeat should record. */
  private boolean pending;

  private boolean ownRecorded;
  private long timer = -1;

  DownloadCheckpoints(Attempt attempt, DownloadBody body, Duration interval) {
    this.attempt = attempt;
    this.body = body;
    this.interval = interval;
  }

  /**
   * Where this attempt may start (on a worker thread): the claim's checkpoint, when its bytes are
   * still there and {@code validated} (a validator lets us ask for the rest of the same version,
   * {@code If-Range}); else zero.
   */
  long resumableFrom(boolean validated) throws IOException {
    return body.resumableFrom(validated);
  }

  /**
   * Makes the claim's checkpoint, its first {@code bytes}, this attempt's and brings {@code digest}
   * to their state; false when they are gone by now.
   */
  Future<Boolean> restore(long bytes, MessageDigest digest) {
    return attempt.scheduler().blocking(() -> body.restore(bytes, digest));
  }

  /** The body starts again from byte 0: nothing of it is durable. */
  void restart() {
    durable = 0;
  }

  /** The first {@code bytes}, the checkpoint's, are this attempt's and durable. */
  void resumedAt(long bytes) {
    durable = bytes;
    pending = true;
  }

  /**
   * The body streams into {@code writer} from the response whose validators are {@code etag} and
   * {@code lastModified}: forced every interval from now on.
   */
  void start(BodySink writer, String etag, String lastModified) {
    this.writer = writer;
    this.etag = etag;
    this.lastModified = lastModified;
    timer = attempt.scheduler().every(interval.toMillis(), this::flush);
  }

  void stop() {
    attempt.scheduler().cancel(timer);
  }

  /** Flushes the sink; the next heartbeat records what is durable. */
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
    return new Checkpoint(durable, attempt.epoch(), etag, lastModified, body.state(durable));
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
      // Our own body now holds the durable prefix: what earlier attempts left is garbage.
      ownRecorded = true;
      if (attempt.epoch() > 1) {
        attempt
            .scheduler()
            .blocking(
                () -> {
                  body.dropEarlier();
                  return null;
                });
      }
    }
  }

  @Override
  public void notRecorded(Checkpoint checkpoint) {
    pending = true; // report it again at the next heartbeat
  }

  @Override
  public Checkpoint handBack() {
    // The stored bytes stay: the next worker resumes from this checkpoint.
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
              body.dropAll();
              return null;
            });
  }
}
