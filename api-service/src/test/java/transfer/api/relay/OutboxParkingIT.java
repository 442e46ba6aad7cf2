package transfer.api.relay;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * Second catalogue, fault 8: a record Kafka can never take (an event over the broker's size limit)
 * is parked in {@code outbox_parked}, and the events after it and the doorbells keep flowing on the
 * real broker. Without parking, the relay's cursor stays at that event for good and no later event
 * of any session reaches the topic.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class OutboxParkingIT {
  @Inject AgroalDataSource db;

  private static RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  @Test
  void anEventKafkaCannotTakeIsParkedAndTheOthersFlow() throws Exception {
    String sid = TestSessions.create(InfraResource.KEY, "park");
    // An event of 2 MB: over the producer's and the broker's 1 MiB limit, so no retry mends it.
    String poison = "poison-" + UUID.randomUUID();
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "insert into events (time, tenant_id, session_id, id, type, task_id, data)"
                    + " values (now(), 'default', ?, ?, 'transfer.task.progress', null,"
                    + " jsonb_build_object('padding', repeat('x', 2000000)))")) {
      ps.setString(1, sid);
      ps.setString(2, poison);
      ps.executeUpdate();
    }
    // No worker here: canceling a task is what makes an event after the poisoned one.
    String tid = TestSessions.canceledTask(InfraResource.KEY, sid);

    List<JsonNode> published =
        EventLog.readSession(
            TestInfra.shared().kafkaBootstrap(),
            TestInfra.EVENTS_TOPIC,
            sid,
            got ->
                got.stream()
                    .anyMatch(e -> e.path("type").asText().equals("transfer.task.completed")),
            Duration.ofSeconds(60));
    assertThat(published)
        .as("the completion after the poisoned event reached the topic")
        .anyMatch(e -> e.path("subject").asText().equals(tid));
    assertThat(published).noneMatch(e -> e.path("id").asText().equals(poison));
    await("the task's doorbell was published (its outbox row deleted)")
        .atMost(Duration.ofSeconds(30))
        .until(() -> count("select count(*) from outbox where msg_key = ?", tid) == 0);
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select p.lane, p.error, p.tries, n.seq from outbox_parked p"
                    + " join event_numbers n on n.ord = p.event_ord"
                    + " where p.msg_key = ? and p.lane = 'events'")) {
      ps.setString(1, sid);
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).as("the poisoned event is parked").isTrue();
        assertThat(rs.getString(2)).contains("RecordTooLarge");
        assertThat(rs.getInt(3)).isEqualTo(1);
        assertThat(rs.next()).isFalse();
      }
    }
    String metrics = given().accept("text/plain").get("/q/metrics").then().extract().asString();
    assertThat(metrics)
        .containsPattern("transfer_outbox_parked_total\\{lane=\"events\",?\\} [1-9]");
    // The parked event is still the session's, for replay.
    assertThat(
            api()
                .get("/v1/sessions/" + sid + "/events")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath()
                .getList("events.id", String.class))
        .contains(poison);
  }

  private long count(String sql, String param) throws Exception {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, param);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
