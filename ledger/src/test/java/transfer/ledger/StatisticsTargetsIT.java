package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The busy tables are analyzed from a small sample (V13): the reaper analyzes the task table
 * several times a minute under load, and each analyze samples 300 rows per unit of the largest
 * statistics target among the table's columns.
 */
class StatisticsTargetsIT extends LedgerFixture {
  StatisticsTargetsIT() {
    super("2026-01-01T00:00:00Z");
  }

  @Test
  void everyColumnOfTheBusyTablesHasASmallStatisticsTarget() throws SQLException {
    List<String> large = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                // Null (PostgreSQL 17) or -1 (before): the server's default target, 100.
                "select c.relname || '.' || a.attname, coalesce(a.attstattarget, -1)"
                    + " from pg_attribute a join pg_class c on c.oid = a.attrelid"
                    + " where c.relnamespace = current_schema()::regnamespace"
                    + " and c.relname in ('tasks', 'events', 'event_numbers')"
                    + " and a.attnum > 0 and not a.attisdropped")) {
      int columns = 0;
      while (rs.next()) {
        columns++;
        int target = rs.getInt(2);
        if (target < 0 || target > 10) {
          large.add(rs.getString(1) + " (" + target + ")");
        }
      }
      assertThat(columns).isGreaterThan(40);
    }
    assertThat(large).as("columns analyzed from the large default sample").isEmpty();
  }

  @Test
  void anAnalyzeKeepsNoStatisticsOfThePayloads() throws SQLException {
    for (int i = 0; i < 20; i++) {
      submit();
    }
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement()) {
      st.execute("analyze tasks");
      List<String> kept = new ArrayList<>();
      try (ResultSet rs =
          st.executeQuery(
              "select attname from pg_stats where schemaname = current_schema()"
                  + " and tablename = 'tasks' and attname in ('state', 'request', 'url')"
                  + " order by attname")) {
        while (rs.next()) {
          kept.add(rs.getString(1));
        }
      }
      assertThat(kept).containsExactly("state", "url");
    }
  }
}
