package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import transfer.testkit.TestInfra;

/** The chaos cluster's ledger as the tests read it: task rows, counts, one-off statements. */
final class ChaosLedger {
  private final TestInfra infra;

  ChaosLedger(TestInfra infra) {
    this.infra = infra;
  }

  Connection db() throws SQLException {
    return DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
  }

  /** The lease-related columns of a task row, read straight from the ledger. */
  record Row(
      String state,
      int attempt,
      String owner,
      long epoch,
      Instant leaseExpiresAt,
      long bytesTransferred,
      long bytesDurable,
      String location,
      String sha256) {}

  Row row(String taskId) {
    try (Connection c = db();
        PreparedStatement ps =
            c.prepareStatement(
                "select state, attempt, lease_owner, lease_epoch, lease_expires_at,"
                    + " bytes_transferred, bytes_durable, location, sha256 from tasks where id = ?")) {
      ps.setString(1, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).as("task %s exists in the ledger", taskId).isTrue();
        Timestamp exp = rs.getTimestamp(5);
        return new Row(
            rs.getString(1),
            rs.getInt(2),
            rs.getString(3),
            rs.getLong(4),
            exp == null ? null : exp.toInstant(),
            rs.getLong(6),
            rs.getLong(7),
            rs.getString(8),
            rs.getString(9));
      }
    } catch (SQLException e) {
      throw new AssertionError("cannot read task " + taskId + ": " + e.getMessage(), e);
    }
  }

  /** Runs one statement; answers the update count. */
  int update(String sql, Object... params) throws SQLException {
    try (Connection c = db();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      return ps.executeUpdate();
    }
  }

  /** The first column of a query as longs. */
  long count(String sql, Object... params) throws SQLException {
    try (Connection c = db();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** State counts of one session's tasks. */
  Map<String, Long> statesOf(String sid) throws SQLException {
    Map<String, Long> states = new LinkedHashMap<>();
    try (Connection c = db();
        PreparedStatement ps =
            c.prepareStatement(
                "select state, count(*) from tasks where session_id = ? group by state"
                    + " order by state")) {
      ps.setString(1, sid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          states.put(rs.getString(1), rs.getLong(2));
        }
      }
    }
    return states;
  }
}
