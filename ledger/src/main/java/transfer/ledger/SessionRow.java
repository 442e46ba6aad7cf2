package transfer.ledger;

import java.time.Instant;
import transfer.contracts.SessionConfig;

/**
 * One row of {@code sessions}. {@code created} tells an upsert's caller whether it was new; {@code
 * lastEventSequence} is the sequence of its newest numbered event (0: none yet).
 */
public record SessionRow(
    String tenantId,
    String id,
    SessionState state,
    SessionConfig config,
    Instant createdAt,
    Instant updatedAt,
    long lastEventSequence,
    boolean created) {}
