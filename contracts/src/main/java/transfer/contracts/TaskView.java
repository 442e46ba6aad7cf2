package transfer.contracts;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** A task as the API answers it. */
public record TaskView(
    String id,
    String sessionId,
    TaskType type,
    TaskState state,
    String url,
    String description,
    double priority,
    int attempt,
    long bytesTransferred,
    Long bytesExpected,
    TaskError error,
    String location,
    String sha256,
    JsonNode metadata,
    Instant earliestBeginAt,
    Instant createdAt,
    Instant updatedAt,
    Instant finishedAt) {}
