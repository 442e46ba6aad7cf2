package transfer.contracts;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Map;

/**
 * The body of {@code POST /v1/sessions/{sid}/tasks}. Validation lives in the api-service; the
 * worker reads the stored, validated copy.
 */
public record TaskRequest(
    TaskType type,
    String url,
    String method,
    Map<String, String> headers,
    Long expectedBytes,
    String sha256,
    String description,
    Double priority,
    Instant earliestBeginAt,
    JsonNode metadata) {}
