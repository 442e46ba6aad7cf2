package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.ledger.Claim;
import transfer.ledger.Ledger;
import transfer.ledger.QuotaOverrides;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;
import transfer.testkit.Origin;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * Downloads count against their tenant's bytes-stored quota as they are written (Allowance, V18):
 * on a real ledger, origin and disk, a download that would pass the quota stops there and fails
 * with {@code quota_exceeded}, and two downloads at once share the room left instead of each being
 * told all of it.
 */
class QuotaReservationIT {
  private static final long MIB = 1 << 20;

  private static TestAttempts.Ground ground;
  private static Vertx vertx;
  private static HttpClient client;
  private static Origin origin;

  @TempDir Path storageRoot;

  @BeforeAll
  static void infrastructure() {
    ground = TestAttempts.Ground.start(QuotaReservationIT.class);
    vertx = ground.vertx();
    client = ground.client();
    origin = ground.origin();
  }

  @AfterAll
  static void stopAll() throws Exception {
    ground.close();
  }

  private record Run(Ledger ledger, String tenant, String session, Attempts attempts) {
    TaskRow submit(long size, long seed) {
      return ledger
          .submissions()
          .submit(
              tenant,
              session,
              TaskRequest.download(origin.url("/bytes/" + size + "?seed=" + seed)),
              SessionConfig.DEFAULT.withDefaults(),
              null,
              null)
          .task();
    }

    Attempt start(TaskRow t) {
      Claim c = TestClaims.claim(ledger, t.id(), "quota-it", Duration.ofSeconds(30)).orElseThrow();
      Attempt a = attempts.of(c, io.opentelemetry.context.Context.root());
      a.start();
      return a;
    }

    TaskRow row(TaskRow t) {
      return ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    }

    long stored() {
      return ledger.tenants().usage(tenant).bytesStored();
    }
  }

  /** A tenant with its own bytes-stored quota, and downloads that reserve room in steps. */
  private Run run(long quota, long unreserved, long step) {
    Ledger ledger = new Ledger(ground.dataSource(), Clock.systemUTC());
    String[] ids = TestAttempts.tenantWithSession(ledger);
    ledger.tenants().setQuotas(ids[0], new QuotaOverrides(null, quota, null, null, null));
    FileStorage storage = new FileStorage(storageRoot, vertx, false, 256 << 10, 4 << 20, 2);
    Attempts attempts =
        TestAttempts.of(
            vertx,
            client,
            ledger,
            origin,
            storage,
            new WorkerMetrics(new SimpleMeterRegistry()),
            "quota-it",
            Duration.ofSeconds(1),
            TestAttempts.roomOn(vertx, ledger, Long.MAX_VALUE, unreserved, step));
    return new Run(ledger, ids[0], ids[1], attempts);
  }

  private static void awaitEnd(Attempt a) throws Exception {
    a.finished().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @Test
  void aDownloadStopsAtTheQuotaAndFailsWithQuotaExceeded() throws Exception {
    Run r = run(3 * MIB, MIB, MIB);
    TaskRow t = r.submit(8 * MIB, 1);

    awaitEnd(r.start(t));

    TaskRow done = r.row(t);
    assertThat(done.state()).isEqualTo(TaskState.FAILED);
    assertThat(done.error().code()).isEqualTo(ErrorCodes.QUOTA_EXCEEDED);
    assertThat(done.error().message()).contains("bytes-stored quota of " + 3 * MIB);
    assertThat(done.bytesTransferred())
        .as("it stopped reading at the quota, not at the end of the body")
        .isLessThan(5 * MIB);
    assertThat(r.stored()).as("a failed download counts nothing").isZero();
  }

  @Test
  void twoDownloadsAtOnceShareTheRoomLeft() throws Exception {
    Run r = run(3 * MIB, MIB / 2, 4 * MIB);
    TaskRow a = r.submit(2 * MIB, 2);
    TaskRow b = r.submit(2 * MIB, 3);

    List<Attempt> running = new ArrayList<>(List.of(r.start(a), r.start(b)));
    for (Attempt at : running) {
      awaitEnd(at);
    }

    List<TaskRow> rows = List.of(r.row(a), r.row(b));
    assertThat(rows)
        .extracting(TaskRow::state)
        .containsExactlyInAnyOrder(TaskState.COMPLETED, TaskState.FAILED);
    TaskRow failed =
        rows.stream().filter(x -> x.state() == TaskState.FAILED).findFirst().orElseThrow();
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.QUOTA_EXCEEDED);
    assertThat(r.stored()).as("the completed one's size").isEqualTo(2 * MIB);
  }

  @Test
  void aDownloadWithinTheQuotaCountsItsSizeOnceComplete() throws Exception {
    Run r = run(100 * MIB, MIB, 2 * MIB);
    TaskRow t = r.submit(5 * MIB + 3, 4);

    awaitEnd(r.start(t));

    assertThat(r.row(t).state()).isEqualTo(TaskState.COMPLETED);
    assertThat(r.stored()).as("its size, its reservation given back").isEqualTo(5 * MIB + 3);
  }
}
