package transfer.worker.storage;

import io.vertx.core.Future;
import java.io.IOException;
import java.security.MessageDigest;
import transfer.storage.Stored;

/**
 * One download attempt's body in storage, whichever backend holds it ({@link FileDownloads}, {@link
 * S3Downloads}): where it may resume, where its bytes go, how it is published and what it leaves to
 * clean. Methods marked blocking run on a storage thread; the others on the transfer's context.
 */
public interface DownloadBody {
  /**
   * Where this attempt may start (blocking): the claim's checkpoint, when its stored bytes are
   * still there and {@code validated} (a validator lets us ask for the rest of the same version);
   * else 0.
   */
  long resumableFrom(boolean validated) throws IOException;

  /**
   * Makes the checkpoint's first {@code bytes} this attempt's own and brings {@code digest} to
   * their state (blocking); false when they are gone by now.
   */
  boolean restore(long bytes, MessageDigest digest) throws IOException;

  /**
   * Opens the sink for the body from byte {@code from}: 0 starts over; otherwise {@link #restore}
   * answered true for {@code from}, and {@code digest} has seen those bytes.
   */
  Future<BodySink> open(long from, MessageDigest digest);

  /** What a checkpoint of {@code bytes} (a value the sink's flush reported) records beyond them. */
  String state(long bytes);

  /**
   * Publishes the complete, verified body of {@code size} bytes at its final place (blocking): the
   * destination the task named, once {@code gate} passed, or else the attempt's own name. The
   * ledger may record the answer once its directories are synced.
   */
  Stored publish(long size, LeaseGate gate) throws IOException;

  /**
   * Deletes a published body the ledger refused (the fence) (blocking); never a destination the
   * task named, which may hold the body of the attempt the ledger took.
   */
  void discard(Stored stored);

  /** Deletes what earlier attempts of the task left, now that this one holds its own (blocking). */
  void dropEarlier();

  /** Deletes everything of the task's bodies but what the ledger records (blocking). */
  void dropAll();
}
