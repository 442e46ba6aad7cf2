package transfer.api.task;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.hasSize;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.ledger.Ledger;

/** {@code POST /v1/sessions/{sid}/tasks:batch}: all or none, fields named by index, one key. */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class TaskBatchIT {
  private static final String TASK = "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/n\"}";

  @Inject Ledger ledger;

  private static String newSession() {
    return TestSessions.create(InfraResource.KEY, "batch");
  }

  private static ValidatableResponse batch(String sid, String key, List<String> tasks) {
    // RestAssured would send the colon as %3A.
    var r =
        given()
            .urlEncodingEnabled(false)
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .contentType(ContentType.JSON);
    if (key != null) {
      r = r.header("Idempotency-Key", key);
    }
    return r.body("{\"tasks\":[" + String.join(",", tasks) + "]}")
        .post("/v1/sessions/" + sid + "/tasks:batch")
        .then()
        .log()
        .ifValidationFails();
  }

  private int stored(String sid) {
    return ledger.taskControl().tasks("default", sid, null, null, 10_000).size();
  }

  @Test
  void writesEveryTaskInRequestOrderWithItsDoorbell() {
    String sid = newSession();
    List<String> tasks =
        IntStream.range(0, 5)
            .mapToObj(i -> "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/" + i + "\"}")
            .toList();
    List<String> urls =
        batch(sid, null, tasks)
            .statusCode(201)
            .body("tasks", hasSize(5))
            .extract()
            .path("tasks.url");
    assertThat(urls)
        .containsExactly(
            IntStream.range(0, 5)
                .mapToObj(i -> "http://127.0.0.1:9/" + i)
                .collect(Collectors.toList())
                .toArray(String[]::new));
    assertThat(stored(sid)).isEqualTo(5);
  }

  @Test
  void oneBadTaskRefusesTheWholeBatchAndNamesItsIndex() {
    String sid = newSession();
    batch(
            sid,
            null,
            List.of(
                TASK,
                "{\"type\":\"download\",\"url\":\"ftp://x/y\"}",
                TASK,
                "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/n\",\"priority\":2}"))
        .statusCode(400)
        .contentType("application/problem+json")
        .body("errors.field", hasItems("tasks[1].url", "tasks[3].priority"));
    batch(sid, null, List.of()).statusCode(400).body("errors[0].field", equalTo("tasks"));
    batch(sid, null, java.util.Collections.nCopies(1001, TASK))
        .statusCode(400)
        .body("errors[0].field", equalTo("tasks"));
    assertThat(stored(sid)).isZero();
  }

  @Test
  void anIdempotencyKeyAnswersTheSameTasksAndRefusesAnotherBody() {
    String sid = newSession();
    List<String> first =
        batch(sid, "k-1", List.of(TASK, TASK)).statusCode(201).extract().path("tasks.id");
    List<String> again =
        batch(sid, "k-1", List.of(TASK, TASK))
            .statusCode(201)
            .header("Idempotent-Replayed", "true")
            .extract()
            .path("tasks.id");
    assertThat(again).isEqualTo(first);
    batch(sid, "k-1", List.of(TASK, TASK, TASK))
        .statusCode(422)
        .contentType("application/problem+json");
    assertThat(stored(sid)).isEqualTo(2);
  }

  @Test
  void anUnknownSessionIsA404() {
    batch("nope-" + UUID.randomUUID(), null, List.of(TASK))
        .statusCode(404)
        .contentType("application/problem+json");
  }
}
