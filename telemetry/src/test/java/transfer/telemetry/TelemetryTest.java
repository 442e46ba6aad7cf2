package transfer.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TelemetryTest {

  @Test
  void withNothingSetSpansAreMadeButNotExportedAndTheServiceIsNamed() {
    assertThat(Telemetry.defaults("transfer-api", name -> null, Map.of()))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "otel.traces.exporter", "none",
                "otel.exporter.otlp.protocol", "http/protobuf",
                "otel.metrics.exporter", "none",
                "otel.logs.exporter", "none",
                "otel.service.name", "transfer-api"));
  }

  @Test
  void anOtlpEndpointTurnsTheOtlpTracesExporterOn() {
    Map<String, String> set = Map.of("otel.exporter.otlp.endpoint", "http://collector:4318");
    assertThat(Telemetry.defaults("transfer-worker", set::get, Map.of()))
        .containsEntry("otel.traces.exporter", "otlp");
    Map<String, String> tracesOnly =
        Map.of("otel.exporter.otlp.traces.endpoint", "http://collector:4318/v1/traces");
    assertThat(Telemetry.defaults("transfer-worker", tracesOnly::get, Map.of()))
        .containsEntry("otel.traces.exporter", "otlp");
  }

  @Test
  void whatTheOperatorSetIsKept() {
    Map<String, String> set =
        Map.of(
            "otel.traces.exporter", "console",
            "otel.metrics.exporter", "otlp",
            "otel.logs.exporter", "otlp",
            "otel.service.name", "api-eu-1",
            "otel.exporter.otlp.protocol", "grpc",
            "otel.exporter.otlp.endpoint", "http://collector:4317");
    assertThat(Telemetry.defaults("transfer-api", set::get, Map.of())).isEmpty();
    // A service.name among the resource attributes names the service too.
    assertThat(
            Telemetry.defaults("transfer-api", name -> null, Map.of("service.name", "from-attrs")))
        .doesNotContainKey("otel.service.name");
  }

  @Test
  void theSdkBuiltFromTheEnvironmentMakesSpansWithIds() {
    Telemetry t = Telemetry.start("transfer-test");
    try {
      Span span = t.tracer().spanBuilder("x").startSpan();
      assertThat(TraceContexts.traceId(span)).matches("[0-9a-f]{32}");
      assertThat(TraceContexts.spanId(span)).matches("[0-9a-f]{16}");
      span.end();
    } finally {
      t.close();
    }
  }
}
