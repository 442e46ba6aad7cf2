package transfer.ledger;

import static transfer.ledger.StoredJson.read;
import static transfer.ledger.TaskRows.TASK_COLUMNS;
import static transfer.ledger.TaskRows.taskRow;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import transfer.contracts.SessionConfig;

/**
 * Claims one named task, for tests that need a particular task running. A worker never does: it
 * claims the best task it may start ({@link Claims#claimNext}), whichever doorbell woke it. This
 * claim skips the sessions' limits and the ranking, and is the same update otherwise.
 */
public final class TestClaims {
  private TestClaims() {}

  /**
   * Claims the queued task {@code taskId} for {@code owner}: one conditional update that bumps the
   * fencing epoch and the attempt. Empty when the task is not queued (already claimed, final, or
   * unknown).
   */
  public static Optional<Claim> claim(
      Ledger ledger, String taskId, String owner, Duration leaseTtl) {
    Tx tx = ledger.tx();
    return tx.run(
        "claim task " + taskId,
        c -> {
          Instant now = tx.clock().instant();
          try (PreparedStatement ps =
              c.prepareStatement(
                  "update tasks t set state = 'running', lease_owner = ?,"
                      + " lease_epoch = t.lease_epoch + 1, lease_expires_at = ?,"
                      + " attempt = t.attempt + 1, next_attempt_at = null, updated_at = ?"
                      + " from sessions s where t.id = ? and t.state = 'queued'"
                      + " and s.tenant_id = t.tenant_id and s.id = t.session_id"
                      + " returning "
                      + TASK_COLUMNS
                      + ", s.config as session_config")) {
            ps.setString(1, owner);
            ps.setTimestamp(2, Timestamp.from(now.plus(leaseTtl)));
            ps.setTimestamp(3, Timestamp.from(now));
            ps.setString(4, taskId);
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                return Optional.empty();
              }
              TaskRow row = taskRow(rs);
              SessionConfig cfg = read(rs.getString("session_config"), SessionConfig.class);
              return Optional.of(new Claim(row, cfg.withDefaults()));
            }
          }
        });
  }
}
