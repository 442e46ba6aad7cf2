package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.ledger.Claim;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;
import transfer.testkit.Origin;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * The group commit on a real ledger, origin and disk: many small downloads completing at once are
 * recorded in fewer transactions than one per write, each task completed once with its events; and
 * what an attempt costs the ledger (statements executed and commits, counted on the connections the
 * ledger gets), written one write per transaction and grouped.
 */
class GroupCommitIT {
  private static final int DOWNLOADS = 24;
  private static TestAttempts.Ground ground;
  private static Origin origin;
  private static Vertx vertx;
  private static HttpClient client;

  @TempDir Path storageRoot;

  @BeforeAll
  static void infrastructure() {
    ground = TestAttempts.Ground.start(GroupCommitIT.class);
    origin = ground.origin();
    vertx = ground.vertx();
    client = ground.client();
  }

  @AfterAll
  static void stopAll() throws Exception {
    ground.close();
  }

  /** Statements executed and commits made on the connections of a data source. */
  static final class Counting implements DataSource {
    final DataSource target;
    final AtomicLong statements = new AtomicLong();
    final AtomicLong commits = new AtomicLong();

    Counting(DataSource target) {
      this.target = target;
    }

    @Override
    public Connection getConnection() throws java.sql.SQLException {
      Connection c = target.getConnection();
      return (Connection)
          Proxy.newProxyInstance(
              getClass().getClassLoader(),
              new Class<?>[] {Connection.class},
              (proxy, m, args) -> {
                if (m.getName().equals("commit")) {
                  commits.incrementAndGet();
                }
                Object out = invoke(c, m, args);
                if (out instanceof PreparedStatement ps) {
                  return statement(ps);
                }
                return out;
              });
    }

    private PreparedStatement statement(PreparedStatement ps) {
      return (PreparedStatement)
          Proxy.newProxyInstance(
              getClass().getClassLoader(),
              new Class<?>[] {PreparedStatement.class},
              (proxy, m, args) -> {
                if (m.getName().startsWith("execute")) {
                  statements.incrementAndGet();
                }
                return invoke(ps, m, args);
              });
    }

    private static Object invoke(Object target, java.lang.reflect.Method m, Object[] args)
        throws Throwable {
      try {
        return m.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }

    @Override
    public Connection getConnection(String user, String password) {
      throw new UnsupportedOperationException();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> iface) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  }

  /** What {@link #DOWNLOADS} small downloads at once cost the ledger, through one writer. */
  record Cost(long statements, long commits, long groups) {
    double statementsPerTask() {
      return (double) statements / DOWNLOADS;
    }

    double commitsPerTask() {
      return (double) commits / DOWNLOADS;
    }
  }

  private Cost run(GroupCommit.Settings settings, String name) throws Exception {
    Counting counting = new Counting(ground.dataSource());
    Ledger counted = new Ledger(counting, Clock.systemUTC());
    Ledger plain = new Ledger(ground.dataSource(), Clock.systemUTC());
    String[] ids = TestAttempts.tenantWithSession(plain);
    FileStorage storage =
        new FileStorage(storageRoot.resolve(name), vertx, false, 256 << 10, 4 << 20, 2);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    WorkerMetrics metrics = new WorkerMetrics(registry);
    GroupCommit writer = TestAttempts.ledgerWriter(vertx, counted, storage, metrics, settings);
    Attempts attempts =
        TestAttempts.of(
            vertx, client, writer, origin, storage, metrics, name, Duration.ofMinutes(5));

    List<Claim> claims = new ArrayList<>();
    for (int i = 0; i < DOWNLOADS; i++) {
      TaskRow t =
          plain
              .submissions()
              .submit(
                  ids[0],
                  ids[1],
                  TaskRequest.download(origin.url("/bytes/65536?seed=" + (500 + i))),
                  SessionConfig.DEFAULT.withDefaults(),
                  null,
                  null)
              .task();
      claims.add(TestClaims.claim(plain, t.id(), name, Duration.ofSeconds(30)).orElseThrow());
    }
    List<Attempt> running = new ArrayList<>();
    for (Claim c : claims) {
      running.add(attempts.of(c, io.opentelemetry.context.Context.root()));
    }
    running.forEach(Attempt::start);
    for (Attempt a : running) {
      a.finished().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    for (Claim c : claims) {
      TaskRow done = plain.taskControl().task(ids[0], ids[1], c.task().id()).orElseThrow();
      assertThat(done.state()).as(done.id()).isEqualTo(TaskState.COMPLETED);
    }
    plain.eventSequencer().sequenceEvents(100_000);
    long completedEvents =
        plain.eventReplay().events(ids[0], ids[1], 0, 10_000).stream()
            .filter(e -> e.get("type").asText().equals("transfer.task.completed"))
            .count();
    assertThat(completedEvents).isEqualTo(DOWNLOADS);
    long groups =
        registry.find(transfer.contracts.Metric.WORKER_LEDGER_GROUP.meterName()).summary().count();
    Cost cost = new Cost(counting.statements.get(), counting.commits.get(), groups);
    System.out.printf(
        "%s: %d small downloads, %d statements (%.2f per task), %d commits (%.2f per task),"
            + " %d groups%n",
        name,
        DOWNLOADS,
        cost.statements(),
        cost.statementsPerTask(),
        cost.commits(),
        cost.commitsPerTask(),
        groups);
    return cost;
  }

  @Test
  void smallDownloadsCompletingTogetherShareCommitsAndStatements() throws Exception {
    Cost alone = run(new GroupCommit.Settings(Duration.ZERO, 1), "one-per-write");
    Cost grouped = run(new GroupCommit.Settings(Duration.ofMillis(20), 500), "grouped");

    // One write per transaction: its update, and its events' insert when it has events.
    assertThat(alone.commits()).isEqualTo(alone.groups());
    assertThat(alone.statements()).isLessThanOrEqualTo(2 * alone.commits());
    // Grouped: the same writes in fewer transactions, a statement per kind, the events' insert,
    // and the lock of a group of more than one kind.
    assertThat(grouped.commits()).isEqualTo(grouped.groups());
    assertThat(grouped.commits()).isLessThan(alone.commits());
    assertThat(grouped.statements()).isLessThan(alone.statements());
  }
}
