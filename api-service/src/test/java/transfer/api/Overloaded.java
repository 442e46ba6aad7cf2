package transfer.api;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/** The api-service taking 4 requests at once, so that a test can overload it (LoadSheddingIT). */
public class Overloaded implements QuarkusTestProfile {
  @Override
  public Map<String, String> getConfigOverrides() {
    return Map.of("transfer.api.max-in-flight", "4", "quarkus.http.test-port", "0");
  }
}
