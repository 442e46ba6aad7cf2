package transfer.ledger;

import static transfer.ledger.Sql.rows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.PreparedStatement;
import java.util.List;
import transfer.contracts.Json;

/** A session's numbered events, read back in order (replay, the event streams). */
public final class EventReplay {
  /** A session's events after a number, in order, a page at a time. */
  static final String EVENTS =
      "select "
          + EventRows.COLUMNS
          + " from "
          + EventRows.fromNumbers(
              "select * from event_numbers n where n.tenant_id = ? and n.session_id = ?"
                  + " and n.seq > ? order by n.seq limit ?")
          + " order by n.seq";

  private final Tx tx;
  private final ObjectMapper json = Json.mapper();

  EventReplay(Tx tx) {
    this.tx = tx;
  }

  /** Stored events of a session after {@code afterSeq}, in order, as CloudEvents (replay). */
  public List<JsonNode> events(String tenantId, String sessionId, long afterSeq, int limit) {
    return tx.run(
        "read events of session " + sessionId,
        c -> {
          try (PreparedStatement ps = c.prepareStatement(EVENTS)) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setLong(3, afterSeq);
            ps.setInt(4, limit);
            // Parsed from the text the relay publishes, so a reader sees what a Kafka consumer
            // sees.
            return rows(ps, rs -> json.readTree(StoredJson.write(EventRows.cloudEvent(rs, 1))));
          }
        });
  }
}
