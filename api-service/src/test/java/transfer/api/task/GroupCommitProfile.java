package transfer.api.task;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/**
 * The api-service with a group-commit window long enough that submits released together share a
 * transaction whatever the machine's load: what {@link SubmitGroupIT} checks.
 */
public class GroupCommitProfile implements QuarkusTestProfile {
  @Override
  public Map<String, String> getConfigOverrides() {
    return Map.of("transfer.submit.group-window", "300ms", "quarkus.http.test-port", "0");
  }
}
