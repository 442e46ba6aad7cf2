package transfer.worker.storage;

import jakarta.inject.Singleton;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** Not ready while this worker's storage is failing ({@link StorageHealth}), with why and since. */
@Readiness
@Singleton
public class StorageReadiness implements HealthCheck {
  private final StorageHealth health;

  public StorageReadiness(StorageHealth health) {
    this.health = health;
  }

  @Override
  public HealthCheckResponse call() {
    HealthCheckResponseBuilder b = HealthCheckResponse.named("storage").status(health.healthy());
    String failure = health.failure();
    if (failure != null) {
      b.withData("failure", failure).withData("since", String.valueOf(health.failingSince()));
    }
    return b.build();
  }
}
