package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.TaskState;
import transfer.ledger.LeaseWrite.CompleteDownload;

/**
 * The workers' database role (transfer.db.worker-role): after a migration it may do all a worker
 * does, claim, write its leases, complete, with the real statements, and nothing to the schema: no
 * table created, altered or dropped, no line of the migration history rewritten.
 */
class WorkerRoleIT extends LedgerFixture {
  private static final String ROLE = "transfer_worker_it";
  private static final String PASSWORD = "worker-it-password";
  private PGSimpleDataSource worker;

  WorkerRoleIT() {
    super("2026-01-01T00:00:00Z");
  }

  @BeforeEach
  void aWorkerRoleAndTheGrantsOfAMigration() throws Exception {
    PGSimpleDataSource owner = (PGSimpleDataSource) db.dataSource();
    worker = LedgerSchema.loginAs(owner, ROLE, PASSWORD);
    LedgerSchema.migrate(owner, null, ROLE); // nothing to migrate: the callback grants
  }

  @Test
  void theWorkerRoleClaimsWritesAndCompletesWithTheRealStatements() {
    TaskRow t = submit();
    Ledger asWorker = new Ledger(worker, clock);
    Claim claim = asWorker.claims().claimNext("w1", TTL).orElseThrow();
    assertThat(claim.task().id()).isEqualTo(t.id());
    List<Object> written =
        asWorker
            .leaseBatch()
            .writeAll(List.of(new CompleteDownload(claim.lease(), "file:///x", 5, "ab", 5, null)));
    assertThat(written).containsExactly(true);
    assertThat(state(t)).isEqualTo(TaskState.COMPLETED);
  }

  @Test
  void theWorkerRoleCannotChangeTheSchemaOrItsHistory() throws Exception {
    try (Connection c = worker.getConnection();
        Statement st = c.createStatement()) {
      for (String ddl :
          List.of(
              "create table intruder (id int)",
              "alter table tasks add column intruder int",
              "drop table events",
              "delete from flyway_schema_history",
              "truncate outbox")) {
        assertThatThrownBy(() -> st.execute(ddl))
            .as(ddl)
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isIn("42501", "42P01"));
      }
    }
  }
}
