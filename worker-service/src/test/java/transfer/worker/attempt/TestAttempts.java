package transfer.worker.attempt;

import io.opentelemetry.api.OpenTelemetry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import transfer.egress.EgressPolicy;
import transfer.ledger.Ledger;
import transfer.testkit.Origin;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;

/**
 * Attempts as the worker makes them, on a test's ledger, origin and storage: a 30 s lease renewed
 * every 100 ms, the origin the one destination allowed, no tracing.
 */
final class TestAttempts {
  private TestAttempts() {}

  static Attempts of(
      Vertx vertx,
      HttpClient client,
      Ledger ledger,
      Origin origin,
      FileStorage storage,
      WorkerMetrics metrics,
      String workerId,
      Duration checkpointInterval) {
    return new Attempts(
        vertx,
        LeaseWriter.of(ledger.leases(), vertx),
        new LeaseTimer.Terms(Duration.ofSeconds(30), Duration.ofMillis(100), 0.8),
        Clock.systemUTC(),
        new AttemptTelemetry.Sinks(metrics, OpenTelemetry.noop().getTracer("test"), workerId),
        new Outbound(
            client,
            new Egress(
                EgressPolicy.of(List.of("127.0.0.1:" + origin.port()), EgressPolicy.DEFAULT_PORTS),
                InetAddress::getAllByName,
                vertx),
            1L << 40,
            5),
        storage,
        checkpointInterval);
  }
}
