package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * A page of numbered events (replay, the event streams' catch-up, the relay's batch) reads that
 * page's numbers and their events by key, whatever the events kept: the plain join was planned as a
 * hash join over the whole events table once more numbers matched than a page.
 */
class EventRowsIT extends LedgerFixture {
  private static final int KEPT = 20_000;

  EventRowsIT() {
    super("2026-01-01T00:00:00Z");
  }

  /** {@code KEPT} numbered events of this test's session, all to be published, then analyzed. */
  private void keepNumberedEvents() throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement()) {
      st.execute(
          "with e as (insert into events (xid, time, tenant_id, session_id, id, type, data)"
              + " select '0'::xid8, now(), '"
              + tenant
              + "', '"
              + session
              + "', 'kept-' || i, 'transfer.task.progress', '{\"bytes\": 1}'"
              + " from generate_series(1, "
              + KEPT
              + ") i returning xid, pos, tenant_id, session_id)"
              + " insert into event_numbers (ord, xid, pos, tenant_id, session_id, seq, publish)"
              + " select (select coalesce(max(ord), 0) from event_numbers) + row_number() over (order by pos),"
              + " xid, pos, tenant_id, session_id,"
              + " row_number() over (order by pos), true from e");
      st.execute("analyze events");
      st.execute("analyze event_numbers");
    }
  }

  @Test
  void aReplayPageReadsOnlyItsOwnEvents() throws SQLException {
    keepNumberedEvents();

    // The last 4,000 of 20,000 match, and a page is 1,000 of them.
    assertThat(ledger.eventReplay().events(tenant, session, 16_000, 1000))
        .extracting(e -> e.get("sequence").asLong())
        .startsWith(16_001L, 16_002L)
        .endsWith(17_000L)
        .hasSize(1000);
    String page =
        EventReplay.EVENTS
            .replaceFirst("\\?", "'" + tenant + "'")
            .replaceFirst("\\?", "'" + session + "'")
            .replaceFirst("\\?", "16000")
            .replaceFirst("\\?", "1000");
    assertThat(PlanRows.rowsRead(db.dataSource(), page, "events")).isEqualTo(1000);
  }

  @Test
  void aRelayBatchReadsOnlyItsOwnEvents() throws SQLException {
    keepNumberedEvents();

    // The relay behind by 4,000 events (Kafka was away), its batch 1,000 of them.
    String batch =
        Outbox.NUMBERED_EVENTS
            .replaceFirst("\\?", "(select max(ord) - 4000 from event_numbers)")
            .replaceFirst("\\?", "1000");
    assertThat(PlanRows.rowsRead(db.dataSource(), batch, "events")).isEqualTo(1000);
  }
}
