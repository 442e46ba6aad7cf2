package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The collector receives what the services' OTLP exporter sends, with and without gzip. */
class OtlpCollectorIT {

  @ParameterizedTest
  @ValueSource(strings = {"none", "gzip"})
  void receivesTheSpansOfTheOtlpHttpExporter(String compression) throws Exception {
    try (OtlpCollector collector = OtlpCollector.start()) {
      SdkTracerProvider provider =
          SdkTracerProvider.builder()
              .setResource(
                  Resource.create(
                      Attributes.of(
                          io.opentelemetry.api.common.AttributeKey.stringKey("service.name"),
                          "svc")))
              .addSpanProcessor(
                  SimpleSpanProcessor.create(
                      OtlpHttpSpanExporter.builder()
                          .setEndpoint(collector.endpoint() + "/v1/traces")
                          .setCompression(compression)
                          .build()))
              .build();
      Tracer tracer = provider.get("test");
      Span parent = tracer.spanBuilder("parent").setSpanKind(SpanKind.SERVER).startSpan();
      Span child =
          tracer
              .spanBuilder("child")
              .setParent(io.opentelemetry.context.Context.root().with(parent))
              .setSpanKind(SpanKind.PRODUCER)
              .setAttribute("transfer.task.id", "t1")
              .setAttribute("transfer.bytes", 42L)
              .startSpan();
      child.end();
      parent.end();
      assertThat(provider.forceFlush().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
      provider.close();

      String trace = parent.getSpanContext().getTraceId();
      assertThat(collector.trace(trace)).hasSize(2);
      OtlpCollector.Span got =
          collector.trace(trace).stream().filter(s -> s.name().equals("child")).findFirst().get();
      assertThat(got.serviceName()).isEqualTo("svc");
      assertThat(got.kind()).isEqualTo("PRODUCER");
      assertThat(got.parentSpanId()).isEqualTo(parent.getSpanContext().getSpanId());
      assertThat(got.attribute("transfer.task.id")).isEqualTo("t1");
      assertThat(got.attributes()).containsEntry("transfer.bytes", 42L);
      assertThat(collector.refused()).isEmpty();
    }
  }

  @Test
  void refusesWhatIsNotAnOtlpProtobufTraceExport() throws Exception {
    try (OtlpCollector collector = OtlpCollector.start()) {
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<Void> json =
          http.send(
              HttpRequest.newBuilder(URI.create(collector.endpoint() + "/v1/traces"))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString("{}"))
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      assertThat(json.statusCode()).isEqualTo(415);
      HttpResponse<Void> metrics =
          http.send(
              HttpRequest.newBuilder(URI.create(collector.endpoint() + "/v1/metrics"))
                  .header("Content-Type", "application/x-protobuf")
                  .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[0]))
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      assertThat(metrics.statusCode()).isEqualTo(404);
      assertThat(collector.refused()).hasSize(2);
      assertThat(collector.spans()).isEmpty();
    }
  }
}
