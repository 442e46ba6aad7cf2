package transfer.ledger;

import java.time.Duration;
import transfer.contracts.TaskError;
import transfer.ledger.Leases.Checkpoint;
import transfer.ledger.Leases.FailOutcome;

/**
 * One write a lease holder makes, as a value: {@link LeaseBatch} writes any number of them (of
 * distinct tasks) in one transaction, {@link Leases} (or {@link LeaseBatch#writeOne}) one at a
 * time. {@code A} is its answer: true (or a {@link FailOutcome} other than {@link
 * FailOutcome#FENCED}) when the lease was still held and the write made; false (or {@code FENCED})
 * when the task is no longer the lease's and nothing was written.
 */
public sealed interface LeaseWrite<A> {

  /** The lease the write is fenced by. */
  Lease lease();

  /** What the write does, for a failure's message: "heartbeat task …". */
  String what();

  /** The answer a write of this kind gets when its lease is no longer held. */
  A fenced();

  /** Renews the lease and records progress and a checkpoint ({@link Leases#heartbeat}). */
  record Renew(Lease lease, Duration ttl, Leases.Heartbeat heartbeat)
      implements LeaseWrite<Boolean> {
    @Override
    public String what() {
      return "heartbeat task " + lease.taskId();
    }

    @Override
    public Boolean fenced() {
      return false;
    }
  }

  /**
   * Records a completed download ({@link Leases#completeDownload}); {@code metrics}: what the
   * attempt cost on the wire, for the completion event (null: none).
   */
  record CompleteDownload(
      Lease lease,
      String location,
      long size,
      String sha256,
      long bytesSinceLastEvent,
      transfer.contracts.ReceivedResponse response,
      Long resumedAt,
      transfer.contracts.TaskMetrics metrics)
      implements LeaseWrite<Boolean> {
    /** A completion that announces no resumption (the heartbeats did, or there was none). */
    public CompleteDownload(
        Lease lease,
        String location,
        long size,
        String sha256,
        long bytesSinceLastEvent,
        transfer.contracts.ReceivedResponse response) {
      this(lease, location, size, sha256, bytesSinceLastEvent, response, null, null);
    }

    @Override
    public String what() {
      return "complete task " + lease.taskId();
    }

    @Override
    public Boolean fenced() {
      return false;
    }
  }

  /**
   * Records a completed upload ({@link Leases#completeUpload}); {@code resumedAt}: the offset a
   * resumable upload continued from that no heartbeat announced (null: none); {@code metrics} as
   * for a download.
   */
  record CompleteUpload(
      Lease lease,
      long bytesSent,
      int httpStatus,
      long bytesSinceLastEvent,
      transfer.contracts.ReceivedResponse response,
      Long resumedAt,
      transfer.contracts.TaskMetrics metrics)
      implements LeaseWrite<Boolean> {
    @Override
    public String what() {
      return "complete upload " + lease.taskId();
    }

    @Override
    public Boolean fenced() {
      return false;
    }
  }

  /**
   * Records a failed attempt, retried or final ({@link Leases#failAttempt}); {@code waitReason}:
   * the attempt does not count, the task waits for this reason ({@link
   * transfer.contracts.WaitReasons#uncounted}), or null.
   */
  record Fail(Lease lease, TaskError error, Duration backoff, String waitReason)
      implements LeaseWrite<FailOutcome> {
    @Override
    public String what() {
      return "record failure of task " + lease.taskId();
    }

    @Override
    public FailOutcome fenced() {
      return FailOutcome.FENCED;
    }
  }

  /** Hands the task back to the queue ({@link Leases#release}); {@code checkpoint} may be null. */
  record Release(Lease lease, Checkpoint checkpoint) implements LeaseWrite<Boolean> {
    @Override
    public String what() {
      return "hand back task " + lease.taskId();
    }

    @Override
    public Boolean fenced() {
      return false;
    }
  }
}
