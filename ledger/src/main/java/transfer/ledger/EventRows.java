package transfer.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.sql.ResultSet;
import java.sql.SQLException;
import transfer.contracts.CloudEvent;
import transfer.contracts.Json;

/**
 * A numbered event as replay, the event streams and the relay read it: its number ({@code
 * event_numbers}) joined to its row ({@code events}), and the CloudEvent built from the columns.
 * The event is stored once, without its JSON: the JSON is the same for every reader (the CloudEvent
 * record's order, the data as stored), so what a Kafka consumer and an SSE client get is the same
 * text.
 */
final class EventRows {
  /** The number joined to its event (for a lookup of one). */
  static final String FROM = "event_numbers n join events e on e.xid = n.xid and e.pos = n.pos";

  /**
   * The numbers that {@code numbers} selects (a query over {@code event_numbers n}, ordered and
   * limited), each with its event read by primary key. Spelled so, because the plain join ({@link
   * #FROM}) with a condition and a limit on the numbers was planned as a hash join over the whole
   * events table whenever more numbers matched than a page: 78 ms for a page of 1,000 with 42,000
   * events kept, growing with history, against 5 ms this way (EventRowsIT counts the rows read).
   */
  static String fromNumbers(String numbers) {
    return "("
        + numbers
        + ") n cross join lateral"
        // offset 0: the subquery stays a subquery, read once per number, by the primary key
        + " (select * from events e where e.xid = n.xid and e.pos = n.pos offset 0) e";
  }

  /** The columns {@link #cloudEvent} reads, from its {@code first} index on. */
  static final String COLUMNS =
      "n.seq, e.tenant_id, e.session_id, e.id, e.type, e.task_id, e.time, e.data::text";

  private EventRows() {}

  /** The CloudEvent of the row, read from {@link #COLUMNS} starting at column {@code first}. */
  static CloudEvent cloudEvent(ResultSet rs, int first) throws SQLException {
    String sessionId = rs.getString(first + 2);
    try {
      return new CloudEvent(
          CloudEvent.SPEC_VERSION,
          rs.getString(first + 3),
          rs.getString(first + 4),
          CloudEvent.sourceOf(sessionId),
          rs.getString(first + 5),
          rs.getTimestamp(first + 6).toInstant(),
          rs.getLong(first),
          "application/json",
          Json.mapper().readTree(rs.getString(first + 7)),
          rs.getString(first + 1));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "stored data of event " + rs.getString(first + 3) + " is not JSON", e);
    }
  }
}
