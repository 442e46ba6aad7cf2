package transfer.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The OpenTelemetry SDK of one service, configured the standard way: the {@code OTEL_*} environment
 * variables (or {@code otel.*} system properties) of the SDK's autoconfiguration, with this
 * cluster's defaults where the operator set nothing ({@link #defaults}):
 *
 * <ul>
 *   <li>spans are always created, so that log lines carry trace ids, but exported only when the
 *       operator names a collector ({@code OTEL_EXPORTER_OTLP_ENDPOINT}, or {@code
 *       OTEL_TRACES_EXPORTER});
 *   <li>OTLP over HTTP with protobuf ({@code http/protobuf}, a collector's port 4318), as the
 *       specification recommends, rather than the SDK's gRPC default;
 *   <li>no metrics or logs exporter: metrics are Micrometer's ({@code /q/metrics}), logs go to the
 *       console;
 *   <li>the service name is the service's own ({@code transfer-api}, {@code transfer-worker}).
 * </ul>
 *
 * The SDK is not registered as the global one and installs no shutdown hook: the service closes it
 * ({@link #close}) when it stops, after its last span ended, which flushes what is still batched.
 */
public final class Telemetry implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Telemetry.class.getName());

  /** The instrumentation scope of every span of the cluster. */
  public static final String SCOPE = "transfer-cluster";

  private final OpenTelemetry openTelemetry;
  private final Tracer tracer;

  private Telemetry(OpenTelemetry openTelemetry) {
    this.openTelemetry = openTelemetry;
    this.tracer = openTelemetry.getTracer(SCOPE);
  }

  /**
   * Builds the SDK from the environment and system properties, with this cluster's defaults; {@code
   * serviceName} unless the operator names the service.
   */
  public static Telemetry start(String serviceName) {
    AutoConfiguredOpenTelemetrySdk sdk =
        AutoConfiguredOpenTelemetrySdk.builder()
            .addPropertiesCustomizer(config -> defaults(serviceName, config))
            .disableShutdownHook()
            .build();
    return new Telemetry(sdk.getOpenTelemetrySdk());
  }

  /** A service's telemetry on an SDK built elsewhere (tests: an in-memory exporter). */
  public static Telemetry of(OpenTelemetry openTelemetry) {
    return new Telemetry(openTelemetry);
  }

  /**
   * The settings this cluster gives the SDK where the operator set none: the traces exporter
   * ({@code otlp} when an OTLP endpoint is set, else {@code none}), no metrics or logs exporter,
   * and the service name.
   */
  static Map<String, String> defaults(String serviceName, ConfigProperties config) {
    return defaults(serviceName, config::getString, config.getMap("otel.resource.attributes"));
  }

  /**
   * {@link #defaults(String, ConfigProperties)} on plain lookups: {@code config} answers the value
   * of an {@code otel.*} property (null when unset), {@code resourceAttributes} is {@code
   * otel.resource.attributes}.
   */
  static Map<String, String> defaults(
      String serviceName, Function<String, String> config, Map<String, String> resourceAttributes) {
    Map<String, String> out = new HashMap<>();
    if (blank(config.apply("otel.traces.exporter"))) {
      boolean endpoint =
          !blank(config.apply("otel.exporter.otlp.endpoint"))
              || !blank(config.apply("otel.exporter.otlp.traces.endpoint"));
      out.put("otel.traces.exporter", endpoint ? "otlp" : "none");
    }
    if (blank(config.apply("otel.exporter.otlp.protocol"))
        && blank(config.apply("otel.exporter.otlp.traces.protocol"))) {
      // The protocol the OpenTelemetry specification recommends as the default (the Java SDK's
      // autoconfiguration still defaults to gRPC): port 4318 of a collector.
      out.put("otel.exporter.otlp.protocol", "http/protobuf");
    }
    if (blank(config.apply("otel.metrics.exporter"))) {
      out.put("otel.metrics.exporter", "none");
    }
    if (blank(config.apply("otel.logs.exporter"))) {
      out.put("otel.logs.exporter", "none");
    }
    if (blank(config.apply("otel.service.name")) && blank(resourceAttributes.get("service.name"))) {
      out.put("otel.service.name", serviceName);
    }
    return out;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  public Tracer tracer() {
    return tracer;
  }

  public OpenTelemetry openTelemetry() {
    return openTelemetry;
  }

  /** Exports what is still batched and stops the SDK; waits at most 10 s. */
  @Override
  public void close() {
    if (openTelemetry instanceof OpenTelemetrySdk sdk) {
      var done = sdk.shutdown().join(10, TimeUnit.SECONDS);
      if (!done.isSuccess()) {
        LOG.log(
            Level.WARNING,
            "OpenTelemetry: not every span could be exported at shutdown (collector unreachable or"
                + " slow); they are dropped");
      }
    }
  }
}
