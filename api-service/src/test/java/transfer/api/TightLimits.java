package transfer.api;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/**
 * The api-service with limits a test can reach: the default budget of key lookups per address
 * (InfraResource raises it for the other tests), two event streams and two uploads in progress per
 * tenant, and a body pace measured over 2 s. Test classes that share it share one start of the
 * service.
 */
public class TightLimits implements QuarkusTestProfile {
  @Override
  public Map<String, String> getConfigOverrides() {
    return Map.of(
        "transfer.quota.key-lookup-burst", "20",
        "transfer.quota.key-lookups-per-second", "5",
        "transfer.quota.event-streams", "2",
        "transfer.quota.uploads", "2",
        "transfer.objects.min-rate", "1K",
        "transfer.objects.min-rate-window", "2s",
        "quarkus.http.test-port", "0");
  }
}
