package transfer.ledger;

import java.time.Instant;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;

/** One row of {@code sessions}. {@code created} tells an upsert's caller whether it was new. */
public record SessionRow(
    String tenantId,
    String id,
    String state,
    SessionConfig config,
    Instant createdAt,
    Instant updatedAt,
    boolean created) {

  public SessionView toView() {
    return new SessionView(id, state, config, createdAt, updatedAt);
  }
}
