package transfer.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import transfer.testkit.Origin;

/**
 * Base of the cluster tests: the one cluster of this test JVM ({@link ClusterFixture}) and a fresh
 * scriptable origin per test class, on the one port the cluster may reach.
 */
abstract class ClusterTest {
  protected static ClusterFixture cluster;
  protected static Origin origin;

  @BeforeAll
  static void startClusterAndOrigin() throws Exception {
    cluster = ClusterFixture.get();
    origin = Origin.start(cluster.originPort);
  }

  @AfterAll
  static void stopOrigin() {
    origin.close();
  }

  /** The session's events on the results topic, read until one task completion is among them. */
  protected static List<JsonNode> eventsUntilCompleted(String sid) {
    return cluster.topicEvents(
        sid,
        got -> got.stream().anyMatch(e -> e.get("type").asText().equals("transfer.task.completed")),
        Duration.ofSeconds(30));
  }
}
