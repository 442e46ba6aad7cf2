package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskState;

/**
 * The database's own guard of the state machine: the transition table of V4 equals TaskState's, and
 * a running task has a lease.
 */
class TaskTransitionsIT extends LedgerFixture {
  TaskTransitionsIT() {
    super("2026-01-01T00:00:00Z");
  }

  @Test
  void theDatabaseRefusesARunningTaskWithoutALease() throws Exception {
    TaskRow t = submit();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("update tasks set state = 'running' where id = ?")) {
      ps.setString(1, t.id());
      org.assertj.core.api.Assertions.assertThatThrownBy(ps::executeUpdate)
          .hasMessageContaining("running_has_lease");
    }
  }

  @Test
  void theDatabaseEnforcesExactlyTheTransitionTableOfTaskState() throws Exception {
    java.util.Set<String> inDatabase = new java.util.HashSet<>();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("select from_state, to_state from task_transitions");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        inDatabase.add(rs.getString(1) + ">" + rs.getString(2));
      }
    }
    java.util.Set<String> inJava = new java.util.HashSet<>();
    for (TaskState from : TaskState.values()) {
      for (TaskState to : TaskState.values()) {
        if (from.canMoveTo(to)) {
          inJava.add(from.wire() + ">" + to.wire());
        }
      }
    }
    assertThat(inDatabase).isEqualTo(inJava);

    // And the trigger applies it: a completed task cannot be queued again.
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 1, "00", 1);
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("update tasks set state = 'queued' where id = ?")) {
      ps.setString(1, t.id());
      org.assertj.core.api.Assertions.assertThatThrownBy(ps::executeUpdate)
          .hasMessageContaining("no transition from completed to queued");
    }
  }
}
