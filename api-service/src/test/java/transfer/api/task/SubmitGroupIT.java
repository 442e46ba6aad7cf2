package transfer.api.task;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.startsWith;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.api.Together;
import transfer.api.admin.TestTenants;
import transfer.api.admin.TestTenants.Tenant;

/**
 * Concurrent single submits share a transaction and a commit (group commit), and each is answered
 * on its own: the accepted ones 201 with their Location, the refused ones (no session, a quota, an
 * Idempotency-Key used with another body, a reference to nothing) their own problem, without
 * failing the others.
 */
@QuarkusTest
@TestProfile(GroupCommitProfile.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class SubmitGroupIT {
  private static final String TASK = "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/g%d\"}";

  private static Response post(String key, String sid, String idempotencyKey, String body) {
    var r = given().header("Authorization", "Bearer " + key).contentType(ContentType.JSON);
    if (idempotencyKey != null) {
      r = r.header("Idempotency-Key", idempotencyKey);
    }
    return r.body(body).post("/v1/sessions/" + sid + "/tasks");
  }

  private static double metric(String name) {
    String text = given().get("/q/metrics").then().statusCode(200).extract().asString();
    for (String line : text.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError(name + " is not served");
  }

  @Test
  void concurrentSubmitsShareACommitAndARefusedOneFailsNoOther() throws Exception {
    String sid = TestSessions.create(InfraResource.KEY, "group");
    Tenant full = TestTenants.create("group-full", "{\"tasksInFlight\":0}");
    String fullSid = TestSessions.create(full.key(), "group");
    String earlier =
        post(InfraResource.KEY, sid, "used", String.format(TASK, 999))
            .then()
            .statusCode(201)
            .extract()
            .path("id");
    double groups0 = metric("transfer_submit_groups_total");
    double grouped0 = metric("transfer_submit_grouped_total");

    int accepted = 16;
    List<Callable<Response>> calls = new ArrayList<>();
    for (int i = 0; i < accepted; i++) {
      String body = String.format(TASK, i);
      String key = i % 4 == 0 ? "k-" + sid + "-" + i : null;
      calls.add(() -> post(InfraResource.KEY, sid, key, body));
    }
    calls.add(() -> post(InfraResource.KEY, "no-such-session", null, String.format(TASK, 100)));
    calls.add(() -> post(full.key(), fullSid, null, String.format(TASK, 101)));
    calls.add(() -> post(InfraResource.KEY, sid, "used", String.format(TASK, 102)));
    calls.add(
        () ->
            post(
                InfraResource.KEY,
                sid,
                null,
                "{\"type\":\"upload\",\"url\":\"http://127.0.0.1:9/up\",\"method\":\"PUT\","
                    + "\"source\":{\"object\":\"nothing-staged\"}}"));
    List<Response> answers = together(calls);

    for (int i = 0; i < accepted; i++) {
      Response r = answers.get(i);
      r.then().statusCode(201).header("Location", startsWith("http"));
      assertThat(r.jsonPath().getString("url")).isEqualTo("http://127.0.0.1:9/g" + i);
      assertThat(r.header("Location")).endsWith("/tasks/" + r.jsonPath().getString("id"));
    }
    answers.get(accepted).then().statusCode(404);
    assertThat(answers.get(accepted).jsonPath().getString("detail"))
        .contains("create it first with PUT");
    answers.get(accepted + 1).then().statusCode(429).header("Retry-After", "30");
    answers.get(accepted + 2).then().statusCode(422);
    assertThat(answers.get(accepted + 2).jsonPath().getString("detail")).contains(earlier);
    answers.get(accepted + 3).then().statusCode(400);
    assertThat(answers.get(accepted + 3).jsonPath().getString("errors[0].field"))
        .isEqualTo("source.object");

    int stored =
        given()
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .get("/v1/sessions/" + sid + "/tasks?limit=100")
            .then()
            .statusCode(200)
            .extract()
            .path("tasks.size()");
    assertThat(stored).isEqualTo(accepted + 1);

    double groups = metric("transfer_submit_groups_total") - groups0;
    double grouped = metric("transfer_submit_grouped_total") - grouped0;
    assertThat(grouped).isEqualTo(calls.size());
    // All were released together, within the 300 ms window: far fewer commits than submits.
    assertThat(groups).isGreaterThanOrEqualTo(1).isLessThanOrEqualTo(calls.size() / 4.0);
  }

  private static List<Response> together(List<Callable<Response>> calls) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(calls.size());
    try {
      return Together.run(pool, calls);
    } finally {
      pool.shutdownNow();
    }
  }
}
