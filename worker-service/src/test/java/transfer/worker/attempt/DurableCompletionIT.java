package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.ledger.Claim;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;
import transfer.storage.StorageLayout;
import transfer.storage.StoredFiles;
import transfer.testkit.Origin;
import transfer.testkit.RecordingDurability;
import transfer.testkit.RecordingDurability.Kind;
import transfer.testkit.RecordingDurability.Sync;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * A download is durable before the ledger records it: on a real ledger, origin and disk, the
 * storage's durability calls are recorded with the task's state in the ledger at each moment. The
 * body is forced while the task is still running, then moved to its final name, whose directory is
 * synced while the task is still running; only then is the task completed. Without either call a
 * machine crash right after the completion could leave a task that says {@code completed} with a
 * SHA-256 whose bytes (or name) are gone.
 */
class DurableCompletionIT {
  private static TestAttempts.Ground ground;
  private static PGSimpleDataSource dataSource;
  private static Origin origin;
  private static Vertx vertx;
  private static HttpClient client;

  @TempDir Path storageRoot;

  @BeforeAll
  static void infrastructure() {
    ground = TestAttempts.Ground.start(DurableCompletionIT.class);
    dataSource = ground.dataSource();
    origin = ground.origin();
    vertx = ground.vertx();
    client = ground.client();
  }

  @AfterAll
  static void stopAll() throws Exception {
    ground.close();
  }

  /** The task's state as the ledger holds it, read on its own connection. */
  private static String stateOf(String taskId) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("select state from tasks where id = ?")) {
      ps.setString(1, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void theBodyIsForcedAndItsNameSyncedBeforeTheLedgerRecordsTheCompletion() throws Exception {
    Ledger ledger = new Ledger(dataSource, Clock.systemUTC());
    String[] ids = TestAttempts.tenantWithSession(ledger);
    String tenant = ids[0];
    String session = ids[1];
    long size = 1024 * 1024 + 7;
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                TaskRequest.download(origin.url("/bytes/" + size + "?seed=71")),
                SessionConfig.DEFAULT.withDefaults(),
                null,
                null)
            .task();
    // At each call: the task's state in the ledger, and a file's size on disk.
    RecordingDurability durability =
        new RecordingDurability()
            .observe(p -> stateOf(t.id()) + (p.toFile().isFile() ? " " + p.toFile().length() : ""));
    StoredFiles files = new StoredFiles(new StorageLayout(storageRoot), durability);
    FileStorage storage = new FileStorage(files, vertx, false, 256 << 10, 4 << 20, 2);
    Claim claim =
        TestClaims.claim(ledger, t.id(), "durable-it", Duration.ofSeconds(30)).orElseThrow();
    long epoch = claim.epoch();

    Attempt attempt =
        TestAttempts.of(
                vertx,
                client,
                ledger,
                origin,
                storage,
                new WorkerMetrics(new SimpleMeterRegistry()),
                "durable-it",
                // No checkpoint: the only force of the body is the one that precedes completion.
                Duration.ofMinutes(5))
            .of(claim, io.opentelemetry.context.Context.root());
    attempt.start();
    attempt.finished().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);

    TaskRow done = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(done.state()).isEqualTo(TaskState.COMPLETED);
    Path stored = storageRoot.resolve(tenant).resolve(session).resolve(t.id() + ".e" + epoch);
    assertThat(done.location()).isEqualTo(StorageLayout.location(stored));

    List<Sync> syncs = durability.syncs();
    Path temporary = files.layout().temporary(t.id(), epoch);
    List<Sync> forced =
        syncs.stream().filter(s -> s.kind() == Kind.FORCE && s.path().equals(temporary)).toList();
    assertThat(forced)
        .as("the temporary object's last force, before the completion")
        .isNotEmpty()
        .last()
        .extracting(Sync::observed)
        .isEqualTo("running " + size);
    Sync named =
        syncs.stream()
            .filter(s -> s.kind() == Kind.DIRECTORY && s.path().equals(stored.getParent()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("the final directory was never synced"));
    assertThat(named.entries()).contains(stored.getFileName().toString());
    assertThat(named.observed()).as("the ledger when the name was synced").isEqualTo("running");
    assertThat(syncs.indexOf(named)).isGreaterThan(syncs.indexOf(forced.get(forced.size() - 1)));
  }
}
