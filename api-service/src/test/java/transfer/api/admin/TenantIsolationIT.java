package transfer.api.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.api.admin.TestTenants.Tenant;
import transfer.ledger.Lease;
import transfer.ledger.Ledger;
import transfer.ledger.TestClaims;

/**
 * Two tenants made through the admin API: every tenant endpoint answers tenant B's requests for
 * tenant A's sessions, tasks, objects and events with 404 (and changes nothing of A's), and A's
 * lists never show B's things, even where both use the same session id and object name.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class TenantIsolationIT {
  private static final String PROBLEM = "application/problem+json";
  private static final Duration LEASE = Duration.ofMinutes(5);

  @Inject Ledger ledger;
  @Inject ApiConfig config;

  @TestHTTPResource("/")
  URL base;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private Tenant a;
  private Tenant b;

  @BeforeEach
  void twoTenants() {
    a = TestTenants.create("iso-a");
    b = TestTenants.create("iso-b");
  }

  /** A's things, all of one session: a queued task, a completed download, a staged object. */
  private record Things(String sid, String queued, String done, byte[] objectBytes) {}

  private Things thingsOf(Tenant t, String sid) throws Exception {
    t.api()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(201);
    String queued = submit(t, sid, "queued");
    String done = submit(t, sid, "done");
    // Completed as a worker would, with real bytes in storage so that its content is readable.
    byte[] content = ("content of " + t.id() + " " + done).getBytes(StandardCharsets.UTF_8);
    Path file =
        config
            .storage()
            .root()
            .toAbsolutePath()
            .normalize()
            .resolve(t.id())
            .resolve(sid)
            .resolve(done + ".e1");
    Files.createDirectories(file.getParent());
    Files.write(file, content);
    long epoch = TestClaims.claim(ledger, done, "test-worker", LEASE).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .completeDownload(
                    Lease.of(done, epoch),
                    file.toUri().toString(),
                    content.length,
                    HexFormat.of()
                        .formatHex(
                            java.security.MessageDigest.getInstance("SHA-256").digest(content)),
                    content.length))
        .isTrue();
    byte[] object = ("object of " + t.id()).getBytes(StandardCharsets.UTF_8);
    t.api().body(object).put("/v1/sessions/" + sid + "/objects/obj").then().statusCode(201);
    return new Things(sid, queued, done, object);
  }

  private static String submit(Tenant t, String sid, String path) {
    return t.api()
        .contentType(ContentType.JSON)
        .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/" + path + "\"}")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(201)
        .extract()
        .path("id");
  }

  @Test
  void anotherTenantsIdsAreNotFoundOnEveryEndpointAndNothingOfThemChanges() throws Exception {
    Things x = thingsOf(a, "only-a-" + UUID.randomUUID());
    String s = "/v1/sessions/" + x.sid();
    String task = s + "/tasks/" + x.queued();
    String obj = s + "/objects/obj";

    // Every endpoint, with B's key and A's ids.
    List<Function<Tenant, Response>> calls =
        List.of(
            t -> t.api().get(s),
            t -> t.api().delete(s),
            t -> t.api().delete(s + "?finishTasks=true"),
            t -> t.api().get(s + "/tasks"),
            t ->
                t.api()
                    .contentType(ContentType.JSON)
                    .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/b\"}")
                    .post(s + "/tasks"),
            t -> t.api().get(task),
            t -> t.api().get(s + "/tasks/" + x.done()),
            t -> t.api().get(s + "/tasks/" + x.done() + "/content"),
            t -> t.api().contentType(ContentType.JSON).body("{}").post(task + "/cancel"),
            t -> t.api().post(task + "/suspend"),
            t -> t.api().post(task + "/resume"),
            t -> t.api().get(obj),
            t -> t.api().head(obj),
            t -> t.api().delete(obj),
            t -> t.api().body("from b".getBytes(StandardCharsets.UTF_8)).put(obj),
            t -> t.api().get(s + "/events?after=0"));
    for (Function<Tenant, Response> call : calls) {
      Response r = call.apply(b);
      assertThat(r.statusCode()).as("B: %s", r.asString()).isEqualTo(404);
      if (r.contentType() != null && !r.contentType().isEmpty()) {
        assertThat(r.contentType()).startsWith(PROBLEM);
      }
    }
    assertThat(stream(b, x.sid()).status()).isEqualTo(404);

    // Nothing of A's changed: the session is active, the task queued, the object A's own.
    a.api().get(s).then().statusCode(200).body("state", equalTo("active"));
    a.api().get(task).then().statusCode(200).body("state", equalTo("queued"));
    assertThat(a.api().get(obj).then().statusCode(200).extract().asByteArray())
        .isEqualTo(x.objectBytes());
    assertThat(
            a.api()
                .get(s + "/tasks/" + x.done() + "/content")
                .then()
                .statusCode(200)
                .extract()
                .asString())
        .startsWith("content of " + a.id());
    a.api().get(s + "/tasks").then().statusCode(200).body("tasks.size()", equalTo(2));
    Sse own = stream(a, x.sid());
    own.body().close();
    assertThat(own.status()).isEqualTo(200);

    // A PUT of A's session id by B makes B's own session; A's keeps its configuration.
    b.api()
        .contentType(ContentType.JSON)
        .body("{\"maxConnectionsPerHost\":1}")
        .put(s)
        .then()
        .statusCode(201);
    a.api().get(s).then().statusCode(200).body("config.maxConnectionsPerHost", equalTo(6));
    b.api().get(s + "/tasks").then().statusCode(200).body("tasks.size()", equalTo(0));
    b.api().get(task).then().statusCode(404);
  }

  @Test
  void listsShowOnlyTheTenantsOwnThingsUnderTheSameNames() throws Exception {
    String shared = "shared-" + UUID.randomUUID();
    Things ofA = thingsOf(a, shared);
    Things ofB = thingsOf(b, shared);
    String onlyB = "only-b-" + UUID.randomUUID();
    b.api()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/" + onlyB)
        .then()
        .statusCode(201);
    // A cancel writes a completion event: each tenant's own, in its own session.
    a.api()
        .post("/v1/sessions/" + shared + "/tasks/" + ofA.queued() + "/cancel")
        .then()
        .statusCode(200);
    b.api()
        .post("/v1/sessions/" + shared + "/tasks/" + ofB.queued() + "/cancel")
        .then()
        .statusCode(200);

    String sessions =
        a.api().get("/v1/sessions?limit=1000").then().statusCode(200).extract().asString();
    assertThat(sessions).contains(shared).doesNotContain(onlyB);

    List<String> tasks =
        a.api()
            .get("/v1/sessions/" + shared + "/tasks")
            .then()
            .statusCode(200)
            .extract()
            .path("tasks.id");
    assertThat(tasks).containsExactlyInAnyOrder(ofA.queued(), ofA.done());
    List<String> canceled =
        a.api()
            .get("/v1/sessions/" + shared + "/tasks?state=canceled")
            .then()
            .statusCode(200)
            .extract()
            .path("tasks.id");
    assertThat(canceled).containsExactly(ofA.queued());

    String events =
        a.api()
            .get("/v1/sessions/" + shared + "/events?after=0")
            .then()
            .statusCode(200)
            .extract()
            .asString();
    assertThat(events)
        .contains(ofA.queued(), ofA.done())
        .doesNotContain(ofB.queued())
        .doesNotContain(ofB.done());

    // The same object name: each tenant reads its own bytes.
    assertThat(
            a.api()
                .get("/v1/sessions/" + shared + "/objects/obj")
                .then()
                .statusCode(200)
                .extract()
                .asByteArray())
        .isEqualTo(ofA.objectBytes());
    assertThat(
            b.api()
                .get("/v1/sessions/" + shared + "/objects/obj")
                .then()
                .statusCode(200)
                .extract()
                .asByteArray())
        .isEqualTo(ofB.objectBytes());
    // B's task ids in A's same-named session: not found.
    a.api().get("/v1/sessions/" + shared + "/tasks/" + ofB.done()).then().statusCode(404);
    a.api()
        .get("/v1/sessions/" + shared + "/tasks/" + ofB.done() + "/content")
        .then()
        .statusCode(404);

    // A's stream of the shared session replays A's events only.
    Sse sse = stream(a, shared);
    assertThat(sse.status()).isEqualTo(200);
    String replayed = sse.readUntil(ofA.queued() + ":completed");
    assertThat(replayed)
        .contains(ofA.done())
        .doesNotContain(ofB.queued())
        .doesNotContain(ofB.done());
  }

  /** An event stream's status and its body (closed already unless the status is 200). */
  private record Sse(int status, InputStream body) {
    /** Reads the stream until {@code marker} appears (at most 10 s) and closes it. */
    String readUntil(String marker) throws Exception {
      CompletableFuture<String> read =
          CompletableFuture.supplyAsync(
              () -> {
                StringBuilder text = new StringBuilder();
                try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = r.readLine()) != null) {
                    text.append(line).append('\n');
                    if (line.contains(marker)) {
                      break;
                    }
                  }
                } catch (java.io.IOException e) {
                  // closed
                }
                return text.toString();
              });
      try {
        return read.get(10, TimeUnit.SECONDS);
      } finally {
        body.close();
      }
    }
  }

  private Sse stream(Tenant t, String sid) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(
                URI.create(
                    base.toString().replaceAll("/$", "")
                        + "/v1/sessions/"
                        + sid
                        + "/events/stream?after=0"))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer " + t.key())
            .build();
    HttpResponse<InputStream> answer = http.send(r, HttpResponse.BodyHandlers.ofInputStream());
    if (answer.statusCode() != 200) {
      assertThat(answer.headers().firstValue("Content-Type"))
          .hasValueSatisfying(v -> assertThat(v).startsWith(PROBLEM));
      answer.body().close();
    }
    return new Sse(answer.statusCode(), answer.body());
  }
}
