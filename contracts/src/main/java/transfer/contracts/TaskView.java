package transfer.contracts;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Map;

/**
 * A task as the API answers it. For an upload, {@code bytesTransferred} counts bytes sent and
 * {@code sha256} is the digest of the source. {@code resumeData} is present on a canceled or failed
 * download whose stored prefix a new task may continue from. {@code headers} names the task's own
 * request headers, each value {@value Redaction#MASK}: header values are write-only ({@link
 * Redaction}). While the task is {@code waiting}, {@code waitingReason} says why ({@link
 * WaitReasons}) and {@code nextAttemptAt} when it is due; {@code deadlineAt} is when it fails if it
 * has not finished (the session's {@code resourceTimeout} from its creation). {@code response} is
 * what the other side answered, once the task completed ({@link ReceivedResponse}). A resumable
 * upload names its {@code resumable} protocol and, once its target created it, the {@code
 * uploadResource} the body goes to.
 */
public record TaskView(
    String id,
    String sessionId,
    TaskType type,
    TaskState state,
    String url,
    String method,
    Map<String, String> headers,
    String description,
    double priority,
    int attempt,
    long bytesTransferred,
    Long bytesExpected,
    TaskError error,
    String location,
    String sha256,
    UploadSource source,
    String resumeData,
    JsonNode metadata,
    Instant earliestBeginAt,
    Instant createdAt,
    Instant updatedAt,
    Instant finishedAt,
    String waitingReason,
    Instant nextAttemptAt,
    Instant deadlineAt,
    ReceivedResponse response,
    String resumable,
    String uploadResource,
    TaskRequest.Destination destination) {}
