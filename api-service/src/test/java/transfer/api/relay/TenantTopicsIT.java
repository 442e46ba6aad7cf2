package transfer.api.relay;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * {@code transfer.outbox.topic-per-tenant}: a tenant's events go to {@code
 * transfer-events.<tenant>}, which the relay creates when it first needs it, and not to the shared
 * topic.
 */
@QuarkusTest
@TestProfile(TenantTopicsIT.PerTenant.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class TenantTopicsIT {
  /** The api-service with a results topic per tenant. */
  public static class PerTenant implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
      return Map.of("transfer.outbox.topic-per-tenant", "true", "quarkus.http.test-port", "0");
    }
  }

  private static RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  @Test
  void aTenantsEventsGoToItsOwnTopicWhichTheRelayCreates() {
    String sid = "pt-" + UUID.randomUUID();
    api()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(201);
    String tid =
        api()
            .contentType(ContentType.JSON)
            .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\"}")
            .post("/v1/sessions/" + sid + "/tasks")
            .then()
            .statusCode(201)
            .extract()
            .path("id");
    // No worker here: canceling it is what makes an event (its completion).
    api().post("/v1/sessions/" + sid + "/tasks/" + tid + "/cancel").then().statusCode(200);

    List<JsonNode> own =
        EventLog.readSession(
            TestInfra.shared().kafkaBootstrap(),
            "transfer-events.default",
            sid,
            got ->
                got.stream()
                    .anyMatch(e -> e.path("type").asText().equals("transfer.task.completed")),
            // Past one of the relay's send timeouts (30 s) and its retry: the test is about where
            // the events go, not how soon.
            Duration.ofSeconds(60));
    assertThat(own)
        .anySatisfy(
            e -> {
              assertThat(e.path("type").asText()).isEqualTo("transfer.task.completed");
              assertThat(e.path("subject").asText()).isEqualTo(tid);
              assertThat(e.path("tenant").asText()).isEqualTo("default");
            });
    List<JsonNode> shared =
        EventLog.readSession(
            TestInfra.shared().kafkaBootstrap(),
            "transfer-events",
            sid,
            got -> false,
            Duration.ofSeconds(3));
    assertThat(shared).isEmpty();
  }
}
