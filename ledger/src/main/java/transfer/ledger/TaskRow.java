package transfer.ledger;

import java.time.Instant;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * One row of {@code tasks}, as read by the services. {@code trace} is the W3C trace context the
 * task was submitted in (null when none was stored); {@code uncountedAttempts} are the attempts
 * that ended in a fault the task waited out, and {@code waitingReason} why it waits or last waited
 * ({@link transfer.contracts.WaitReasons}); {@code durableState} is what the storage needs to
 * continue the checkpoint (opaque here; null on the file system); {@code uploadResource} is the URL
 * a resumable upload's target created for it (null until then, and for every other task).
 */
public record TaskRow(
    String id,
    String tenantId,
    String sessionId,
    TaskType type,
    TaskState state,
    String url,
    TaskRequest request,
    double priority,
    int attempt,
    int maxAttempts,
    Instant nextAttemptAt,
    String leaseOwner,
    long leaseEpoch,
    Instant leaseExpiresAt,
    long bytesTransferred,
    long bytesDurable,
    Long bytesExpected,
    String etag,
    String lastModified,
    String location,
    String sha256,
    TaskError error,
    Instant createdAt,
    Instant updatedAt,
    Instant finishedAt,
    Long durableEpoch,
    Instant deadlineAt,
    String host,
    boolean discretionary,
    String durableTask,
    String sourceLocation,
    Long sourceSize,
    String sourceSha256,
    String resumeData,
    TraceContext trace,
    int uncountedAttempts,
    String waitingReason,
    ReceivedResponse response,
    String uploadResource,
    String durableState)
    implements LogFields.Task {

  /** The attempts that count against {@code maxAttempts}: not those that waited out a fault. */
  public int countedAttempts() {
    return attempt - uncountedAttempts;
  }

  /** The task whose temporary objects hold this task's durable prefix. */
  public String prefixOwner() {
    return durableTask != null ? durableTask : id;
  }
}
