package transfer.api.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * A leader that cannot publish a lane steps down and leads again (real broker and database): the
 * events topic is deleted, so Kafka takes nothing from the events lane; after {@code
 * transfer.outbox.step-down-after} (2 s here; sends wait 1 s for metadata) the replica gives back
 * its leadership lock, takes it again 5 s later with new loops, connections and producers, and goes
 * on: a doorbell submitted after that is published, and once the topic is back the events reach it
 * in order.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
@TestProfile(RelayStepDownIT.ShortStepDown.class)
class RelayStepDownIT {
  /** The relay's leadership lock ("transfer") as {@code pg_locks} shows a bigint key. */
  private static final String LEADERSHIP =
      "select count(*) from pg_locks where locktype = 'advisory' and classid::bigint = 1953653102"
          + " and objid::bigint = 1936090482 and objsubid = 1 and granted";

  public static class ShortStepDown implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of(
          "transfer.outbox.step-down-after", "2s",
          "kafka.max.block.ms", "1000",
          "quarkus.http.test-port", "0");
    }
  }

  @Inject AgroalDataSource db;

  @Test
  void aLeaderThatCannotPublishStepsDownAndLeadsAgain() throws Exception {
    String bootstrap = TestInfra.shared().kafkaBootstrap();
    String sid =
        TestSessions.create(InfraResource.KEY, "stepdown", "{\"sendsCreatedEvents\":true}");
    await("this replica leads").atMost(Duration.ofSeconds(30)).until(() -> count(LEADERSHIP) == 1);
    String first;
    try (MissingEventsTopic gone = new MissingEventsTopic(bootstrap)) {
      first = TestSessions.queuedTask(InfraResource.KEY, sid);
      long start = System.nanoTime();
      await("the leader steps down: its lock is free")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> count(LEADERSHIP) == 0);
      long downMs = (System.nanoTime() - start) / 1_000_000;
      await("it leads again")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> count(LEADERSHIP) == 1);
      String second = TestSessions.queuedTask(InfraResource.KEY, sid);
      await("the new leadership publishes doorbells")
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  count(
                          "select count(*) from outbox where msg_key in ('"
                              + first
                              + "', '"
                              + second
                              + "')")
                      == 0);
      System.out.printf(
          "RelayStepDownIT: the leader stepped down %d ms after the first refused event%n", downMs);
    }
    List<JsonNode> published =
        EventLog.readSession(
            bootstrap,
            MissingEventsTopic.EVENTS,
            sid,
            got -> got.size() >= 2,
            Duration.ofSeconds(90));
    assertThat(published)
        .extracting(e -> e.path("sequence").asLong())
        .as("the session's events reach the recreated topic, in order")
        .containsExactly(1L, 2L);
    assertThat(count("select count(*) from outbox_parked where msg_key = '" + sid + "'")).isZero();
  }

  private long count(String sql) throws Exception {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
