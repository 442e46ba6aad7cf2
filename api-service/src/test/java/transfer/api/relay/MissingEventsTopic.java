package transfer.api.relay;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import transfer.testkit.TestInfra;

/**
 * The shared events topic deleted on the test broker (auto-create is off, so every send to it waits
 * for metadata that never comes) until {@link #close()} makes it again as the test infrastructure
 * did, on every path, so that the test classes after it find it.
 */
final class MissingEventsTopic implements AutoCloseable {
  static final String EVENTS = TestInfra.EVENTS_TOPIC;

  private final Admin admin;

  MissingEventsTopic(String bootstrap) throws Exception {
    admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    try {
      admin.deleteTopics(List.of(EVENTS)).all().get(30, TimeUnit.SECONDS);
      await("the events topic is gone")
          .atMost(Duration.ofSeconds(30))
          .until(() -> !admin.listTopics().names().get().contains(EVENTS));
    } catch (Exception | AssertionError e) {
      close();
      throw e;
    }
  }

  /** The topic again; its deletion may still be under way. */
  @Override
  public void close() throws Exception {
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        try {
          admin
              .createTopics(List.of(new NewTopic(EVENTS, TestInfra.TOPIC_PARTITIONS, (short) 1)))
              .all()
              .get(30, TimeUnit.SECONDS);
          return;
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw e;
          }
          if (admin.listTopics().names().get().contains(EVENTS) && System.nanoTime() > deadline) {
            return; // it exists (another made it)
          }
          Thread.sleep(200);
        }
      }
    } finally {
      admin.close();
    }
  }
}
