package transfer.ledger;

import static transfer.ledger.Sql.rows;

import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.List;

/**
 * The workers' fair shares among tenants: which running transfers to hand back so that a tenant
 * below its share gets a slot at once, instead of when another tenant's slow transfers end (the
 * claim's fair order, claim/candidates.sql, then gives it the freed slot). See
 * claim/hand-backs.sql.
 */
public final class FairShares {
  private final Tx tx;
  private final ClaimStatements sql;

  FairShares(Tx tx, ClaimStatements sql) {
    this.tx = tx;
    this.sql = sql;
  }

  /**
   * The transfers {@code owner} runs that it should hand back now: each of a tenant above its fair
   * share while another tenant's claimable tasks have waited longer than {@code grace} for a slot.
   * One read-only statement; empty when every tenant with waiting work has its share.
   */
  public List<String> handBacks(String owner, Duration grace) {
    return tx.run(
        "find the transfers of worker " + owner + " above their tenant's fair share",
        c -> {
          try (PreparedStatement ps = c.prepareStatement(sql.handBacks)) {
            ps.setTimestamp(1, Timestamp.from(tx.clock().instant().minus(grace)));
            ps.setString(2, owner);
            return rows(ps, rs -> rs.getString(1));
          }
        });
  }
}
