package transfer.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.contracts.Metric;
import transfer.contracts.TaskType;

/** The per-host connection gauge stays bounded, and the counters carry their labels. */
class WorkerMetricsTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final WorkerMetrics metrics = new WorkerMetrics(registry);

  private List<Gauge> hostGauges() {
    return List.copyOf(registry.find(Metric.WORKER_CONNECTIONS.meterName()).gauges());
  }

  private double inUse(String host) {
    return registry.get(Metric.WORKER_CONNECTIONS.meterName()).tag("host", host).gauge().value();
  }

  @Test
  void aHostHasASeriesWhileItHasRequestsInFlight() {
    String a = metrics.connectionOpened("files.example");
    String b = metrics.connectionOpened("files.example");
    assertThat(a).isEqualTo(b).isEqualTo("files.example");
    assertThat(inUse("files.example")).isEqualTo(2);

    metrics.connectionClosed(a);
    assertThat(inUse("files.example")).isEqualTo(1);
    metrics.connectionClosed(b);
    assertThat(hostGauges()).isEmpty();
    metrics.connectionClosed(null); // nothing was open: ignored

    // A host that comes back gets its series again.
    metrics.connectionOpened("files.example");
    assertThat(inUse("files.example")).isEqualTo(1);
  }

  @Test
  void hostsBeyondTheCapAreCountedAsOther() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < WorkerMetrics.MAX_HOSTS + 5; i++) {
      keys.add(metrics.connectionOpened("h" + i + ".example"));
    }
    assertThat(hostGauges()).hasSize(WorkerMetrics.MAX_HOSTS + 1);
    assertThat(inUse(WorkerMetrics.OTHER_HOSTS)).isEqualTo(5);
    // A host already tracked keeps its own series.
    assertThat(metrics.connectionOpened("h0.example")).isEqualTo("h0.example");

    keys.forEach(metrics::connectionClosed);
    metrics.connectionClosed("h0.example");
    assertThat(hostGauges()).isEmpty();
    // With room again, a new host is named.
    assertThat(metrics.connectionOpened("new.example")).isEqualTo("new.example");
  }

  @Test
  void attemptsAndLostLeasesAreCountedByTheirLabels() {
    metrics.attemptEnded(TaskType.UPLOAD, WorkerMetrics.RETRY, "stalled");
    metrics.attemptEnded(TaskType.UPLOAD, WorkerMetrics.COMPLETED, null);
    metrics.leaseLost(WorkerMetrics.NOT_RENEWED);
    metrics.bytes(TaskType.UPLOAD).increment(10);

    String attempts = Metric.WORKER_ATTEMPTS.meterName();
    assertThat(
            registry
                .get(attempts)
                .tags("type", "upload", "outcome", "retry", "error_code", "stalled")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get(attempts)
                .tags("type", "upload", "outcome", "completed", "error_code", "none")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get(Metric.WORKER_LEASES_LOST.meterName())
                .tag("reason", "not_renewed")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get(Metric.WORKER_BYTES.meterName())
                .tag("direction", "upload")
                .counter()
                .count())
        .isEqualTo(10);
    assertThat(
            registry
                .get(Metric.WORKER_BYTES.meterName())
                .tag("direction", "download")
                .counter()
                .count())
        .isZero();
  }
}
