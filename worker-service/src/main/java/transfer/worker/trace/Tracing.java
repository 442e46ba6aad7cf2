package transfer.worker.trace;

import io.opentelemetry.api.trace.Tracer;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import transfer.telemetry.Telemetry;

/**
 * The worker's OpenTelemetry SDK, configured by the standard {@code OTEL_*} variables (README,
 * Traces); the service name defaults to {@code quarkus.application.name} ({@code transfer-worker}).
 * Closed when the container stops, after the hand-backs: what is batched is exported then.
 */
@Singleton
public class Tracing {
  private final Telemetry telemetry;

  public Tracing(@ConfigProperty(name = "quarkus.application.name") String serviceName) {
    this.telemetry = Telemetry.start(serviceName);
  }

  public Tracer tracer() {
    return telemetry.tracer();
  }

  @PreDestroy
  void close() {
    telemetry.close();
  }
}
