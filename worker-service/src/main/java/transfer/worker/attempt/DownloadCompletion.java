package transfer.worker.attempt;

import io.vertx.core.Future;
import transfer.contracts.ErrorCodes;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.ledger.TaskRow;
import transfer.storage.Stored;
import transfer.worker.storage.DownloadBody;
import transfer.worker.storage.LeaseGate;

/**
 * The end of a download whose bytes are all stored: the digest check, publishing the body (at the
 * destination the task named, once the lease is renewed: {@link LeaseGate}), the fenced commit, and
 * what is deleted after it. See DESIGN.md, "Named destinations".
 */
final class DownloadCompletion {
  private final Attempt attempt;
  private final TaskRow task;
  private final DownloadBody body;

  DownloadCompletion(Attempt attempt, DownloadBody body) {
    this.attempt = attempt;
    this.task = attempt.task();
    this.body = body;
  }

  /** Every byte is written, forced and hashed: the digest decides, then the fenced commit. */
  void verifyAndCommit(long size, String digest, ReceivedResponse answered, TaskMetrics wire) {
    String expected = task.request().sha256();
    if (expected != null && !expected.equalsIgnoreCase(digest)) {
      attempt.finishFailed(
          TaskError.of(
              ErrorCodes.CHECKSUM_MISMATCH,
              "SHA-256 of the body is " + digest + ", expected " + expected.toLowerCase(),
              false));
      return;
    }
    attempt.complete(sinceLastEvent -> commit(size, digest, sinceLastEvent, answered, wire));
  }

  /**
   * Publishes the body (moved to its final name, whose directory the ledger writer syncs before its
   * commit; or the S3 object completed) and records the completion under the fence. If the fence
   * refuses it, the body just published is deleted; if the ledger took it, whatever earlier
   * attempts of the task left is.
   */
  private Future<Outcome> commit(
      long size, String digest, long sinceLastEvent, ReceivedResponse answered, TaskMetrics wire) {
    long epoch = attempt.epoch();
    Scheduler scheduler = attempt.scheduler();
    LeaseGate gate = attempt.leaseGate();
    return scheduler
        .blocking(() -> body.publish(size, gate))
        .compose(
            stored ->
                attempt
                    .leases()
                    .completeDownload(
                        attempt.lease(),
                        stored,
                        size,
                        digest,
                        sinceLastEvent,
                        answered,
                        attempt.unannouncedResumption(),
                        wire)
                    .compose(
                        committed ->
                            committed && epoch == 1
                                ? Future.succeededFuture(true) // a first attempt left nothing
                                : scheduler.blocking(() -> tidy(committed, stored))))
        .<Outcome>map(
            committed ->
                committed
                    ? new Outcome.Completed(
                        String.format(
                            "completed, %d bytes, sha256 %s (epoch %d)", size, digest, epoch))
                    : Outcome.Fenced.completionNotRecorded(
                        String.format(
                            "finished the body but epoch %d was superseded; %s",
                            epoch,
                            task.request().destinationKey() == null
                                ? "discarded it"
                                : "left its destination to the attempt the ledger took")))
        .recover(
            e ->
                e instanceof LeaseGate.LeaseLapsed
                    ? Future.<Outcome>succeededFuture(
                        Outcome.Fenced.completionNotRecorded(
                            String.format(
                                "finished the body but did not publish it to its destination:"
                                    + " %s (epoch %d); the task's next attempt takes over",
                                e.getMessage(), epoch)))
                    : Future.failedFuture(e));
  }

  /** After the completion's write: earlier attempts' leftovers, or the refused body, go. */
  private boolean tidy(boolean committed, Stored stored) {
    if (committed) {
      body.dropEarlier(); // none for a first attempt
    } else {
      body.discard(stored);
    }
    return committed;
  }
}
