package transfer.ledger;

import java.time.Instant;

/** One row of {@code objects}: a staged upload source and where its bytes are. */
public record StoredObject(
    String tenantId,
    String sessionId,
    String name,
    String location,
    long size,
    String sha256,
    Instant createdAt) {}
