package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.testkit.TestInfra;

/**
 * A ledger of its own for each test class, on the one PostgreSQL the test JVM shares ({@link
 * TestInfra#shared()}): Flyway migrates into a schema named for the class (dropped first, so a
 * class starts from an empty ledger), and the data source's {@code currentSchema} is that schema.
 * One class's tasks never reach another's claims, reaper or statistics.
 *
 * <pre>{@code
 * @RegisterExtension static final LedgerSchema db = new LedgerSchema();
 * ... new Ledger(db.dataSource(), clock)
 * }</pre>
 *
 * Test classes of a JVM run one after another; {@link #dataSource()} is the current class's.
 */
public final class LedgerSchema implements BeforeAllCallback {
  private DataSource dataSource;

  @Override
  public void beforeAll(ExtensionContext context) {
    dataSource = of(context.getRequiredTestClass());
  }

  /** The current test class's ledger. */
  public DataSource dataSource() {
    if (dataSource == null) {
      throw new IllegalStateException("LedgerSchema is used before its class began");
    }
    return dataSource;
  }

  /** A ledger migrated into the schema named for {@code testClass} (its simple name). */
  public static PGSimpleDataSource of(Class<?> testClass) {
    return of(testClass, null);
  }

  /**
   * A ledger migrated into the schema named for {@code testClass} up to the migration {@code
   * version} (null: the last), for a test of a migration on data written before it ({@link
   * #migrate}).
   */
  public static PGSimpleDataSource of(Class<?> testClass, String version) {
    String schema = testClass.getSimpleName().toLowerCase(Locale.ROOT);
    TestInfra infra = TestInfra.shared();
    PGSimpleDataSource source = new PGSimpleDataSource();
    source.setUrl(infra.jdbcUrl());
    source.setUser(infra.dbUser());
    source.setPassword(infra.dbPassword());
    try (Connection c = source.getConnection();
        Statement st = c.createStatement()) {
      st.execute("drop schema if exists \"" + schema + "\" cascade");
    } catch (SQLException e) {
      throw new IllegalStateException("cannot drop schema " + schema, e);
    }
    source.setCurrentSchema(schema);
    migrate(source, version);
    return source;
  }

  /**
   * Migrates the ledger of {@code source} (its current schema) up to {@code version} (null: last).
   */
  public static void migrate(PGSimpleDataSource source, String version) {
    migrate(source, version, "transfer_worker");
  }

  /**
   * A login role of the database ({@code role}, made if missing), and a data source of {@code
   * owner}'s schema that logs in as it: for the tests of what a migration grants a role.
   */
  public static PGSimpleDataSource loginAs(PGSimpleDataSource owner, String role, String password)
      throws SQLException {
    try (Connection c = owner.getConnection();
        java.sql.Statement st = c.createStatement()) {
      st.execute(
          "do $$ begin if not exists (select from pg_roles where rolname = '"
              + role
              + "') then create role "
              + role
              + " login password '"
              + password
              + "'; end if; end $$");
    }
    PGSimpleDataSource as = new PGSimpleDataSource();
    as.setUrl(owner.getUrl());
    as.setCurrentSchema(owner.getCurrentSchema());
    as.setUser(role);
    as.setPassword(password);
    return as;
  }

  /** As {@link #migrate(PGSimpleDataSource, String)}, granting {@code workerRole} data rights. */
  public static void migrate(PGSimpleDataSource source, String version, String workerRole) {
    migrate(source, version, workerRole, "transfer_scaler");
  }

  /**
   * As {@link #migrate(PGSimpleDataSource, String, String)}, granting {@code scalerRole} the read
   * of tasks' states.
   */
  public static void migrate(
      PGSimpleDataSource source, String version, String workerRole, String scalerRole) {
    String schema = source.getCurrentSchema();
    var config =
        Flyway.configure()
            .dataSource(source)
            .schemas(schema)
            .defaultSchema(schema)
            .placeholders(java.util.Map.of("workerRole", workerRole, "scalerRole", scalerRole));
    if (version != null) {
      config.target(version);
    }
    config.load().migrate();
  }

  /**
   * The keys of the records of a topic the relay has still to publish, oldest first: outbox rows
   * (doorbells), and for {@code transfer-events} the sessions of the numbered events after the
   * relay's cursor that their sessions send.
   */
  public List<String> outboxKeys(String topic) throws SQLException {
    try (Connection c = dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select msg_key from (select 0 as part, id as ord, msg_key from outbox"
                    + " where topic = ? union all select 1, n.ord, n.session_id"
                    + " from event_numbers n, event_publisher p"
                    + " where ? = 'transfer-events' and n.publish and n.ord > p.ord) r"
                    + " order by part, ord")) {
      ps.setString(1, topic);
      ps.setString(2, topic);
      try (ResultSet rs = ps.executeQuery()) {
        List<String> out = new ArrayList<>();
        while (rs.next()) {
          out.add(rs.getString(1));
        }
        return out;
      }
    }
  }

  /**
   * Publishes nothing but forgets everything there was to publish (no relay runs in the ledger's
   * tests): the outbox emptied, the relay's cursor after the last numbered event.
   */
  public void clearOutbox() throws SQLException {
    update("delete from outbox");
    update("update event_publisher set ord = (select last_ord from event_sequencer)");
  }

  /** Parks the queued tasks earlier tests left behind: a claim ranks every queued task. */
  /** Fresh planner statistics of the task table (a test that built a queue plans on them). */
  public void analyzeTasks() throws SQLException {
    update("analyze tasks");
  }

  public void parkQueuedTasks() throws SQLException {
    update("update tasks set state = 'suspended' where state = 'queued'");
  }

  /** Parks the queued and running tasks other tests left (fair shares count every tenant's). */
  public void parkOpenTasks() throws SQLException {
    update(
        "update tasks set state = 'suspended', lease_owner = null, lease_expires_at = null"
            + " where state in ('queued', 'running')");
  }

  private void update(String sql) throws SQLException {
    try (Connection c = dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.executeUpdate();
    }
  }
}
