package transfer.contracts;

import java.time.Instant;

/** A session as the API answers it. */
public record SessionView(
    String id, String state, SessionConfig config, Instant createdAt, Instant updatedAt) {}
