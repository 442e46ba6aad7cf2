package transfer.worker.claim;

import jakarta.inject.Singleton;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when the doorbell consumer is running; the datasource check comes from the extension. */
@Readiness
@Singleton
public class ConsumerReadiness implements HealthCheck {
  private final DoorbellConsumer consumer;

  public ConsumerReadiness(DoorbellConsumer consumer) {
    this.consumer = consumer;
  }

  @Override
  public HealthCheckResponse call() {
    return HealthCheckResponse.named("doorbell-consumer").status(consumer.isHealthy()).build();
  }
}
