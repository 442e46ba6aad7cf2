package transfer.ledger;

import java.time.Instant;

/** One row of {@code tenants}, with its own quotas (null fields: the defaults apply). */
public record TenantRow(String id, String name, Instant createdAt, QuotaOverrides quotas) {}
