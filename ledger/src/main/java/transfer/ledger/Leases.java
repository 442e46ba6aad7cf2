package transfer.ledger;

import java.time.Duration;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;

/**
 * What a worker writes while it holds a task: heartbeats with progress and checkpoints, the
 * completion, a failed attempt, a hand-back. Each write is fenced by the epoch of the claim; a
 * write that finds another epoch changes nothing and tells the worker to stop. Each call here is
 * one transaction; {@link LeaseBatch} writes those of many tasks in one, by the same statements.
 */
public final class Leases {
  private final LeaseBatch batch;

  Leases(LeaseBatch batch) {
    this.batch = batch;
  }

  /**
   * A durable prefix: {@code bytes} flushed to the temporary object of attempt {@code epoch}, and
   * the validators of the response they came from. The next attempt may resume from it.
   */
  public record Checkpoint(long bytes, long epoch, String etag, String lastModified, String state) {
    /** A checkpoint whose storage needs nothing more than its bytes and epoch (a file). */
    public Checkpoint(long bytes, long epoch, String etag, String lastModified) {
      this(bytes, epoch, etag, lastModified, null);
    }
  }

  /**
   * What a worker reports at a heartbeat: progress, a new checkpoint (or null), and whether to
   * publish a progress event; {@code resumedAt}: a resumption to announce (null: none); {@code
   * uploadResource}: the resource a resumable upload's target just created (null: unchanged).
   */
  public record Heartbeat(
      long bytesTransferred,
      Checkpoint checkpoint,
      Long bytesExpected,
      boolean progressEvent,
      long bytesSinceLastEvent,
      Long resumedAt,
      String uploadResource) {

    /** A heartbeat that records no upload resource. */
    public Heartbeat(
        long bytesTransferred,
        Checkpoint checkpoint,
        Long bytesExpected,
        boolean progressEvent,
        long bytesSinceLastEvent,
        Long resumedAt) {
      this(
          bytesTransferred,
          checkpoint,
          bytesExpected,
          progressEvent,
          bytesSinceLastEvent,
          resumedAt,
          null);
    }

    /** A heartbeat that does not announce a resumption. */
    public Heartbeat(
        long bytesTransferred,
        Checkpoint checkpoint,
        Long bytesExpected,
        boolean progressEvent,
        long bytesSinceLastEvent) {
      this(bytesTransferred, checkpoint, bytesExpected, progressEvent, bytesSinceLastEvent, null);
    }
  }

  /**
   * Renews the lease and records progress, fenced by its epoch. False means the worker no longer
   * owns the task and must stop at once.
   */
  public boolean heartbeat(Lease lease, Duration leaseTtl, Heartbeat hb) {
    return batch.writeOne(new LeaseWrite.Renew(lease, leaseTtl, hb));
  }

  /**
   * Marks a download completed under the fence and writes its {@code downloaded} and {@code
   * completed} events, whose ids derive from the task so that no retry can mint a second
   * completion. A last progress event (the whole size; {@code bytesSinceLastEvent} since the
   * previous one) comes first. False: fenced out; the caller deletes its object.
   */
  public boolean completeDownload(
      Lease lease, String location, long size, String sha256, long bytesSinceLastEvent) {
    return completeDownload(lease, location, size, sha256, bytesSinceLastEvent, null);
  }

  /** As above, with what the origin answered ({@code response}, kept with the task). */
  public boolean completeDownload(
      Lease lease,
      String location,
      long size,
      String sha256,
      long bytesSinceLastEvent,
      ReceivedResponse response) {
    return batch.writeOne(
        new LeaseWrite.CompleteDownload(
            lease, location, size, sha256, bytesSinceLastEvent, response));
  }

  /**
   * Marks an upload completed under the fence: a last progress event (bytes sent) and its
   * completion event, whose data carries the target's answer status. False: fenced out.
   */
  public boolean completeUpload(
      Lease lease, long bytesSent, int httpStatus, long bytesSinceLastEvent) {
    return batch.writeOne(
        new LeaseWrite.CompleteUpload(
            lease, bytesSent, httpStatus, bytesSinceLastEvent, null, null, null));
  }

  /** What became of a failed attempt. */
  public enum FailOutcome {
    /** Waiting for another attempt after the backoff. */
    RETRY_SCHEDULED,
    /** Final: the task failed and its completion event is written. */
    FAILED,
    /**
     * Final, and the completion offers resumeData: keep the temporary object of the durable prefix
     * (retention removes it).
     */
    FAILED_RESUMABLE,
    /** The worker no longer held the task; nothing was written. */
    FENCED
  }

  /**
   * Records a failed attempt under the fence: retried after {@code backoff} when the error is
   * retryable and attempts remain, else final with its completion event.
   */
  public FailOutcome failAttempt(Lease lease, TaskError error, Duration backoff) {
    return failAttempt(lease, error, backoff, null);
  }

  /**
   * As {@link #failAttempt(Lease, TaskError, Duration)}; with a {@code waitReason} ({@link
   * transfer.contracts.WaitReasons#uncounted}) the attempt does not count against the task's
   * attempts: it waits, until its deadline, and announces a new waiting spell with {@code
   * transfer.task.waiting}.
   */
  public FailOutcome failAttempt(
      Lease lease, TaskError error, Duration backoff, String waitReason) {
    return batch.writeOne(new LeaseWrite.Fail(lease, error, backoff, waitReason));
  }

  /**
   * Hands a running task back (graceful stop): queued again with a fresh doorbell so another worker
   * continues at once; the attempt does not count.
   */
  public boolean release(Lease lease, Checkpoint checkpoint) {
    return batch.writeOne(new LeaseWrite.Release(lease, checkpoint));
  }
}
