package transfer.worker.attempt;

import io.opentelemetry.api.OpenTelemetry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.SessionConfig;
import transfer.egress.EgressPolicy;
import transfer.ledger.Ledger;
import transfer.ledger.LedgerSchema;
import transfer.testkit.Origin;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;
import transfer.worker.storage.StorageHealth;

/**
 * Attempts as the worker makes them, on a test's ledger, origin and storage: a 30 s lease renewed
 * every 100 ms, the origin the one destination allowed, no tracing.
 */
final class TestAttempts {
  private TestAttempts() {}

  /**
   * What an attempt IT runs on: the ledger in a schema of the test class's own, an origin, and a
   * Vert.x with its HTTP client. Closed after the class.
   */
  record Ground(PGSimpleDataSource dataSource, Origin origin, Vertx vertx, HttpClient client)
      implements AutoCloseable {
    static Ground start(Class<?> testClass) {
      Vertx vertx = Vertx.vertx();
      return new Ground(
          LedgerSchema.of(testClass), Origin.start(), vertx, vertx.createHttpClient());
    }

    @Override
    public void close() throws Exception {
      for (GroupCommit w : WRITERS) {
        w.close();
      }
      WRITERS.clear();
      client.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
      vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
      origin.close();
    }
  }

  /** A new tenant with a session of the defaults, on {@code ledger}: {tenant, session}. */
  static String[] tenantWithSession(Ledger ledger) {
    String tenant = "t-" + UUID.randomUUID();
    String session = "s-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
    return new String[] {tenant, session};
  }

  /** The ledger writers made for the attempts of the test class, closed with its ground. */
  private static final List<GroupCommit> WRITERS =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * The worker's ledger writer on {@code ledger}, the names of moved downloads synced by {@code
   * storage}: a group commit of a 2 ms window.
   */
  static GroupCommit ledgerWriter(
      Vertx vertx, Ledger ledger, FileStorage storage, WorkerMetrics metrics) {
    return ledgerWriter(
        vertx, ledger, storage, metrics, new GroupCommit.Settings(Duration.ofMillis(2), 500));
  }

  /** A ledger writer of the given window and group size, closed with the test class's ground. */
  static GroupCommit ledgerWriter(
      Vertx vertx,
      Ledger ledger,
      FileStorage storage,
      WorkerMetrics metrics,
      GroupCommit.Settings settings) {
    GroupCommit w =
        new GroupCommit(
            GroupCommit.Ledger.of(ledger.leaseBatch()),
            storage.files()::syncDirectory,
            vertx,
            metrics,
            settings);
    WRITERS.add(w);
    return w;
  }

  static Attempts of(
      Vertx vertx,
      HttpClient client,
      Ledger ledger,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval) {
    return of(
        vertx,
        client,
        ledgerWriter(vertx, ledger, storage, metrics),
        origin,
        storage,
        metrics,
        workerId,
        checkpointInterval);
  }

  /** As above, with downloads reserving room in their tenants' quotas on {@code ledger}. */
  static Attempts of(
      Vertx vertx,
      HttpClient client,
      Ledger ledger,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval,
      Allowance.Terms room) {
    return of(
        vertx,
        client,
        ledgerWriter(vertx, ledger, storage, metrics),
        origin,
        storage,
        metrics,
        workerId,
        checkpointInterval,
        room);
  }

  /** Room reserved on {@code ledger}, as the worker reserves it (Slots). */
  static Allowance.Terms roomOn(
      Vertx vertx, Ledger ledger, long defaultQuota, long unreserved, long step) {
    return new Allowance.Terms(
        (lease, tenantId, wanted) ->
            vertx.executeBlocking(
                () -> ledger.reservations().reserve(lease, tenantId, wanted, defaultQuota), false),
        unreserved,
        step);
  }

  /** Attempts whose lease writes go to {@code writer}. */
  static Attempts of(
      Vertx vertx,
      HttpClient client,
      LeaseWriter writer,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval) {
    return of(
        vertx,
        client,
        writer,
        origin,
        storage,
        metrics,
        workerId,
        checkpointInterval,
        UNLIMITED_ROOM);
  }

  /** Attempts whose lease writes go to {@code writer}, downloads reserving {@code room}. */
  static Attempts of(
      Vertx vertx,
      HttpClient client,
      LeaseWriter writer,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval,
      Allowance.Terms room) {
    return of(
        vertx,
        client,
        writer,
        origin,
        storage,
        metrics,
        workerId,
        checkpointInterval,
        room,
        new StorageHealth(null));
  }

  /** As above, storage failures told to {@code health}. */
  static Attempts of(
      Vertx vertx,
      HttpClient client,
      LeaseWriter writer,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval,
      Allowance.Terms room,
      StorageHealth health) {
    return new Attempts(
        vertx,
        writer,
        new LeaseTimer.Terms(Duration.ofSeconds(30), Duration.ofMillis(100), 0.8),
        Clock.systemUTC(),
        new AttemptTelemetry.Sinks(
            metrics, OpenTelemetry.noop().getTracer("test"), workerId, health),
        new Outbound(
            OriginClients.of(client),
            new Egress(
                EgressPolicy.of(List.of("127.0.0.1:" + origin.port()), EgressPolicy.DEFAULT_PORTS),
                InetAddress::getAllByName,
                vertx),
            1L << 40,
            5),
        new transfer.worker.storage.UploadSources(storage, null, null),
        new transfer.worker.storage.FileDownloads(storage),
        checkpointInterval,
        room);
  }

  /** A quota that always has room: every reservation is granted in full. */
  static final Allowance.Terms UNLIMITED_ROOM =
      new Allowance.Terms(
          (lease, tenantId, wanted) ->
              io.vertx.core.Future.succeededFuture(
                  new transfer.ledger.Reservations.Grant(true, wanted, 0, Long.MAX_VALUE)),
          8L << 20,
          64L << 20);
}
