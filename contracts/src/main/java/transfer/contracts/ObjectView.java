package transfer.contracts;

import java.time.Instant;

/** An object staged for uploads with {@code PUT /v1/sessions/{sid}/objects/{name}}. */
public record ObjectView(
    String name, String sessionId, long size, String sha256, Instant createdAt) {}
