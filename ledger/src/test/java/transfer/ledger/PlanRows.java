package transfer.ledger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * How much of a table a query read, by EXPLAIN ANALYZE: the rows (or index entries) that the scans
 * of that table in its plan returned, each scan's rows times its loops. A figure that grows with
 * the table, where a timing would flake.
 */
final class PlanRows {
  private PlanRows() {}

  static long rowsRead(DataSource db, String sql, String table) throws SQLException {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("explain (analyze, format json) " + sql)) {
      rs.next();
      return rows(new ObjectMapper().readTree(rs.getString(1)).get(0).get("Plan"), table);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("EXPLAIN's JSON", e);
    }
  }

  private static long rows(JsonNode node, String table) {
    long rows =
        table.equals(node.path("Relation Name").asText())
            ? node.get("Actual Rows").asLong() * node.get("Actual Loops").asLong()
            : 0;
    for (JsonNode child : node.path("Plans")) {
      rows += rows(child, table);
    }
    return rows;
  }
}
