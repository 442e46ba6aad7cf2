package transfer.api.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.api.RawSocket;
import transfer.api.TestSessions;
import transfer.api.Together;
import transfer.api.admin.TestTenants;
import transfer.api.admin.TestTenants.Tenant;

/**
 * Per-tenant quotas on the real services, with small quotas given to tenants through the admin API:
 * past a quota the answer is 429 problem+json with a Retry-After, nothing is stored, and another
 * tenant's requests at the same moment go through.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class QuotaIT {
  private static final String PROBLEM = "application/problem+json";
  private static final String TYPE = "urn:transfer:problem:quota-exceeded:";

  @Inject ApiConfig config;

  private final ExecutorService pool = Executors.newFixedThreadPool(8);

  @AfterEach
  void stopPool() {
    pool.shutdownNow();
  }

  private static String newSession(Tenant t) {
    return TestSessions.create(t.key(), "q");
  }

  private static Response download(Tenant t, String sid, String idempotencyKey) {
    var req =
        t.api()
            .contentType(ContentType.JSON)
            .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/quota\"}");
    if (idempotencyKey != null) {
      req.header("Idempotency-Key", idempotencyKey);
    }
    return req.post("/v1/sessions/" + sid + "/tasks");
  }

  private static void assertQuotaExceeded(Response r, String quota, String limit) {
    r.then()
        .statusCode(429)
        .contentType(PROBLEM)
        .body("type", equalTo(TYPE + quota))
        .body("status", equalTo(429));
    assertThat(r.jsonPath().getString("detail")).contains(quota).contains("limit " + limit);
    assertThat(Long.parseLong(r.header("Retry-After"))).isPositive();
  }

  private static int taskCount(Tenant t, String sid) {
    return t.api()
        .get("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(200)
        .extract()
        .path("tasks.size()");
  }

  /** Runs every call at once (released together), answering their statuses in order. */
  private List<Integer> together(List<Callable<Integer>> calls) throws Exception {
    return Together.run(pool, calls);
  }

  @Test
  void pastItsTasksInFlightQuotaATenantIsRefusedWhileAnotherSubmits() throws Exception {
    Tenant a = TestTenants.create("inflight-a", "{\"tasksInFlight\":3}");
    Tenant b = TestTenants.create("inflight-b");
    String sa = newSession(a);
    String sb = newSession(b);
    String first = download(a, sa, "k1").then().statusCode(201).extract().path("id");
    download(a, sa, null).then().statusCode(201);
    download(a, sa, null).then().statusCode(201);

    Response refused = download(a, sa, null);
    assertQuotaExceeded(refused, "tasks-in-flight", "3");
    assertThat(refused.header("Retry-After")).isEqualTo("30");
    assertThat(taskCount(a, sa)).isEqualTo(3);

    // At the same moment: A is refused every time, B's submits all go through.
    List<Callable<Integer>> calls = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      calls.add(() -> download(a, sa, null).statusCode());
      calls.add(() -> download(b, sb, null).statusCode());
    }
    List<Integer> statuses = together(calls);
    for (int i = 0; i < statuses.size(); i++) {
      assertThat(statuses.get(i)).as("call %d", i).isEqualTo(i % 2 == 0 ? 429 : 201);
    }
    assertThat(taskCount(a, sa)).isEqualTo(3);
    assertThat(taskCount(b, sb)).isEqualTo(8);

    // A repeated submit (same Idempotency-Key) creates nothing and is answered as before.
    download(a, sa, "k1")
        .then()
        .statusCode(201)
        .header("Idempotent-Replayed", "true")
        .body("id", equalTo(first));
    // Suspended tasks are in flight too; a canceled one is not.
    a.api().post("/v1/sessions/" + sa + "/tasks/" + first + "/suspend").then().statusCode(200);
    assertQuotaExceeded(download(a, sa, null), "tasks-in-flight", "3");
    a.api().post("/v1/sessions/" + sa + "/tasks/" + first + "/cancel").then().statusCode(200);
    download(a, sa, null).then().statusCode(201);
    assertQuotaExceeded(download(a, sa, null), "tasks-in-flight", "3");
    TestTenants.admin()
        .get("/v1/admin/tenants/" + a.id())
        .then()
        .body("usage.tasksInFlight", equalTo(3));
  }

  @Test
  void pastItsRequestRateATenantWaitsWhileAnotherIsServed() throws Exception {
    Tenant a = TestTenants.create("rate-a", "{\"requestsPerSecond\":0.2,\"burst\":5}");
    Tenant b = TestTenants.create("rate-b");
    List<Callable<Integer>> calls = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      calls.add(() -> a.api().get("/v1/sessions").statusCode());
      calls.add(() -> b.api().get("/v1/sessions").statusCode());
    }
    List<Integer> statuses = together(calls);
    List<Integer> ofA = new ArrayList<>();
    List<Integer> ofB = new ArrayList<>();
    for (int i = 0; i < statuses.size(); i++) {
      (i % 2 == 0 ? ofA : ofB).add(statuses.get(i));
    }
    assertThat(ofB).containsOnly(200);
    assertThat(Set.copyOf(ofA)).containsExactlyInAnyOrder(200, 429);
    // The burst of 5, and at most one token refilled (one per 5 s) while the requests ran.
    assertThat(ofA.stream().filter(s -> s == 200).count()).isBetween(5L, 6L);

    Response refused = a.api().get("/v1/sessions");
    assertQuotaExceeded(refused, "request-rate", "0.2 requests per second");
    assertThat(refused.jsonPath().getString("detail")).contains("burst 5");
    // The time to the next token, in whole seconds.
    assertThat(Long.parseLong(refused.header("Retry-After"))).isBetween(1L, 5L);
    // The event stream counts too, and says when to retry.
    String sse =
        RawSocket.exchange(
            "GET /v1/sessions/x/events/stream HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + a.key()
                + "\r\nConnection: close\r\n\r\n",
            new byte[0]);
    assertThat(sse).startsWith("HTTP/1.1 429");
    assertThat(sse.toLowerCase())
        .contains("retry-after: ")
        .contains("content-type: application/problem+json");
    assertThat(sse).contains(TYPE + "request-rate");

    // A token comes back within 5 s (refused attempts take none).
    await()
        .atMost(Duration.ofSeconds(8))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> a.api().get("/v1/sessions").statusCode() == 200);
  }

  @Test
  void pastItsBytesStoredQuotaNothingIsStoredAndAnotherTenantStores() throws Exception {
    Tenant a = TestTenants.create("bytes-a", "{\"bytesStored\":1000}");
    Tenant b = TestTenants.create("bytes-b");
    String sa = newSession(a);
    String sb = newSession(b);
    Set<Path> partsBefore = partFiles();

    putObject(a, sa, "a", 600).then().statusCode(201);
    // Declared too large: refused before the body is read (only 100 of 600 bytes are sent).
    String early =
        RawSocket.exchange(
            "PUT /v1/sessions/"
                + sa
                + "/objects/b HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + a.key()
                + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 600\r\n\r\n",
            new byte[100]);
    assertThat(early).startsWith("HTTP/1.1 429");
    assertThat(early.toLowerCase())
        .contains("retry-after: 30")
        .contains("content-type: application/problem+json");
    assertThat(early).contains(TYPE + "bytes-stored").contains("limit 1000");
    // No length: cut where it passes the quota (the body is never finished here).
    String cut =
        RawSocket.exchange(
            "PUT /v1/sessions/"
                + sa
                + "/objects/c HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + a.key()
                + "\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked"
                + "\r\n\r\n",
            ("258\r\n" + "x".repeat(600) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    assertThat(cut).startsWith("HTTP/1.1 429").contains(TYPE + "bytes-stored");
    a.api().get("/v1/sessions/" + sa + "/objects/b").then().statusCode(404);
    a.api().get("/v1/sessions/" + sa + "/objects/c").then().statusCode(404);
    await().atMost(Duration.ofSeconds(5)).until(() -> partFiles().equals(partsBefore));

    // Meanwhile B, with the default quota, stores more than A may.
    putObject(b, sb, "big", 5000).then().statusCode(201);

    // Replacing an object: its old bytes do not count against the new ones.
    putObject(a, sa, "a", 900).then().statusCode(200);
    // Below the quota a download may start (its size is unknown until it is done) ...
    download(a, sa, null).then().statusCode(201);
    putObject(a, sa, "d", 100).then().statusCode(201);
    assertThat(storedBytes(a)).isEqualTo(1000);
    // ... at the quota it may not; an upload adds no bytes and may.
    assertQuotaExceeded(download(a, sa, null), "bytes-stored", "1000");
    a.api()
        .contentType(ContentType.JSON)
        .body(
            "{\"type\":\"upload\",\"url\":\"http://127.0.0.1:9/up\",\"method\":\"PUT\","
                + "\"source\":{\"object\":\"a\"}}")
        .post("/v1/sessions/" + sa + "/tasks")
        .then()
        .statusCode(201);
    assertQuotaExceeded(putObject(a, sa, "e", 1), "bytes-stored", "1000");
    putObject(a, sa, "empty", 0).then().statusCode(201);
    a.api().delete("/v1/sessions/" + sa + "/objects/d").then().statusCode(204);
    download(a, sa, null).then().statusCode(201);
    assertThat(storedBytes(a)).isEqualTo(900);
  }

  @Test
  void aPutInProgressHoldsItsRoomUntilItsObjectIsStored() throws Exception {
    Tenant a = TestTenants.create("room-a", "{\"bytesStored\":1000}");
    String sa = newSession(a);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", io.restassured.RestAssured.port)) {
      s.setSoTimeout(10_000);
      var out = s.getOutputStream();
      // A body without a length reserves room a step at a time: here, all the quota has.
      out.write(
          ("PUT /v1/sessions/"
                  + sa
                  + "/objects/slow HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                  + a.key()
                  + "\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked"
                  + "\r\nConnection: close\r\n\r\n64\r\n"
                  + "x".repeat(100)
                  + "\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      await().atMost(Duration.ofSeconds(10)).until(() -> storedBytes(a) == 1000);
      // Another PUT at the same moment finds no room left, rather than all of it.
      assertQuotaExceeded(putObject(a, sa, "other", 10), "bytes-stored", "1000");

      out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 201");
    }
    assertThat(storedBytes(a)).as("the object's size; its room given back").isEqualTo(100);
    putObject(a, sa, "other", 10).then().statusCode(201);
  }

  private static Response putObject(Tenant t, String sid, String name, int size) {
    return t.api()
        .contentType("application/octet-stream")
        .body(new byte[size])
        .put("/v1/sessions/" + sid + "/objects/" + name);
  }

  private static long storedBytes(Tenant t) {
    Number n =
        TestTenants.admin()
            .get("/v1/admin/tenants/" + t.id())
            .then()
            .statusCode(200)
            .extract()
            .path("usage.bytesStored");
    return n.longValue();
  }

  private Set<Path> partFiles() throws IOException {
    Path dir = config.storage().root().toAbsolutePath().normalize().resolve(".partial");
    if (!Files.isDirectory(dir)) {
      return Set.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.collect(Collectors.toSet());
    }
  }
}
