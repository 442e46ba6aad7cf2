package transfer.api.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static transfer.api.ControlCalls.api;
import static transfer.api.ControlCalls.download;
import static transfer.api.ControlCalls.expectProblem;
import static transfer.api.ControlCalls.newSession;
import static transfer.api.ControlCalls.post;
import static transfer.api.ControlCalls.submit;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.contracts.TaskState;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;

/**
 * The task control surface without a worker: listing and paging, cancel/suspend/resume, uploads'
 * and resumeData's rules. Tasks stay queued here (no worker claims them) unless a test plays the
 * worker through the ledger.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class TaskControlApiIT {
  @Inject Ledger ledger;
  @Inject ApiConfig config;

  // ------------------------------------------------------------------ change and deadline

  @Test
  void aPatchChangesAQueuedTaskAndABeginTimePastTheDeadlineIs422() {
    String sid = newSession("patch");
    String tid = download(sid);
    api()
        .contentType(ContentType.JSON)
        .body(
            "{\"url\":\"http://127.0.0.1:9/renewed\",\"headers\":{\"Authorization\":\"Bearer x\"},"
                + "\"priority\":0.8,\"description\":\"renewed\"}")
        .patch("/v1/sessions/" + sid + "/tasks/" + tid)
        .then()
        .statusCode(200)
        .body("url", equalTo("http://127.0.0.1:9/renewed"))
        .body("headers.Authorization", equalTo("***"))
        .body("priority", equalTo(0.8f))
        .body("description", equalTo("renewed"))
        .body("state", equalTo("queued"));
    expectProblem(
        api()
            .contentType(ContentType.JSON)
            .body("{\"color\":\"blue\"}")
            .patch("/v1/sessions/" + sid + "/tasks/" + tid)
            .then(),
        400);
    assertThat(
            ledger
                .taskControl()
                .task(config.api().bootstrapTenant(), sid, tid)
                .orElseThrow()
                .priority())
        .isEqualTo(0.8);

    // The session's tasks have 7 days; one that may begin only after them could never run.
    String later = java.time.Instant.now().plus(Duration.ofDays(8)).toString();
    expectProblem(
        post(
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\",\"earliestBeginAt\":\""
                + later
                + "\"}"),
        422);
    post(
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\",\"earliestBeginAt\":\""
                + later
                + "\"}")
        .body("errors[0].field", equalTo("earliestBeginAt"))
        .body("errors[0].message", org.hamcrest.Matchers.containsString("deadline"));

    // Created suspended: no worker until resumed; not together with a begin time.
    String held =
        submit(sid, "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\",\"suspended\":true}");
    assertThat(
            ledger
                .taskControl()
                .task(config.api().bootstrapTenant(), sid, held)
                .orElseThrow()
                .state())
        .isEqualTo(TaskState.SUSPENDED);
    post("/v1/sessions/" + sid + "/tasks/" + held + "/resume", null)
        .statusCode(200)
        .body("state", equalTo("queued"));
    expectProblem(
        post(
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x\",\"suspended\":true,"
                + "\"earliestBeginAt\":\""
                + java.time.Instant.now().plus(Duration.ofHours(1))
                + "\"}"),
        400);
  }

  // ------------------------------------------------------------------ task list

  @Test
  void tasksArePagedInCreationOrderAndFilteredByState() {
    String sid = newSession("page");
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      ids.add(download(sid));
    }
    for (int i : new int[] {1, 4, 6}) {
      post("/v1/sessions/" + sid + "/tasks/" + ids.get(i) + "/suspend", null).statusCode(200);
    }
    post("/v1/sessions/" + sid + "/tasks/" + ids.get(2) + "/cancel", null).statusCode(200);

    api()
        .queryParam("limit", 3)
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(200)
        .body("tasks.id", contains(ids.get(0), ids.get(1), ids.get(2)))
        .body("next", equalTo(ids.get(2)));
    api()
        .queryParam("limit", 3)
        .queryParam("after", ids.get(5))
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .body("tasks.id", contains(ids.get(6)))
        .body("next", nullValue());
    // Repeated and comma-separated states are one filter.
    api()
        .queryParam("state", "suspended,canceled")
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .body("tasks.id", contains(ids.get(1), ids.get(2), ids.get(4), ids.get(6)));
    api()
        .queryParam("state", "suspended")
        .queryParam("state", "canceled")
        .queryParam("limit", 2)
        .queryParam("after", ids.get(1))
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .body("tasks.id", contains(ids.get(2), ids.get(4)))
        .body("next", equalTo(ids.get(4)));
    api()
        .queryParam("state", "queued")
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .body("tasks.id", contains(ids.get(0), ids.get(3), ids.get(5)))
        .body("tasks.state", everyItem(equalTo("queued")));
  }

  @Test
  void aBadTaskListRequestIsA400NamingEachParameter() {
    String sid = newSession("badlist");
    String tid = download(sid);
    expectProblem(
        api()
            .queryParam("state", "queued,sleeping")
            .queryParam("limit", "-1")
            .queryParam("after", "not-a-uuid")
            .get("/v1/sessions/" + sid + "/tasks")
            .then()
            .body("errors.field", containsInAnyOrder("state", "limit", "after")),
        400);
    expectProblem(
        api()
            .queryParam("after", UUID.randomUUID().toString())
            .get("/v1/sessions/" + sid + "/tasks")
            .then()
            .body("errors.field", contains("after")),
        400);
    expectProblem(api().get("/v1/sessions/nope-" + UUID.randomUUID() + "/tasks").then(), 404);
    api()
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(200)
        .body("tasks.id", contains(tid));
  }

  // ------------------------------------------------------------------ cancel, suspend, resume

  @Test
  void cancelAnswersTheTaskAndOnlyOpenTasksCanBeCanceled() {
    String sid = newSession("cancel");
    String tid = download(sid);
    String path = "/v1/sessions/" + sid + "/tasks/" + tid;

    // A malformed body is refused and changes nothing.
    expectProblem(post(path + "/cancel", "{\"produceResumeData\":\"maybe\"}"), 400);
    expectProblem(
        post(path + "/cancel", "{\"please\":true}").body("errors.field", hasItem("please")), 400);
    expectProblem(post(path + "/cancel", "[1]"), 400);
    api().get(path).then().body("state", equalTo("queued"));

    // Nothing durable yet: no resumeData, even when asked for.
    post(path + "/cancel", "{\"produceResumeData\":true}")
        .statusCode(200)
        .body("task.id", equalTo(tid))
        .body("task.state", equalTo("canceled"))
        .body("task.error.code", equalTo("canceled"))
        .body("resumeData", nullValue());
    // Canceling again answers the same; an empty body is fine.
    post(path + "/cancel", null).statusCode(200).body("task.state", equalTo("canceled"));
    expectProblem(post(path + "/suspend", null), 409);
    expectProblem(post(path + "/resume", null), 409);

    expectProblem(
        post("/v1/sessions/" + sid + "/tasks/" + UUID.randomUUID() + "/cancel", null), 404);
    expectProblem(post("/v1/sessions/" + sid + "/tasks/nope/suspend", null), 404);
    expectProblem(
        post("/v1/sessions/other-" + UUID.randomUUID() + "/tasks/" + tid + "/resume", null), 404);
  }

  @Test
  void aCompletedTaskCannotBeCanceledSuspendedOrResumed() {
    String sid = newSession("final");
    TaskRow done = completeOneDownload(sid);
    String path = "/v1/sessions/" + sid + "/tasks/" + done.id();
    for (String action : List.of("cancel", "suspend", "resume")) {
      expectProblem(
          post(path + "/" + action, null)
              .body("detail", org.hamcrest.Matchers.containsString("completed")),
          409);
    }
    api().get(path).then().body("state", equalTo("completed"));
  }

  @Test
  void suspendHoldsATaskBackAndResumeQueuesItAgain() {
    String sid = newSession("suspend");
    String tid = download(sid);
    String path = "/v1/sessions/" + sid + "/tasks/" + tid;
    post(path + "/suspend", null)
        .statusCode(200)
        .body("id", equalTo(tid))
        .body("state", equalTo("suspended"));
    post(path + "/suspend", null).statusCode(200).body("state", equalTo("suspended"));
    // A suspended task is not claimable.
    assertThat(TestClaims.claim(ledger, tid, "api-it", Duration.ofSeconds(30))).isEmpty();
    post(path + "/resume", null).statusCode(200).body("state", equalTo("queued"));
    post(path + "/resume", null).statusCode(200).body("state", equalTo("queued"));
  }

  // ------------------------------------------------------------------ rules of a task request

  @Test
  void uploadsAreAcceptedWithExactlyOneSourceAndEveryBrokenRuleIsNamed() {
    String sid = newSession("upload");
    TaskRow done = completeOneDownload(sid);

    api()
        .contentType(ContentType.JSON)
        .body(
            "{\"type\":\"upload\",\"url\":\"http://127.0.0.1:9/put\",\"source\":{\"task\":\""
                + done.id()
                + "\"}}")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(201)
        .body("type", equalTo("upload"))
        .body("method", equalTo("PUT"))
        .body("source.task", equalTo(done.id()))
        .body("bytesExpected", equalTo(1))
        .body("state", equalTo("queued"));

    String u = "\"type\":\"upload\",\"url\":\"http://127.0.0.1:9/put\"";
    String src = "\"source\":{\"task\":\"" + done.id() + "\"}";
    String[][] cases = {
      {"{" + u + "}", "source"},
      {"{" + u + ",\"source\":{}}", "source"},
      {"{" + u + ",\"source\":{\"task\":\"" + done.id() + "\",\"object\":\"a\"}}", "source"},
      {"{" + u + ",\"source\":{\"task\":\"nope\"}}", "source.task"},
      {"{" + u + ",\"source\":{\"object\":\"\"}}", "source.object"},
      {"{" + u + ",\"source\":{\"file\":\"/etc/passwd\"}}", "source.file"},
      {"{" + u + "," + src + ",\"method\":\"GET\"}", "method"},
      {"{" + u + "," + src + ",\"sha256\":\"" + "a".repeat(64) + "\"}", "sha256"},
      {"{" + u + "," + src + ",\"expectedBytes\":5}", "expectedBytes"},
      {"{" + u + "," + src + ",\"resumeData\":\"abcd\"}", "resumeData"},
      {"{\"type\":\"upload\"," + src + "}", "url"},
      {"{\"type\":\"download\",\"url\":\"http://a/\"," + src + "}", "source"},
      {"{\"type\":\"download\"}", "url"},
      {"{\"type\":\"download\",\"resumeData\":\"***\"}", "resumeData"},
      {"{\"type\":\"download\",\"resumeData\":\"" + "A".repeat(4097) + "\"}", "resumeData"},
      {"{\"type\":\"download\",\"resumeData\":\"A\"}", "resumeData"},
      // Resolved by the ledger: names nothing of this tenant.
      {"{" + u + ",\"source\":{\"task\":\"" + UUID.randomUUID() + "\"}}", "source.task"},
      {"{" + u + ",\"source\":{\"object\":\"not-staged\"}}", "source.object"},
      {"{\"type\":\"download\",\"resumeData\":\"eyJ2IjoxfQ\"}", "resumeData"},
    };
    for (String[] c : cases) {
      expectProblem(
          post("/v1/sessions/" + sid + "/tasks", c[0]).body("errors.field", hasItem(c[1])), 400);
    }
    // Several broken rules at once are all reported.
    expectProblem(
        post(
                "/v1/sessions/" + sid + "/tasks",
                "{\"type\":\"upload\",\"url\":\"ftp://x/\",\"method\":\"PATCH\",\"sha256\":\"x\"}")
            .body("errors.field", containsInAnyOrder("url", "method", "source", "sha256")),
        400);
    // None of that stored anything: the one upload and the completed download only.
    api().get("/v1/sessions/" + sid + "/tasks").then().body("tasks", hasSize(2));
  }

  @Test
  void aDownloadContinuesFromTheResumeDataOfACanceledOne() {
    String sid = newSession("resume");
    String url = "http://127.0.0.1:9/resumable";
    String first = submit(sid, "{\"type\":\"download\",\"url\":\"" + url + "\"}");
    // Play the worker: a claim and one checkpoint of 1000 bytes with a strong ETag.
    long epoch =
        TestClaims.claim(ledger, first, "api-it", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    Lease.of(first, epoch),
                    Duration.ofSeconds(30),
                    new Leases.Heartbeat(
                        1500, new Leases.Checkpoint(1000, epoch, "\"v1\"", null), 4000L, false, 0)))
        .isTrue();

    String resumeData =
        post("/v1/sessions/" + sid + "/tasks/" + first + "/cancel", "{\"produceResumeData\":true}")
            .statusCode(200)
            .body("task.state", equalTo("canceled"))
            .body("task.resumeData", notNullValue())
            .body("resumeData", notNullValue())
            .extract()
            .path("resumeData");

    // Another URL than the original is a bad field; the same or none is fine.
    expectProblem(
        post(
                "/v1/sessions/" + sid + "/tasks",
                "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/other\",\"resumeData\":\""
                    + resumeData
                    + "\"}")
            .body("errors.field", contains("url")),
        400);
    api()
        .contentType(ContentType.JSON)
        .body("{\"type\":\"download\",\"resumeData\":\"" + resumeData + "\"}")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(201)
        .body("url", equalTo(url))
        .body("state", equalTo("queued"));
    TaskRow second =
        ledger
            .taskControl()
            .tasks(
                config.api().bootstrapTenant(), sid, java.util.Set.of(TaskState.QUEUED), null, 10)
            .get(0);
    assertThat(second.bytesDurable()).isEqualTo(1000);
    assertThat(second.prefixOwner()).isEqualTo(first);

    // A completed download offers no resumeData, and its id in forged resumeData is refused.
    TaskRow done = completeOneDownload(sid);
    String forged =
        java.util.Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(
                ("{\"v\":1,\"task\":\"" + done.id() + "\",\"epoch\":1,\"bytes\":1}").getBytes());
    expectProblem(
        post(
                "/v1/sessions/" + sid + "/tasks",
                "{\"type\":\"download\",\"resumeData\":\"" + forged + "\"}")
            .body("errors.field", contains("resumeData")),
        400);
  }

  /** A download completed through the ledger as a worker would, with a 1-byte object. */
  private TaskRow completeOneDownload(String sid) {
    String tid = download(sid);
    long epoch =
        TestClaims.claim(ledger, tid, "api-it", Duration.ofSeconds(30)).orElseThrow().epoch();
    String location =
        config.storage().root().toAbsolutePath().resolve("api-it-" + tid).toUri().toString();
    assertThat(
            ledger.leases().completeDownload(Lease.of(tid, epoch), location, 1, "00".repeat(32), 1))
        .isTrue();
    return ledger.taskControl().task(config.api().bootstrapTenant(), sid, tid).orElseThrow();
  }
}
