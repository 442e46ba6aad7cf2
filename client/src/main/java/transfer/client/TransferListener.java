package transfer.client;

import java.net.URI;
import transfer.contracts.CloudEvent;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;

/**
 * The delegate of a session, as URLSession's {@code URLSessionTaskDelegate} and {@code
 * URLSessionDownloadDelegate}: implement the methods you need, every one has a no-op default. Fed
 * by {@link KafkaEventFeed} (the results topic) or {@link SseEventFeed} (the API's event stream);
 * both deliver the same events with the same guarantees: each event at most once per {@link
 * DedupeStore}, in the session's order (increasing {@link CloudEvent#sequence()}).
 *
 * <p>Threading: callbacks run on the feed's own thread, never on the caller's; one session's
 * callbacks never run concurrently and always in order. {@link KafkaEventFeed} calls every session
 * from its one consumer thread; {@link SseEventFeed} from one thread per session. A callback that
 * throws is not counted as delivered: the event is delivered again (after a pause), so make the
 * work idempotent or let it succeed.
 *
 * <p>Each callback for an event runs after {@link #onEvent(CloudEvent)} for it, and the event
 * counts as delivered only when both returned.
 */
public interface TransferListener {

  /** Every event, first, before its typed callback: for logging or events this version lacks. */
  default void onEvent(CloudEvent event) {}

  /**
   * A task was created ({@code didCreateTask}): only in sessions created with {@code
   * "sendsCreatedEvents": true}; {@code url} is where it goes.
   */
  default void didCreateTask(TaskEvent task, String url) {}

  /**
   * Download progress ({@code urlSession(_:downloadTask:didWriteData:totalBytesWritten:
   * totalBytesExpectedToWrite:)}): bytes since the previous progress event, the total, and the
   * expected total (-1 when unknown). At most about one a second per task, plus the first and last.
   */
  default void didWriteData(
      TaskEvent task, long bytesWritten, long totalBytesWritten, long totalBytesExpectedToWrite) {}

  /** Upload progress ({@code didSendBodyData}); the same numbers as {@link #didWriteData}. */
  default void didSendBodyData(
      TaskEvent task, long bytesSent, long totalBytesSent, long totalBytesExpectedToSend) {}

  /**
   * A download's bytes are stored and verified ({@code didFinishDownloadingTo}): the storage
   * location (also readable with {@link TransferClient#downloadContent}), its size and SHA-256
   * (hex). Unlike URLSession's temporary file, the location stays until retention removes it.
   */
  default void didFinishDownloadingTo(TaskEvent task, URI location, long size, String sha256) {}

  /**
   * A download continued the bytes an earlier attempt stored, or a resumable upload the bytes its
   * target holds ({@code didResumeAtOffset}): from {@code fileOffset}, of {@code
   * expectedTotalBytes} in all (-1 when unknown).
   */
  default void didResumeAtOffset(TaskEvent task, long fileOffset, long expectedTotalBytes) {}

  /**
   * The task waits out a fault of the way to its origin ({@code taskIsWaitingForConnectivity}):
   * once per waiting spell. {@code reason} is {@code connectivity}, {@code origin_unavailable} or
   * {@code storage} ({@link transfer.contracts.WaitReasons}); {@code error} the last attempt's; the
   * next attempt is due at {@code nextAttemptAt}, and the task fails at {@code deadlineAt} if it
   * has not finished by then (null when not known).
   */
  default void taskIsWaitingForConnectivity(
      TaskEvent task,
      String reason,
      TaskError error,
      java.time.Instant nextAttemptAt,
      java.time.Instant deadlineAt) {}

  /**
   * The origin refused the task's credentials (401, 403 or 407: a stale token, an expired presigned
   * URL), and the task waits for new ones until {@code deadlineAt} (URLSession's authentication
   * challenge). Answer with {@link TransferClient#patch} and a new url or headers; a task left
   * unanswered fails {@code credentials_required} at its deadline. Called for every refusal.
   */
  default void didReceiveCredentialsChallenge(
      TaskEvent task, int httpStatus, TaskError error, java.time.Instant deadlineAt) {}

  /**
   * What the attempt that completed the task cost on the wire ({@code didFinishCollecting
   * metrics}): name resolution, connection, TLS, first byte and transfer times, redirects, the
   * remote address and protocol. Called just before {@link #didCompleteWithError} of a completed
   * task.
   */
  default void didFinishCollectingMetrics(TaskEvent task, TaskMetrics metrics) {}

  /**
   * The task is final ({@code didCompleteWithError}): {@code error} is null when it completed, else
   * why it failed or was canceled ({@code error.code()}, see {@link
   * transfer.contracts.ErrorCodes}). Exactly one per task.
   */
  default void didCompleteWithError(TaskEvent task, TaskError error) {}

  /**
   * Nothing is queued or running in the session any more and every earlier event of it was
   * published ({@code urlSessionDidFinishEvents(forBackgroundURLSession:)}).
   */
  default void didFinishEvents(String sessionId, CloudEvent event) {}

  /**
   * The session became invalid ({@code didBecomeInvalidWithError}): with a null {@code error}, its
   * {@code transfer.session.invalidated} event (a DELETE of the session: its open tasks are
   * canceled, or finish with {@code finishTasks}); with an error, a feed stopped for good: the
   * session is gone (404), the key was refused (401), or the feed was misconfigured. Not called on
   * {@code close()}. {@code sessionId} is null when the whole feed stopped.
   */
  default void didBecomeInvalidWithError(String sessionId, Throwable error) {}
}
