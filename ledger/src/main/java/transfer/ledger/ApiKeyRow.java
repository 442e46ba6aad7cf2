package transfer.ledger;

import java.time.Instant;

/** One key of a tenant, without its hash: the admin API shows ids and dates, never secrets. */
public record ApiKeyRow(String id, String tenantId, Instant createdAt, Instant revokedAt) {}
