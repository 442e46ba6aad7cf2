package transfer.api.input;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/**
 * The api-service without its reaper, so that nothing but the requests of a test writes the ledger
 * and {@link StoredState} snapshots compare exactly. (The reaper would re-announce queued tasks
 * other test classes left behind, which writes rows at moments no test chooses.)
 */
public class QuietLedgerProfile implements QuarkusTestProfile {
  @Override
  public Map<String, String> getConfigOverrides() {
    // The interval is read by @Scheduled, not by ApiConfig's mapping, which would otherwise refuse
    // a key under transfer. that it does not know.
    // A random port: test JVMs of other checkouts on this machine may hold 8081.
    return Map.of(
        "transfer.reaper.interval",
        "off",
        "smallrye.config.mapping.validate-unknown",
        "false",
        "quarkus.http.test-port",
        "0");
  }
}
