package transfer.testkit;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.GZIPInputStream;

/**
 * A real OTLP/HTTP trace receiver on loopback, as a collector (Jaeger, Tempo, the OpenTelemetry
 * Collector) offers on port 4318: {@code POST /v1/traces} with an {@code ExportTraceServiceRequest}
 * in protobuf ({@code application/x-protobuf}, gzip or not), answered with an empty {@code
 * ExportTraceServiceResponse}. It keeps every span it received, flattened with its resource's
 * {@code service.name}. Point a service at it with {@code OTEL_EXPORTER_OTLP_ENDPOINT=}{@link
 * #endpoint()}.
 */
public final class OtlpCollector implements AutoCloseable {

  /** One received span; ids in lower-case hex, {@code parentSpanId} empty for a root span. */
  public record Span(
      String serviceName,
      String traceId,
      String spanId,
      String parentSpanId,
      String name,
      String kind,
      Map<String, Object> attributes,
      List<String> linkedSpanIds,
      String status,
      long startNanos,
      long endNanos) {

    /** An attribute's value as text, or null. */
    public String attribute(String key) {
      Object v = attributes.get(key);
      return v == null ? null : String.valueOf(v);
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final List<Span> spans = new CopyOnWriteArrayList<>();
  private final List<String> refused = new CopyOnWriteArrayList<>();

  private OtlpCollector(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** Listens on 127.0.0.1, on a free port. */
  public static OtlpCollector start() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    ExecutorService executor =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "otlp-collector");
              t.setDaemon(true);
              return t;
            });
    OtlpCollector c = new OtlpCollector(server, executor);
    server.createContext("/", c::handle);
    server.setExecutor(executor);
    server.start();
    return c;
  }

  /** The base address, as {@code OTEL_EXPORTER_OTLP_ENDPOINT} takes it. */
  public String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Every span received so far, in arrival order. */
  public List<Span> spans() {
    return List.copyOf(spans);
  }

  /** The spans of one trace received so far. */
  public List<Span> trace(String traceId) {
    return spans.stream().filter(s -> s.traceId().equals(traceId)).toList();
  }

  /** Requests it could not take (wrong path, method, type, or an undecodable body), described. */
  public List<String> refused() {
    return List.copyOf(refused);
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String type = ex.getRequestHeaders().getFirst("Content-Type");
      if (!"POST".equals(ex.getRequestMethod())
          || !"/v1/traces".equals(ex.getRequestURI().getPath())) {
        refuse(ex, 404, ex.getRequestMethod() + " " + ex.getRequestURI());
        return;
      }
      if (type == null || !type.startsWith("application/x-protobuf")) {
        refuse(ex, 415, "content type " + type);
        return;
      }
      ExportTraceServiceRequest request;
      try (InputStream body = body(ex)) {
        request = ExportTraceServiceRequest.parseFrom(body);
      } catch (IOException e) {
        refuse(ex, 400, "undecodable body: " + e.getMessage());
        return;
      }
      for (ResourceSpans rs : request.getResourceSpansList()) {
        String service = serviceName(rs.getResource());
        for (ScopeSpans ss : rs.getScopeSpansList()) {
          for (io.opentelemetry.proto.trace.v1.Span s : ss.getSpansList()) {
            spans.add(flatten(service, s));
          }
        }
      }
      byte[] answer = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
      ex.getResponseHeaders().set("Content-Type", "application/x-protobuf");
      ex.sendResponseHeaders(200, answer.length == 0 ? -1 : answer.length);
      if (answer.length > 0) {
        ex.getResponseBody().write(answer);
      }
    }
  }

  private static InputStream body(HttpExchange ex) throws IOException {
    String encoding = ex.getRequestHeaders().getFirst("Content-Encoding");
    InputStream in = ex.getRequestBody();
    return "gzip".equalsIgnoreCase(encoding) ? new GZIPInputStream(in) : in;
  }

  private void refuse(HttpExchange ex, int status, String why) throws IOException {
    refused.add(status + " " + why);
    ex.sendResponseHeaders(status, -1);
  }

  private static Span flatten(String service, io.opentelemetry.proto.trace.v1.Span s) {
    Map<String, Object> attributes = new LinkedHashMap<>();
    for (KeyValue kv : s.getAttributesList()) {
      attributes.put(kv.getKey(), value(kv.getValue()));
    }
    return new Span(
        service,
        hex(s.getTraceId()),
        hex(s.getSpanId()),
        hex(s.getParentSpanId()),
        s.getName(),
        s.getKind().name().replace("SPAN_KIND_", ""),
        attributes,
        s.getLinksList().stream().map(l -> hex(l.getSpanId())).toList(),
        s.getStatus().getCode().name().replace("STATUS_CODE_", ""),
        s.getStartTimeUnixNano(),
        s.getEndTimeUnixNano());
  }

  private static String serviceName(Resource r) {
    for (KeyValue kv : r.getAttributesList()) {
      if (kv.getKey().equals("service.name")) {
        return kv.getValue().getStringValue();
      }
    }
    return null;
  }

  private static Object value(AnyValue v) {
    return switch (v.getValueCase()) {
      case STRING_VALUE -> v.getStringValue();
      case BOOL_VALUE -> v.getBoolValue();
      case INT_VALUE -> v.getIntValue();
      case DOUBLE_VALUE -> v.getDoubleValue();
      default -> v.toString();
    };
  }

  private static String hex(ByteString b) {
    return HexFormat.of().formatHex(b.toByteArray());
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
