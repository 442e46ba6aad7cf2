package transfer.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/** The api-service on a real PostgreSQL and Kafka broker: contract, auth, errors, outbox. */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class ApiIT {

  private static RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  private static String newSession() {
    String sid = "s-" + UUID.randomUUID();
    api()
        .contentType(ContentType.JSON)
        .body("{\"requestTimeout\":\"PT30S\"}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(201)
        .body("id", equalTo(sid))
        .body("config.requestTimeout", equalTo("PT30S"))
        .body("config.maxConnectionsPerHost", equalTo(6));
    return sid;
  }

  @Test
  void callsWithoutAValidKeyAreRefusedWithProblemJson() {
    given()
        .get("/v1/sessions/x")
        .then()
        .statusCode(401)
        .contentType("application/problem+json")
        .header("WWW-Authenticate", "Bearer")
        .body("status", equalTo(401));
    given()
        .header("Authorization", "Bearer wrong")
        .get("/v1/sessions/x")
        .then()
        .statusCode(401)
        .contentType("application/problem+json");
  }

  @Test
  void sessionPutIsIdempotentAndReadable() {
    String sid = newSession();
    api()
        .contentType(ContentType.JSON)
        .body("{\"requestTimeout\":\"PT30S\"}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(200);
    api().get("/v1/sessions/" + sid).then().statusCode(200).body("state", equalTo("active"));
    api()
        .get("/v1/sessions/nope-" + UUID.randomUUID())
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
  }

  /**
   * A session answers the sequence of its newest numbered event, so a client can read it, submit,
   * and listen from there without the history: 0 before the first event, then the replay's last.
   */
  @Test
  void aSessionAnswersItsNewestEventSequence() {
    String sid = newSession();
    api().get("/v1/sessions/" + sid).then().statusCode(200).body("lastEventSequence", equalTo(0));
    String tid =
        api()
            .contentType(ContentType.JSON)
            .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\"}")
            .post("/v1/sessions/" + sid + "/tasks")
            .then()
            .statusCode(201)
            .extract()
            .path("id");
    api().post("/v1/sessions/" + sid + "/tasks/" + tid + "/cancel").then().statusCode(200);
    // The cancel's completion and the session's drained event, numbered after their commit.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              int last =
                  api()
                      .get("/v1/sessions/" + sid + "/events?after=0")
                      .then()
                      .extract()
                      .path("last");
              assertThat(last).isEqualTo(2);
              api().get("/v1/sessions/" + sid).then().body("lastEventSequence", equalTo(last));
            });
  }

  @Test
  void aSubmittedTaskIsStoredAndItsDoorbellReachesKafka() {
    String sid = newSession();
    String tid =
        api()
            .contentType(ContentType.JSON)
            .body(
                "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\",\"priority\":0.7,"
                    + "\"metadata\":{\"k\":\"v\"}}")
            .post("/v1/sessions/" + sid + "/tasks")
            .then()
            .statusCode(201)
            .header("Location", startsWith("http"))
            .body("state", equalTo("queued"))
            .body("sessionId", equalTo(sid))
            .body("type", equalTo("download"))
            .body("attempt", equalTo(0))
            .body("metadata.k", equalTo("v"))
            .extract()
            .path("id");
    api()
        .get("/v1/sessions/" + sid + "/tasks/" + tid)
        .then()
        .statusCode(200)
        .body("id", equalTo(tid))
        .body("priority", equalTo(0.7f));
    List<JsonNode> bells =
        EventLog.readSession(
            TestInfra.shared().kafkaBootstrap(),
            "transfer-tasks",
            tid,
            got -> !got.isEmpty(),
            Duration.ofSeconds(20));
    assertThat(bells).isNotEmpty();
    assertThat(bells.get(0).get("taskId").asText()).isEqualTo(tid);
    assertThat(bells.get(0).get("sessionId").asText()).isEqualTo(sid);
  }

  @Test
  void badInputIsA400ProblemNamingEveryFieldAndStoresNothing() {
    String sid = newSession();
    String[][] cases = {
      {"{not json", "$"},
      {"{\"type\":\"download\",\"url\":\"file:///etc/passwd\"}", "url"},
      {"{\"type\":\"download\",\"url\":\"gopher://x/\"}", "url"},
      {"{\"type\":\"download\",\"url\":\"http://a/\\r\\nX: y\"}", "url"},
      {"{\"type\":\"download\"}", "url"},
      {"{\"url\":\"http://a/\"}", "type"},
      {"{\"type\":\"teleport\",\"url\":\"http://a/\"}", "type"},
      {"{\"type\":\"download\",\"url\":\"http://a/\",\"priority\":2}", "priority"},
      {"{\"type\":\"download\",\"url\":\"http://a/\",\"expectedBytes\":-1}", "expectedBytes"},
      {"{\"type\":\"download\",\"url\":\"http://a/\",\"sha256\":\"abc\"}", "sha256"},
      {
        "{\"type\":\"download\",\"url\":\"http://a/\",\"earliestBeginAt\":\"tomorrow\"}",
        "earliestBeginAt"
      },
      {
        "{\"type\":\"download\",\"url\":\"http://a/\",\"headers\":{\"Host\":\"x\"}}", "headers.Host"
      },
      {
        "{\"type\":\"download\",\"url\":\"http://a/\",\"headers\":{\"X\":\"a\\r\\nb\"}}",
        "headers.X"
      },
      {"{\"type\":\"download\",\"url\":\"http://a/\",\"color\":\"red\"}", "color"},
      {"{\"type\":\"download\",\"url\":\"http://a/\",\"priority\":\"high\"}", "priority"},
      {"[]", "$"},
    };
    for (String[] c : cases) {
      api()
          .contentType(ContentType.JSON)
          .body(c[0])
          .post("/v1/sessions/" + sid + "/tasks")
          .then()
          .log()
          .ifValidationFails()
          .statusCode(400)
          .contentType("application/problem+json")
          .body("status", equalTo(400))
          .body("errors.field", hasItem(c[1]));
    }
    api()
        .contentType(ContentType.JSON)
        .body("{\"type\":\"download\",\"url\":\"http://a/\"}")
        .post("/v1/sessions/bad%20id/tasks")
        .then()
        .statusCode(400)
        .contentType("application/problem+json");
    // Nothing was stored: the session has no events and a replay is empty.
    api()
        .get("/v1/sessions/" + sid + "/events")
        .then()
        .statusCode(200)
        .body("events.size()", equalTo(0));
  }

  @Test
  void unknownTasksPathsAndMethodsAnswerProblemJson() {
    String sid = newSession();
    api()
        .get("/v1/sessions/" + sid + "/tasks/" + UUID.randomUUID())
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
    api()
        .get("/v1/sessions/" + sid + "/tasks/not-a-uuid")
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
    api().get("/v1/nothing-here").then().statusCode(404).contentType("application/problem+json");
    // A method the path does not offer: 405 (or 404 where no resource method matches at all).
    api()
        .delete("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(org.hamcrest.Matchers.oneOf(404, 405))
        .contentType("application/problem+json");
    api()
        .contentType(ContentType.TEXT)
        .body("hello")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(415)
        .contentType("application/problem+json");
  }

  @Test
  void anIdempotencyKeyAnswersTheSameTaskAndRefusesAnotherBody() {
    String sid = newSession();
    String body = "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/idem\"}";
    String first =
        api()
            .header("Idempotency-Key", "order-17")
            .contentType(ContentType.JSON)
            .body(body)
            .post("/v1/sessions/" + sid + "/tasks")
            .then()
            .statusCode(201)
            .extract()
            .path("id");
    api()
        .header("Idempotency-Key", "order-17")
        .contentType(ContentType.JSON)
        .body(body)
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(201)
        .header("Idempotent-Replayed", "true")
        .body("id", equalTo(first));
    api()
        .header("Idempotency-Key", "order-17")
        .contentType(ContentType.JSON)
        .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/other\"}")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(422)
        .contentType("application/problem+json")
        .body("detail", org.hamcrest.Matchers.containsString(first));
    api()
        .header("Idempotency-Key", "has space")
        .contentType(ContentType.JSON)
        .body(body)
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(400)
        .body("errors.field", hasItem("Idempotency-Key"));
  }

  @Test
  void healthIsUp() {
    given().get("/q/health/ready").then().statusCode(200);
    given().get("/q/health/live").then().statusCode(200);
  }
}
