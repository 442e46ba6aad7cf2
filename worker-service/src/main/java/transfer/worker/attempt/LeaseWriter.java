package transfer.worker.attempt;

import io.vertx.core.Future;
import java.time.Duration;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.storage.Stored;

/**
 * The ledger writes an attempt makes under its lease, each answered on the attempt's context: the
 * seam between an attempt and the ledger. In the worker it is the {@link GroupCommit} (the writes
 * of all attempts committed in groups, every few milliseconds); a unit test answers them by hand.
 * Every call is fenced by the lease's epoch: false (or {@link FailOutcome#FENCED}) means the task
 * is no longer this attempt's, and nothing was written.
 */
interface LeaseWriter {

  /** Renews the lease and records progress and a checkpoint ({@link Leases#heartbeat}). */
  Future<Boolean> heartbeat(Lease lease, Duration ttl, Leases.Heartbeat heartbeat);

  /**
   * Records a completed download ({@link Leases#completeDownload}) whose body was moved to its
   * final name: the name's directories are synced before the commit that records it; {@code
   * resumedAt}: a resumption no heartbeat announced (null: none); {@code metrics}: what the attempt
   * cost on the wire.
   */
  Future<Boolean> completeDownload(
      Lease lease,
      Stored stored,
      long size,
      String sha256,
      long bytesSinceLastEvent,
      ReceivedResponse response,
      Long resumedAt,
      TaskMetrics metrics);

  /**
   * Records a completed upload ({@link Leases#completeUpload}) and the target's answer ({@code
   * response}); {@code resumedAt}: a resumption no heartbeat announced (null: none).
   */
  Future<Boolean> completeUpload(
      Lease lease,
      long bytesSent,
      ReceivedResponse response,
      long bytesSinceLastEvent,
      Long resumedAt,
      TaskMetrics metrics);

  /**
   * Records a failed attempt, retried or final ({@link Leases#failAttempt}); with a {@code
   * waitReason} the attempt does not count and the task waits until its deadline.
   */
  Future<FailOutcome> failAttempt(
      Lease lease, TaskError error, Duration backoff, String waitReason);

  /** Hands the task back to the queue ({@link Leases#release}). */
  Future<Boolean> release(Lease lease, Leases.Checkpoint checkpoint);
}
