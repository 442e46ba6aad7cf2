package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.UploadSource;

/**
 * The usage counters (V10): kept by the triggers on tasks and objects through every kind of change,
 * equal to a count of the rows at every step; corrected by the recount when something bypassed
 * them, exactly, while writers run; striped so that one tenant's transactions on different
 * connections do not wait for each other. Also prints what the triggers cost an update.
 */
class TenantUsageIT extends LedgerFixture {
  TenantUsageIT() {
    super("2026-06-01T00:00:00Z");
  }

  /** The usage counted from the rows, as the recount counts it. */
  private TenantUsage counted(String tenantId) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select (select count(*) from tasks where tenant_id = ? and state in ('queued',"
                    + " 'waiting', 'running', 'suspended')),"
                    + " coalesce((select sum(bytes_transferred) from tasks where tenant_id = ?"
                    + " and state = 'completed' and type = 'download'), 0)"
                    + " + coalesce((select sum(bytes_reserved) from tasks where tenant_id = ?"
                    + " and state in ('queued', 'waiting', 'running', 'suspended')"
                    + " and type = 'download'), 0)"
                    + " + coalesce((select sum(size) from objects where tenant_id = ?), 0)")) {
      ps.setString(1, tenantId);
      ps.setString(2, tenantId);
      ps.setString(3, tenantId);
      ps.setString(4, tenantId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new TenantUsage(rs.getLong(1), rs.getLong(2));
      }
    }
  }

  private void assertCounters(long tasksInFlight, long bytesStored) throws SQLException {
    TenantUsage expected = new TenantUsage(tasksInFlight, bytesStored);
    assertThat(counted(tenant)).as("counted from the rows").isEqualTo(expected);
    assertThat(ledger.tenants().usage(tenant)).as("the counters").isEqualTo(expected);
  }

  private void sql(String statement, Object... params) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement(statement)) {
      Sql.bind(ps, params);
      ps.executeUpdate();
    }
  }

  private StoredObject object(String name, long size) {
    return new StoredObject(tenant, session, name, "file:///" + name, size, "00", clock.instant());
  }

  @Test
  void theCountersFollowEveryChangeOfTasksAndObjects() throws Exception {
    assertCounters(0, 0);
    TaskRow a = submit(download("http://127.0.0.1:9/a"));
    TaskRow b = submit(download("http://127.0.0.1:9/b"));
    TaskRow c = submit(download("http://127.0.0.1:9/c"));
    ledger
        .submissions()
        .submitBatch(
            tenant,
            session,
            List.of(download("http://127.0.0.1:9/d"), download("http://127.0.0.1:9/e")),
            null,
            null,
            null);
    assertCounters(5, 0);

    // Suspended tasks are in flight; a canceled one is not.
    ledger.taskControl().suspend(tenant, session, a.id());
    assertCounters(5, 0);
    ledger.taskControl().cancel(tenant, session, a.id(), false);
    assertCounters(4, 0);

    // A completed download's bytes count; a heartbeat changes nothing.
    long epoch = TestClaims.claim(ledger, b.id(), "w", TTL).orElseThrow().epoch();
    assertThat(heartbeat(b.id(), epoch)).isTrue();
    assertCounters(4, 0);
    assertThat(
            ledger.leases().completeDownload(Lease.of(b.id(), epoch), "file:///b", 700, "ab", 700))
        .isTrue();
    assertCounters(3, 700);

    // A failed attempt with attempts left waits (in flight); the last one fails it.
    long e2 = TestClaims.claim(ledger, c.id(), "w", TTL).orElseThrow().epoch();
    ledger
        .leases()
        .failAttempt(
            Lease.of(c.id(), e2), new TaskError("http-status", "503", 503, true), Duration.ZERO);
    assertCounters(3, 700);

    // An upload of the completed download adds no bytes when it completes.
    TaskRow up =
        submit(TaskRequest.upload("http://127.0.0.1:9/up", "PUT", UploadSource.ofTask(b.id())));
    assertCounters(4, 700);
    long e3 = TestClaims.claim(ledger, up.id(), "w", TTL).orElseThrow().epoch();
    assertThat(ledger.leases().completeUpload(Lease.of(up.id(), e3), 700, 201, 700)).isTrue();
    assertCounters(3, 700);

    // Staged objects: put, replace, delete.
    ledger.stagedObjects().putObject(object("o1", 100));
    ledger.stagedObjects().putObject(object("o2", 20));
    assertCounters(3, 820);
    ledger.stagedObjects().putObject(object("o1", 300));
    assertCounters(3, 1020);
    ledger.stagedObjects().deleteObject(tenant, session, "o2");
    assertCounters(3, 1000);

    // Retention removes the completed download with its bytes (and the other finished tasks).
    clock.advance(Duration.ofDays(10));
    ledger.purging().purgeExpired(clock.instant(), clock.instant(), 1000);
    assertCounters(3, 300);

    // A session invalidated without finishing cancels what is open.
    ledger.sessions().invalidateSession(tenant, session, false);
    assertCounters(0, 300);
    // Another tenant's counters are its own.
    assertThat(ledger.tenants().usage("other-" + tenant)).isEqualTo(TenantUsage.NONE);
  }

  @Test
  void theRecountCorrectsWhatBypassedTheCountersAndNothingElse() throws Exception {
    submit();
    submit();
    ledger.stagedObjects().putObject(object("o", 50));
    assertThat(ledger.tenants().recountUsage()).isEmpty();
    // Writes the triggers did not see: counters edited by hand, a task inserted with them off.
    sql(
        "update tenant_usage set tasks_in_flight = tasks_in_flight + 5, bytes_stored ="
            + " bytes_stored - 7 where tenant_id = ? and slot = (select min(slot) from"
            + " tenant_usage where tenant_id = ?)",
        tenant,
        tenant);
    assertThat(ledger.tenants().usage(tenant)).isEqualTo(new TenantUsage(7, 43));

    List<TenantUsage.Drift> drift = ledger.tenants().recountUsage();
    assertThat(drift).containsExactly(new TenantUsage.Drift(tenant, -5, 7));
    assertCounters(2, 50);
    assertThat(ledger.tenants().recountUsage()).isEmpty();
  }

  @Test
  void aRecountWhileTenantsSubmitAndCancelCorrectsNothing() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> writers = new ArrayList<>();
    for (int w = 0; w < 3; w++) {
      writers.add(
          pool.submit(
              () -> {
                while (!stop.get()) {
                  TaskRow t = submit();
                  ledger.taskControl().cancel(tenant, session, t.id(), false);
                  submit();
                }
                return null;
              }));
    }
    List<TenantUsage.Drift> corrections = new ArrayList<>();
    Instant until = Instant.now().plusSeconds(3);
    int recounts = 0;
    while (Instant.now().isBefore(until)) {
      corrections.addAll(ledger.tenants().recountUsage());
      recounts++;
    }
    stop.set(true);
    for (Future<?> f : writers) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertThat(recounts).isPositive();
    assertThat(corrections).as("drift found while writers ran").isEmpty();
    TenantUsage now = counted(tenant);
    assertThat(now.tasksInFlight()).isPositive();
    assertThat(ledger.tenants().usage(tenant)).isEqualTo(now);
  }

  /** A connection of the ledger whose backend uses counter slot {@code slot} (pid mod 16). */
  private Connection connectionOnSlot(int slot, List<Connection> spare) throws SQLException {
    for (int i = 0; i < 200; i++) {
      Connection c = db.dataSource().getConnection();
      try (Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("select pg_backend_pid() % 16")) {
        rs.next();
        if (rs.getInt(1) == slot) {
          return c;
        }
      }
      spare.add(c);
    }
    throw new IllegalStateException("no connection on slot " + slot);
  }

  private static int slotOf(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("select pg_backend_pid() % 16")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /** Cancels a queued task: a counted change, which takes its slot's counter row. */
  private static void cancelOne(Connection c, String taskId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("update tasks set state = 'canceled' where id = ?")) {
      ps.setString(1, taskId);
      ps.executeUpdate();
    }
  }

  @Test
  void oneTenantsTransactionsOnConnectionsOfOtherSlotsDoNotWaitForEachOther() throws Exception {
    TaskRow first = submit();
    TaskRow second = submit();
    TaskRow third = submit();
    List<Connection> spare = new ArrayList<>();
    try (Connection a = db.dataSource().getConnection()) {
      int slot = slotOf(a);
      try (Connection other = connectionOnSlot((slot + 1) % 16, spare);
          Connection same = connectionOnSlot(slot, spare)) {
        a.setAutoCommit(false);
        cancelOne(a, first.id()); // holds the tenant's row of its slot until it commits
        try (Statement st = other.createStatement()) {
          st.execute("set lock_timeout = '2s'");
        }
        cancelOne(other, second.id()); // another slot's row: commits without waiting
        try (Statement st = same.createStatement()) {
          st.execute("set lock_timeout = '200ms'");
        }
        // The same slot's row: waits for a's commit (here: refused after 200 ms).
        assertThatThrownBy(() -> cancelOne(same, third.id()))
            .isInstanceOf(SQLException.class)
            .hasMessageContaining("lock timeout");
        a.commit();
        cancelOne(same, third.id());
      }
    } finally {
      for (Connection c : spare) {
        c.close();
      }
    }
    assertCounters(0, 0);
  }

  /** Runs {@code statements} updates; answers microseconds per statement. */
  private double microsPer(int statements, SqlWork work) throws Exception {
    try (Connection c = db.dataSource().getConnection()) {
      long t0 = System.nanoTime();
      for (int i = 0; i < statements; i++) {
        work.run(c, i);
      }
      return (System.nanoTime() - t0) / 1000.0 / statements;
    }
  }

  @FunctionalInterface
  private interface SqlWork {
    void run(Connection c, int i) throws SQLException;
  }

  private void triggers(boolean on) throws SQLException {
    sql("alter table tasks " + (on ? "enable" : "disable") + " trigger tasks_usage_update");
  }

  @Test
  void whatTheUpdateTriggerCostsAHeartbeatAndAManyRowUpdate() throws Exception {
    db.parkQueuedTasks();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      ledger
          .submissions()
          .submitBatch(
              tenant,
              session,
              java.util.Collections.nCopies(500, download("http://127.0.0.1:9/x")),
              null,
              null,
              null)
          .tasks()
          .forEach(t -> ids.add(t.id()));
    }
    assertCounters(2000, 0);
    SqlWork heartbeat =
        (c, i) -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "update tasks set bytes_transferred = ?, updated_at = now() where id = ?")) {
            ps.setLong(1, i);
            ps.setString(2, ids.get(i % ids.size()));
            ps.executeUpdate();
          }
        };
    SqlWork manyRows =
        (c, i) ->
            sql(
                "update tasks set state = ? where tenant_id = ? and session_id = ? and state = ?",
                i % 2 == 0 ? "suspended" : "queued",
                tenant,
                session,
                i % 2 == 0 ? "queued" : "suspended");
    microsPer(500, heartbeat); // warm up
    double heartbeatOn = microsPer(3000, heartbeat);
    double manyOn = microsPer(6, manyRows);
    triggers(false);
    double heartbeatOff = microsPer(3000, heartbeat);
    double manyOff = microsPer(6, manyRows);
    triggers(true);
    System.out.printf(
        "USAGE TRIGGER: a one-row update without a state change %.1f us with the trigger,"
            + " %.1f us without; a 2000-row state change %.0f us with, %.0f us without%n",
        heartbeatOn, heartbeatOff, manyOn, manyOff);
    // Six state changes of all 2000 tasks between two states in flight: nothing to count.
    assertCounters(2000, 0);
    sql("update tasks set state = 'canceled' where tenant_id = ?", tenant);
    assertCounters(0, 0);
  }
}
