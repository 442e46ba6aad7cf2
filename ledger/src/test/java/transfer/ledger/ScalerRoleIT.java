package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The autoscaler's database role (transfer.db.scaler-role): after a migration it runs the query of
 * KEDA's PostgreSQL trigger (k8s/base/worker-scaling.yaml) and reads nothing else: no URL, header
 * or other column of a task, no other table.
 */
class ScalerRoleIT extends LedgerFixture {
  private static final String ROLE = "transfer_scaler_it";
  private static final String PASSWORD = "scaler-it-password";

  /** The trigger's query, read from the manifest KEDA is given. */
  private static String triggerQuery() throws Exception {
    Path manifest = Path.of("..", "k8s", "base", "worker-scaling.yaml");
    return Files.readAllLines(manifest).stream()
        .map(String::strip)
        .filter(l -> l.startsWith("query: \""))
        .map(l -> l.substring("query: \"".length(), l.length() - 1))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no postgresql trigger query in " + manifest));
  }

  private PGSimpleDataSource scaler;

  ScalerRoleIT() {
    super("2026-01-01T00:00:00Z");
  }

  @BeforeEach
  void aScalerRoleAndTheGrantsOfAMigration() throws Exception {
    PGSimpleDataSource owner = (PGSimpleDataSource) db.dataSource();
    scaler = LedgerSchema.loginAs(owner, ROLE, PASSWORD);
    LedgerSchema.migrate(owner, null, "transfer_worker", ROLE); // the callback grants
  }

  @Test
  void theScalerRoleCountsTheTransfersRunningOrReadyAndReadsNothingElse() throws Exception {
    db.parkOpenTasks();
    submit();
    submit();
    ledger.claims().claimNext("w1", TTL).orElseThrow();
    try (Connection c = scaler.getConnection();
        Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery(triggerQuery())) {
        rs.next();
        assertThat(rs.getInt(1)).as("one running, one queued").isEqualTo(2);
      }
      for (String read :
          List.of(
              "select url from tasks limit 1",
              "select request from tasks limit 1",
              "select * from tasks limit 1",
              "select * from api_keys limit 1",
              "select * from sessions limit 1",
              "select * from events limit 1",
              "update tasks set state = state where false")) {
        assertThatThrownBy(() -> st.executeQuery(read).close())
            .as(read)
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
      }
    }
  }
}
