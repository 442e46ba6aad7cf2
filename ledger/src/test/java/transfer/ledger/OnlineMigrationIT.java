package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.api.FlywayException;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Migrations are safe to run while the ledger serves (the second catalogue's "migrations run once,
 * online-safe"), on a real PostgreSQL, with V21 (it drops an index of {@code tasks}: a lock that
 * conflicts with every read and write of the table) as the migration under test:
 *
 * <ul>
 *   <li>Behind a long transaction, a migration gives up after its lock timeout and rolls back
 *       whole, instead of queueing a lock request that every read and write of the table would wait
 *       behind; reads and writes go on; it applies once the transaction ends.
 *   <li>Replicas that start together migrate once: Flyway's lock elects one, the others find
 *       nothing left to do.
 * </ul>
 */
class OnlineMigrationIT {
  private static final String BEFORE = "20";
  private static final String UNDER_TEST = "21";

  @Test
  void aMigrationBehindALongTransactionGivesUpAndLeavesTheLedgerServing() throws Exception {
    PGSimpleDataSource ledger = LedgerSchema.of(OnlineMigrationIT.class, BEFORE);
    PGSimpleDataSource migrator = withOptions(ledger, "-c transfer.migration_lock_timeout=1s");
    ExecutorService pool = Executors.newCachedThreadPool();
    try (Connection longTransaction = ledger.getConnection()) {
      // A long report, say: its transaction holds a shared lock on tasks until it ends.
      longTransaction.setAutoCommit(false);
      count(longTransaction, "select count(*) from tasks");

      long started = System.nanoTime();
      Future<?> migration = pool.submit(() -> LedgerSchema.migrate(migrator, UNDER_TEST));
      // While the migration waits for its lock: a read and a write of tasks, as the services
      // make them all the time. Queued behind the migration's request, they wait at most its
      // timeout.
      Thread.sleep(200);
      Future<Long> read = pool.submit(() -> timed(ledger, "select count(*) from tasks"));
      Future<Long> write =
          pool.submit(() -> timed(ledger, "update tasks set priority = priority where false"));

      assertThatThrownBy(() -> migration.get(30, TimeUnit.SECONDS))
          .hasCauseInstanceOf(FlywayException.class)
          .satisfies(e -> assertThat(sqlStateOf(e)).isEqualTo("55P03")); // lock_not_available
      long gaveUpAfter = (System.nanoTime() - started) / 1_000_000;
      assertThat(gaveUpAfter).as("the migration gave up after its timeout (ms)").isLessThan(10_000);
      assertThat(read.get(10, TimeUnit.SECONDS))
          .as("a read of tasks waited (ms)")
          .isLessThan(10_000);
      assertThat(write.get(10, TimeUnit.SECONDS)).as("a write waited (ms)").isLessThan(10_000);
      System.out.printf(
          "migration gave up after %d ms; a read waited %d ms, a write %d ms%n",
          gaveUpAfter, read.get(), write.get());
      // Rolled back whole: the column it added first is not there, the version is the old one.
      assertThat(version(ledger)).isEqualTo(BEFORE);
      assertThat(columnExists(ledger, "tenants", "quota_running_transfers")).isFalse();
      longTransaction.commit();
    } finally {
      pool.shutdownNow();
    }

    // The transaction ended: the next start migrates. (The lock timeout is SET LOCAL: it ends
    // with the migration's transaction, so a pooled connection never keeps it.)
    LedgerSchema.migrate(migrator, UNDER_TEST);
    assertThat(version(ledger)).isEqualTo(UNDER_TEST);
  }

  @Test
  void replicasThatStartTogetherMigrateOnce() throws Exception {
    PGSimpleDataSource ledger = LedgerSchema.of(OnlineMigrationIT.class, BEFORE);
    List<CompletableFuture<Void>> replicas = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      replicas.add(CompletableFuture.runAsync(() -> LedgerSchema.migrate(ledger, UNDER_TEST)));
    }
    CompletableFuture.allOf(replicas.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    assertThat(version(ledger)).isEqualTo(UNDER_TEST);
    try (Connection c = ledger.getConnection()) {
      assertThat(
              count(
                  c,
                  "select count(*) from flyway_schema_history where version = '"
                      + UNDER_TEST
                      + "'"))
          .isEqualTo(1);
    }
  }

  private static PGSimpleDataSource withOptions(PGSimpleDataSource of, String options) {
    PGSimpleDataSource s = new PGSimpleDataSource();
    s.setUrl(of.getUrl());
    s.setUser(of.getUser());
    s.setPassword(of.getPassword());
    s.setCurrentSchema(of.getCurrentSchema());
    s.setOptions(options);
    return s;
  }

  /** Runs one statement on a connection of its own; answers how long it took, in ms. */
  private static long timed(PGSimpleDataSource source, String sql) throws SQLException {
    long t0 = System.nanoTime();
    try (Connection c = source.getConnection();
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
    return Duration.ofNanos(System.nanoTime() - t0).toMillis();
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static String version(PGSimpleDataSource source) throws SQLException {
    try (Connection c = source.getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "select version from flyway_schema_history where success and version is not null"
                    + " order by installed_rank desc limit 1")) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static boolean columnExists(PGSimpleDataSource source, String table, String column)
      throws SQLException {
    try (Connection c = source.getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "select count(*) from information_schema.columns where table_schema ="
                    + " current_schema() and table_name = '"
                    + table
                    + "' and column_name = '"
                    + column
                    + "'")) {
      rs.next();
      return rs.getLong(1) > 0;
    }
  }

  private static String sqlStateOf(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s) {
        return s.getSQLState();
      }
    }
    return null;
  }
}
