package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.ErrorCodes;
import transfer.contracts.Metric;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.ledger.Claim;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;
import transfer.testkit.Origin;
import transfer.testkit.PrometheusText;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * What attempts report to the worker's metrics, on a real ledger, origin and storage: each
 * attempt's end counted once with its outcome and error code, the bytes as they move, the lease
 * lost when the task is taken away, and the origin's host in use while a request is in flight. The
 * registry is Prometheus's inside a composite, as in the service, and read back as scraped.
 */
class AttemptMetricsIT {
  private static TestAttempts.Ground ground;
  private static PGSimpleDataSource dataSource;
  private static Origin origin;
  private static Vertx vertx;
  private static HttpClient client;

  @TempDir Path storageRoot;

  private Ledger ledger;
  private PrometheusMeterRegistry prometheus;
  private WorkerMetrics metrics;
  private FileStorage storage;
  private String tenant;
  private String session;

  @BeforeAll
  static void infrastructure() {
    ground = TestAttempts.Ground.start(AttemptMetricsIT.class);
    dataSource = ground.dataSource();
    origin = ground.origin();
    vertx = ground.vertx();
    client = ground.client();
  }

  @AfterAll
  static void stopAll() throws Exception {
    ground.close();
  }

  @BeforeEach
  void fresh() {
    ledger = new Ledger(dataSource, Clock.systemUTC());
    prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    metrics =
        new WorkerMetrics(
            new CompositeMeterRegistry(
                io.micrometer.core.instrument.Clock.SYSTEM, List.of(prometheus)));
    storage = new FileStorage(storageRoot, vertx, false, 4 << 20, 16 << 20, 2);
    String[] ids = TestAttempts.tenantWithSession(ledger);
    tenant = ids[0];
    session = ids[1];
  }

  @AfterEach
  void closeRegistry() {
    prometheus.close();
  }

  private PrometheusText scrape() {
    return PrometheusText.parse(prometheus.scrape());
  }

  private double value(String name, String... labels) {
    return scrape().value(name, labels).orElse(0);
  }

  /** Submits and claims a download of {@code path} at the origin, and starts its attempt. */
  private Attempt download(String path) {
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                TaskRequest.download(origin.url(path)),
                SessionConfig.DEFAULT.withDefaults(),
                null,
                null)
            .task();
    Claim claim =
        TestClaims.claim(ledger, t.id(), "metrics-it", Duration.ofSeconds(30)).orElseThrow();
    Attempt a =
        TestAttempts.of(
                vertx,
                client,
                ledger,
                origin,
                storage,
                metrics,
                "metrics-it",
                Duration.ofSeconds(5))
            .of(claim);
    a.start();
    return a;
  }

  private static void awaitEnd(Attempt a) throws Exception {
    a.finished().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private TaskState state(Attempt a) {
    return ledger.taskControl().task(tenant, session, a.taskId()).orElseThrow().state();
  }

  @Test
  void aCompletedDownloadCountsOneCompletedAttemptAndItsSize() throws Exception {
    long size = 3 * 1024 * 1024 + 17;
    Attempt a = download("/bytes/" + size + "?seed=41");
    awaitEnd(a);

    assertThat(state(a)).isEqualTo(TaskState.COMPLETED);
    assertThat(
            value(
                "transfer_worker_attempts_total",
                "type",
                "download",
                "outcome",
                WorkerMetrics.COMPLETED,
                "error_code",
                WorkerMetrics.NO_ERROR))
        .isEqualTo(1);
    // Only that one series moved: no other outcome, nothing lost.
    assertThat(value("transfer_worker_attempts_total")).isEqualTo(1);
    assertThat(value("transfer_worker_leases_lost_total")).isZero();
    assertThat(value("transfer_worker_bytes_total", "direction", "download")).isEqualTo(size);
    assertThat(value("transfer_worker_bytes_total", "direction", "upload")).isZero();
    // The request is over: its host's series is gone.
    assertThat(scrape().has("transfer_worker_connections")).isFalse();
  }

  @Test
  void aFinalAndARetryableStatusAreCountedByOutcomeWithTheirErrorCode() throws Exception {
    Attempt gone = download("/bytes/100?seed=42&status=404");
    Attempt busy = download("/bytes/100?seed=43&status=503");
    awaitEnd(gone);
    awaitEnd(busy);

    assertThat(state(gone)).isEqualTo(TaskState.FAILED);
    assertThat(state(busy)).isEqualTo(TaskState.WAITING);
    PrometheusText t = scrape();
    assertThat(
            t.value(
                    "transfer_worker_attempts_total",
                    "outcome",
                    WorkerMetrics.FAILED,
                    "error_code",
                    ErrorCodes.HTTP_STATUS)
                .orElse(0))
        .isEqualTo(1);
    assertThat(
            t.value(
                    "transfer_worker_attempts_total",
                    "outcome",
                    WorkerMetrics.RETRY,
                    "error_code",
                    ErrorCodes.HTTP_STATUS)
                .orElse(0))
        .isEqualTo(1);
    assertThat(t.value("transfer_worker_attempts_total", "outcome", WorkerMetrics.COMPLETED))
        .hasValue(0);
    // Error pages are judged before their body is read: no byte counted.
    assertThat(t.value("transfer_worker_bytes_total", "direction", "download")).hasValue(0);
  }

  @Test
  void whileABodyStreamsItsHostIsInUseAndACancelIsALostLease() throws Exception {
    // About 10 s of body: long enough to look at it in flight and to cancel it.
    Attempt a = download("/bytes/1000000?seed=44&rate=100000");

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              PrometheusText t = scrape();
              assertThat(t.value("transfer_worker_connections", "host", "127.0.0.1")).hasValue(1);
              assertThat(
                      t.value("transfer_worker_bytes_total", "direction", "download").getAsDouble())
                  .isPositive();
            });
    // Every worker metric is served, under the name the dashboard uses.
    PrometheusText all = scrape();
    for (Metric m : Metric.of(Metric.Service.WORKER)) {
      if (m == Metric.WORKER_SLOTS || m == Metric.WORKER_TRANSFERS_RUNNING) {
        continue; // registered by Slots, which this test does not build
      }
      if (m == Metric.WORKER_DOORBELLS_PARKED) {
        continue; // registered by the doorbell consumer's claimer, which this test does not build
      }
      for (String series : m.series()) {
        assertThat(all.has(series)).as("%s (%s) is served", series, m.meterName()).isTrue();
      }
    }

    assertThat(ledger.taskControl().cancel(tenant, session, a.taskId(), false)).isPresent();
    awaitEnd(a);

    PrometheusText t = scrape();
    assertThat(t.value("transfer_worker_leases_lost_total", "reason", WorkerMetrics.SUPERSEDED))
        .hasValue(1);
    assertThat(
            t.value(
                "transfer_worker_attempts_total",
                "outcome",
                WorkerMetrics.FENCED,
                "error_code",
                WorkerMetrics.NO_ERROR))
        .hasValue(1);
    assertThat(t.value("transfer_worker_attempts_total")).hasValue(1);
    assertThat(t.has("transfer_worker_connections")).isFalse();
  }
}
