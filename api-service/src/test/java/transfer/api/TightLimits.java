package transfer.api;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/**
 * The api-service with limits a test can reach: the default budget of key lookups per address
 * (InfraResource raises it for the other tests) and two event streams per tenant. Test classes that
 * share it share one start of the service.
 */
public class TightLimits implements QuarkusTestProfile {
  @Override
  public Map<String, String> getConfigOverrides() {
    return Map.of(
        "transfer.quota.key-lookup-burst", "20",
        "transfer.quota.key-lookups-per-second", "5",
        "transfer.quota.event-streams", "2",
        "quarkus.http.test-port", "0");
  }
}
