package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
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
    List<String[]> columns;
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                // Null (PostgreSQL 17) or -1 (before): the server's default target, 100.
                "select c.relname || '.' || a.attname, coalesce(a.attstattarget, -1)::text"
                    + " from pg_attribute a join pg_class c on c.oid = a.attrelid"
                    + " where c.relnamespace = current_schema()::regnamespace"
                    + " and c.relname in ('tasks', 'events', 'event_numbers')"
                    + " and a.attnum > 0 and not a.attisdropped")) {
      columns = Sql.rows(ps, rs -> new String[] {rs.getString(1), rs.getString(2)});
    }
    assertThat(columns).hasSizeGreaterThan(40);
    List<String> large = new ArrayList<>();
    for (String[] col : columns) {
      int target = Integer.parseInt(col[1]);
      if (target < 0 || target > 10) {
        large.add(col[0] + " (" + target + ")");
      }
    }
    assertThat(large).as("columns analyzed from the large default sample").isEmpty();
  }

  @Test
  void anAnalyzeKeepsNoStatisticsOfThePayloads() throws SQLException {
    for (int i = 0; i < 20; i++) {
      submit();
    }
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement();
        PreparedStatement ps =
            c.prepareStatement(
                "select attname from pg_stats where schemaname = current_schema()"
                    + " and tablename = 'tasks' and attname in ('state', 'request', 'url')"
                    + " order by attname")) {
      st.execute("analyze tasks");
      assertThat(Sql.rows(ps, rs -> rs.getString(1))).containsExactly("state", "url");
    }
  }
}
