package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import transfer.contracts.TaskError;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;

/**
 * The ledger writes an attempt makes under its lease, each answered on the attempt's context: the
 * seam between an attempt and the ledger. In the worker each call is one of {@link Leases} on a
 * worker thread ({@link #of}); a unit test answers them by hand; a writer that batches the calls of
 * many attempts fits behind it as well. Every call is fenced by the lease's epoch: false (or {@link
 * FailOutcome#FENCED}) means the task is no longer this attempt's, and nothing was written.
 */
interface LeaseWriter {

  /** Renews the lease and records progress and a checkpoint ({@link Leases#heartbeat}). */
  Future<Boolean> heartbeat(Lease lease, Duration ttl, Leases.Heartbeat heartbeat);

  /** Records a completed download ({@link Leases#completeDownload}). */
  Future<Boolean> completeDownload(
      Lease lease, String location, long size, String sha256, long bytesSinceLastEvent);

  /** Records a completed upload ({@link Leases#completeUpload}). */
  Future<Boolean> completeUpload(
      Lease lease, long bytesSent, int httpStatus, long bytesSinceLastEvent);

  /** Records a failed attempt, retried or final ({@link Leases#failAttempt}). */
  Future<FailOutcome> failAttempt(Lease lease, TaskError error, Duration backoff);

  /** Hands the task back to the queue ({@link Leases#release}). */
  Future<Boolean> release(Lease lease, Leases.Checkpoint checkpoint);

  /**
   * The ledger's statements, each run on a worker thread of {@code vertx} (a JDBC call blocks); the
   * answer comes back on the context that made the call.
   */
  static LeaseWriter of(Leases leases, Vertx vertx) {
    return new LeaseWriter() {
      @Override
      public Future<Boolean> heartbeat(Lease lease, Duration ttl, Leases.Heartbeat heartbeat) {
        return vertx.executeBlocking(() -> leases.heartbeat(lease, ttl, heartbeat), false);
      }

      @Override
      public Future<Boolean> completeDownload(
          Lease lease, String location, long size, String sha256, long bytesSinceLastEvent) {
        return vertx.executeBlocking(
            () -> leases.completeDownload(lease, location, size, sha256, bytesSinceLastEvent),
            false);
      }

      @Override
      public Future<Boolean> completeUpload(
          Lease lease, long bytesSent, int httpStatus, long bytesSinceLastEvent) {
        return vertx.executeBlocking(
            () -> leases.completeUpload(lease, bytesSent, httpStatus, bytesSinceLastEvent), false);
      }

      @Override
      public Future<FailOutcome> failAttempt(Lease lease, TaskError error, Duration backoff) {
        return vertx.executeBlocking(() -> leases.failAttempt(lease, error, backoff), false);
      }

      @Override
      public Future<Boolean> release(Lease lease, Leases.Checkpoint checkpoint) {
        return vertx.executeBlocking(() -> leases.release(lease, checkpoint), false);
      }
    };
  }
}
