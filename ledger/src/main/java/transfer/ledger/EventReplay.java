package transfer.ledger;

import static transfer.ledger.Sql.rows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.PreparedStatement;
import java.util.List;
import transfer.contracts.Json;

/** A session's numbered events, read back in order (replay). */
public final class EventReplay {
  private final Tx tx;
  private final ObjectMapper json = Json.mapper();

  EventReplay(Tx tx) {
    this.tx = tx;
  }

  /** Stored events of a session after {@code afterSeq}, in order (replay). */
  public List<JsonNode> events(String tenantId, String sessionId, long afterSeq, int limit) {
    return tx.run(
        "read events of session " + sessionId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select payload from events where tenant_id = ? and session_id = ? and seq > ?"
                      + " order by seq limit ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setLong(3, afterSeq);
            ps.setInt(4, limit);
            return rows(ps, rs -> json.readTree(rs.getString(1)));
          }
        });
  }
}
