package transfer.api.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static transfer.api.ControlCalls.UNREACHABLE;
import static transfer.api.ControlCalls.api;
import static transfer.api.ControlCalls.download;
import static transfer.api.ControlCalls.expectProblem;
import static transfer.api.ControlCalls.newSession;
import static transfer.api.ControlCalls.post;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;

/**
 * The session control surface without a worker: listing and paging, invalidation (cancel or
 * finish). Tasks stay queued here (no worker claims them).
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class SessionControlApiIT {
  @Test
  void sessionsAreListedInIdOrderAndPagedWithNext() {
    // Sorts after every other test's sessions, so the last page is ours alone.
    String prefix = "zzzz-list-" + UUID.randomUUID().toString().substring(0, 8);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String sid = prefix + "-" + i;
      api().contentType(ContentType.JSON).body("{}").put("/v1/sessions/" + sid).then();
      ids.add(sid);
    }
    // Page through everything from just before our prefix; ours come in order, 2 at a time.
    List<String> seen = new ArrayList<>();
    String after = prefix;
    for (int page = 0; page < 3; page++) {
      ValidatableResponse r =
          api()
              .queryParam("limit", 2)
              .queryParam("after", after)
              .get("/v1/sessions")
              .then()
              .statusCode(200)
              .body("sessions.size()", equalTo(2 - (page == 2 ? 1 : 0)));
      List<String> got = r.extract().path("sessions.id");
      seen.addAll(got);
      if (page < 2) {
        r.body("next", equalTo(got.get(got.size() - 1)));
        after = got.get(got.size() - 1);
      } else {
        r.body("next", nullValue());
      }
    }
    assertThat(seen).containsExactlyElementsOf(ids);
    api()
        .queryParam("after", ids.get(4))
        .queryParam("limit", 1000)
        .get("/v1/sessions")
        .then()
        .statusCode(200)
        .body("sessions.id", everyItem(org.hamcrest.Matchers.greaterThan(ids.get(4))))
        .body("next", nullValue());
    api()
        .get("/v1/sessions")
        .then()
        .statusCode(200)
        .body("sessions[0].config.maxConnectionsPerHost", notNullValue());
  }

  @Test
  void aBadSessionPageRequestNamesEveryBadParameter() {
    expectProblem(
        api()
            .queryParam("limit", 0)
            .queryParam("after", "bad id")
            .get("/v1/sessions")
            .then()
            .body("errors.field", containsInAnyOrder("limit", "after")),
        400);
    expectProblem(
        api()
            .queryParam("limit", "lots")
            .get("/v1/sessions")
            .then()
            .body("errors.field", contains("limit")),
        400);
    expectProblem(api().queryParam("limit", 1001).get("/v1/sessions").then(), 400);
  }

  @Test
  void deletingASessionCancelsItsOpenTasksAndRefusesNewOnes() {
    String sid = newSession("del");
    String queued = download(sid);
    String suspended = download(sid);
    post("/v1/sessions/" + sid + "/tasks/" + suspended + "/suspend", null).statusCode(200);

    api()
        .delete("/v1/sessions/" + sid)
        .then()
        .statusCode(200)
        .body("id", equalTo(sid))
        .body("state", equalTo("invalidated"));

    for (String tid : List.of(queued, suspended)) {
      api()
          .get("/v1/sessions/" + sid + "/tasks/" + tid)
          .then()
          .body("state", equalTo("canceled"))
          .body("error.code", equalTo("canceled"));
    }
    expectProblem(
        post(
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + UNREACHABLE + "\"}"),
        409);
    // The invalidation, every task's completion, then one drained, last.
    List<String> types =
        api().get("/v1/sessions/" + sid + "/events").then().extract().path("events.type");
    assertThat(types)
        .containsExactly(
            "transfer.session.invalidated",
            "transfer.task.completed",
            "transfer.task.completed",
            "transfer.session.drained");
    // Letting tasks finish changes nothing once they are all canceled; a PUT revives it.
    api()
        .queryParam("finishTasks", "true")
        .delete("/v1/sessions/" + sid)
        .then()
        .statusCode(200)
        .body("state", equalTo("invalidated"));
    api()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(200);
    download(sid);
  }

  @Test
  void finishTasksRefusesNewTasksButLeavesOpenOnesAlone() {
    String sid = newSession("finish");
    String tid = download(sid);
    api()
        .queryParam("finishTasks", "true")
        .delete("/v1/sessions/" + sid)
        .then()
        .statusCode(200)
        .body("state", equalTo("finishing"));
    api().get("/v1/sessions/" + sid).then().body("state", equalTo("finishing"));
    api().get("/v1/sessions/" + sid + "/tasks/" + tid).then().body("state", equalTo("queued"));
    expectProblem(
        post(
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + UNREACHABLE + "\"}"),
        409);
  }

  @Test
  void deletingAnUnknownSessionOrWithABadFlagIsAProblem() {
    expectProblem(api().delete("/v1/sessions/nope-" + UUID.randomUUID()).then(), 404);
    String sid = newSession("flag");
    download(sid);
    expectProblem(
        api()
            .queryParam("finishTasks", "yes")
            .delete("/v1/sessions/" + sid)
            .then()
            .body("errors.field", contains("finishTasks")),
        400);
    api().get("/v1/sessions/" + sid).then().body("state", equalTo("active"));
  }
}
