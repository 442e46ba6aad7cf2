package transfer.api.relay;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * Second catalogue, fault 8 (the lanes): the events topic is deleted on the real broker
 * (auto-create is off), so every send of an event waits for metadata that never comes ({@code
 * max.block.ms}) or for an acknowledgement that never comes. The doorbells of new tasks are
 * published meanwhile, in seconds, and the events wait in the ledger, neither lost nor parked; once
 * the topic is back they reach it, in order. With one lane for both, the doorbells waited behind
 * the events' sends (10 s per pass at least).
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class OutboxLanesIT {
  private static final int TASKS = 3;

  @Inject AgroalDataSource db;

  @Test
  void doorbellsFlowWhileTheEventsTopicIsGoneAndTheEventsWaitForIt() throws Exception {
    String bootstrap = TestInfra.shared().kafkaBootstrap();
    // Each task's creation is an event of the session.
    String sid = TestSessions.create(InfraResource.KEY, "lanes", "{\"sendsCreatedEvents\":true}");
    List<String> tids = new ArrayList<>();
    try (MissingEventsTopic gone = new MissingEventsTopic(bootstrap)) {
      long start = System.nanoTime();
      for (int i = 0; i < TASKS; i++) {
        tids.add(TestSessions.queuedTask(InfraResource.KEY, sid));
      }
      // With one lane for both, the first event's metadata wait alone took 10 s.
      await("the doorbells are published while no event can be")
          .atMost(Duration.ofSeconds(8))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> doorbellsLeft(tids) == 0);
      long doorbellsMs = (System.nanoTime() - start) / 1_000_000;
      for (String tid : tids) {
        assertThat(
                EventLog.readSession(
                    bootstrap,
                    TestInfra.TASKS_TOPIC,
                    tid,
                    got -> !got.isEmpty(),
                    Duration.ofSeconds(10)))
            .as("the doorbell of %s is on the tasks topic", tid)
            .isNotEmpty();
      }
      // The session's events are numbered (replay serves them) but not published, nor parked.
      await("the session's events are numbered")
          .atMost(Duration.ofSeconds(10))
          .until(() -> numbered(sid) == TASKS);
      assertThat(cursorPassed(sid)).as("the cursor stops before the session's events").isZero();
      assertThat(parked(sid)).isZero();
      System.out.printf(
          "OutboxLanesIT: %d doorbells published %d ms after the first submit, the events"
              + " topic gone%n",
          TASKS, doorbellsMs);
    }
    List<JsonNode> published =
        EventLog.readSession(
            bootstrap,
            MissingEventsTopic.EVENTS,
            sid,
            got -> got.size() >= TASKS,
            Duration.ofSeconds(90));
    assertThat(published)
        .extracting(e -> e.path("sequence").asLong())
        .as("the session's events reach the recreated topic, in order")
        .containsExactly(1L, 2L, 3L);
    assertThat(published).extracting(e -> e.path("subject").asText()).containsAll(tids);
    assertThat(parked(sid)).isZero();
    for (String tid : tids) {
      given()
          .header("Authorization", "Bearer " + InfraResource.KEY)
          .post("/v1/sessions/" + sid + "/tasks/" + tid + "/cancel")
          .then()
          .statusCode(200);
    }
  }

  private long doorbellsLeft(List<String> tids) throws Exception {
    return count(
        "select count(*) from outbox where msg_key = any(?)",
        ps -> ps.setArray(1, ps.getConnection().createArrayOf("text", tids.toArray())));
  }

  private long numbered(String sid) throws Exception {
    return count(
        "select count(*) from event_numbers where session_id = ?", ps -> ps.setString(1, sid));
  }

  /** How many of the session's events the relay's cursor has passed. */
  private long cursorPassed(String sid) throws Exception {
    return count(
        "select count(*) from event_numbers n where n.session_id = ?"
            + " and n.ord <= (select ord from event_publisher where id = 1)",
        ps -> ps.setString(1, sid));
  }

  private long parked(String sid) throws Exception {
    return count(
        "select count(*) from outbox_parked where msg_key = ?", ps -> ps.setString(1, sid));
  }

  private interface Binder {
    void bind(PreparedStatement ps) throws Exception;
  }

  private long count(String sql, Binder binder) throws Exception {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      binder.bind(ps);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
