package transfer.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TraceContextsTest {
  static final String CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  static final String CLIENT_SPAN = "00f067aa0ba902b7";
  static final String CLIENT_PARENT = "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01";

  private final InMemorySpanExporter spans = InMemorySpanExporter.create();
  private final OpenTelemetrySdk sdk =
      OpenTelemetrySdk.builder()
          .setTracerProvider(
              SdkTracerProvider.builder()
                  .addSpanProcessor(SimpleSpanProcessor.create(spans))
                  .build())
          .build();
  private final Tracer tracer = Telemetry.of(sdk).tracer();

  @AfterEach
  void close() {
    sdk.close();
  }

  @Test
  void aSpanContinuesTheTraceOfAStoredTraceparentAndStoresItsOwn() {
    Context parent = TraceContexts.fromHeaders(CLIENT_PARENT, "vendor=x1");
    Span span = tracer.spanBuilder("child").setParent(parent).startSpan();
    Map<String, String> stored = TraceContexts.headers(span);
    span.end();

    SpanData data = spans.getFinishedSpanItems().get(0);
    assertThat(data.getTraceId()).isEqualTo(CLIENT_TRACE);
    assertThat(data.getParentSpanId()).isEqualTo(CLIENT_SPAN);
    assertThat(stored)
        .containsEntry(
            TraceContexts.TRACEPARENT, "00-" + CLIENT_TRACE + "-" + data.getSpanId() + "-01")
        .containsEntry(TraceContexts.TRACESTATE, "vendor=x1");

    SpanContext back =
        Span.fromContext(TraceContexts.fromHeaders(stored.get("traceparent"), null))
            .getSpanContext();
    assertThat(back.getTraceId()).isEqualTo(CLIENT_TRACE);
    assertThat(back.getSpanId()).isEqualTo(data.getSpanId());
    assertThat(back.isSampled()).isTrue();
    assertThat(back.isRemote()).isTrue();
  }

  @Test
  void anUnsampledCallerStaysUnsampledAndStillHasIds() {
    Context parent =
        TraceContexts.fromHeaders("00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-00", null);
    // The SDK's default sampler follows the parent: no span is recorded, but its ids exist (for
    // the logs) and travel on.
    Span span =
        io.opentelemetry.sdk.trace.SdkTracerProvider.builder()
            .build()
            .get("t")
            .spanBuilder("child")
            .setParent(parent)
            .startSpan();
    assertThat(span.isRecording()).isFalse();
    assertThat(TraceContexts.traceId(span)).isEqualTo(CLIENT_TRACE);
    assertThat(TraceContexts.headers(span).get("traceparent")).endsWith("-00");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "garbage",
        "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN, // no flags
        "00-00000000000000000000000000000000-" + CLIENT_SPAN + "-01", // all-zero trace id
        "00-" + CLIENT_TRACE + "-0000000000000000-01", // all-zero span id
        "ff-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01", // version ff is invalid
        "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01\r\nX-Injected: 1",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + CLIENT_SPAN + "-01", // upper case
        "00-zzf92f3577b34da6a3ce929d0e0e4736-" + CLIENT_SPAN + "-01",
      })
  void aMalformedTraceparentIsIgnoredAndANewTraceBegins(String traceparent) {
    Context parent = TraceContexts.fromHeaders(traceparent, "vendor=x1");
    assertThat(Span.fromContext(parent).getSpanContext().isValid()).isFalse();

    Span span =
        tracer.spanBuilder("server").setSpanKind(SpanKind.SERVER).setParent(parent).startSpan();
    span.end();
    SpanData data = spans.getFinishedSpanItems().get(0);
    assertThat(data.getTraceId()).isNotEqualTo(CLIENT_TRACE).matches("[0-9a-f]{32}");
    assertThat(data.getParentSpanContext().isValid()).isFalse();
  }

  @Test
  void noTraceparentIsTheRootContextAndARootContextHasNoHeaders() {
    assertThat(TraceContexts.fromHeaders(null, null)).isSameAs(Context.root());
    assertThat(TraceContexts.headers(Context.root())).isEmpty();
    assertThat(TraceContexts.traceId(Span.getInvalid())).isNull();
    assertThat(TraceContexts.spanId(Span.getInvalid())).isNull();
  }

  @Test
  void kafkaHeadersCarryTheContextAndReplaceAnEarlierOne() {
    Span span =
        tracer
            .spanBuilder("send")
            .setParent(TraceContexts.fromHeaders(CLIENT_PARENT, null))
            .startSpan();
    RecordHeaders headers = new RecordHeaders();
    headers.add(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-01".getBytes(StandardCharsets.UTF_8));
    headers.add("other", new byte[] {1});
    TraceContexts.toKafka(TraceContexts.of(span), headers);

    assertThat(headers.headers("traceparent")).hasSize(1);
    assertThat(new String(headers.lastHeader("traceparent").value(), StandardCharsets.UTF_8))
        .isEqualTo(TraceContexts.headers(span).get("traceparent"));
    assertThat(headers.lastHeader("tracestate")).isNull();
    SpanContext read = Span.fromContext(TraceContexts.fromKafka(headers)).getSpanContext();
    assertThat(read.getTraceId()).isEqualTo(CLIENT_TRACE);
    assertThat(read.getSpanId()).isEqualTo(span.getSpanContext().getSpanId());
  }

  @Test
  void aRecordWithoutOrWithAMalformedTraceparentHasNoParent() {
    assertThat(
            Span.fromContext(TraceContexts.fromKafka(new RecordHeaders()))
                .getSpanContext()
                .isValid())
        .isFalse();
    RecordHeaders bad = new RecordHeaders();
    bad.add("traceparent", new byte[] {(byte) 0xff, 0, 1});
    assertThat(Span.fromContext(TraceContexts.fromKafka(bad)).getSpanContext().isValid()).isFalse();
    RecordHeaders nullValue = new RecordHeaders();
    nullValue.add("traceparent", null);
    assertThat(Span.fromContext(TraceContexts.fromKafka(nullValue)).getSpanContext().isValid())
        .isFalse();
  }
}
