package transfer.api.admin;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;
import static transfer.api.admin.TestTenants.admin;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.admin.TestTenants.Tenant;

/**
 * The admin API on the real services: tenants and their keys (shown once, stored as hashes,
 * revocable at once), quotas, and the separation of the admin key from tenant keys.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class AdminApiIT {
  private static final String PROBLEM = "application/problem+json";

  @TestHTTPResource("/")
  URL base;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  @Test
  void aTenantIsCreatedWithItsFirstKeyShownOnceAndTheKeyWorks() {
    String id = "acme-" + UUID.randomUUID();
    Response created =
        admin()
            .contentType(ContentType.JSON)
            .body("{\"id\":\"" + id + "\",\"name\":\"ACME\"}")
            .post("/v1/admin/tenants");
    created
        .then()
        .statusCode(201)
        .header("Location", startsWith("http"))
        .body("tenant.id", equalTo(id))
        .body("tenant.name", equalTo("ACME"))
        .body("tenant.quotas.tasksInFlight", nullValue())
        .body("tenant.effectiveQuotas.tasksInFlight", equalTo(100000))
        .body("tenant.effectiveQuotas.bytesStored", equalTo(1L << 40))
        .body("tenant.effectiveQuotas.requestsPerSecond", equalTo(200.0f))
        .body("tenant.effectiveQuotas.burst", equalTo(400))
        .body("key.id", startsWith("key-"));
    assertThat(created.header("Location")).endsWith("/v1/admin/tenants/" + id);
    String secret = created.jsonPath().getString("key.secret");
    String keyId = created.jsonPath().getString("key.id");
    // 256 random bits, base64url: 43 characters.
    assertThat(secret).matches("tk_[A-Za-z0-9_-]{43}");

    new Tenant(id, keyId, secret)
        .api()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/s1")
        .then()
        .statusCode(201);

    // Read back: key ids and usage, never a secret.
    String read =
        admin()
            .get("/v1/admin/tenants/" + id)
            .then()
            .statusCode(200)
            .contentType(ContentType.JSON)
            .body("id", equalTo(id))
            .body("keys.id", equalTo(List.of(keyId)))
            .body("keys[0].revokedAt", nullValue())
            .body("usage.tasksInFlight", equalTo(0))
            .body("usage.bytesStored", equalTo(0))
            .extract()
            .asString();
    assertThat(read).doesNotContain(secret).doesNotContain("secret");
    String listed =
        admin().get("/v1/admin/tenants?limit=1000").then().statusCode(200).extract().asString();
    assertThat(listed).contains(id).doesNotContain(secret);
  }

  @Test
  void aTakenIdIsAConflictAndBadBodiesAreValidationErrors() {
    Tenant t = TestTenants.create("dup");
    admin()
        .contentType(ContentType.JSON)
        .body("{\"id\":\"" + t.id() + "\"}")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(409)
        .contentType(PROBLEM)
        .body("status", equalTo(409));
    // The refused creation did not replace the key.
    t.api().get("/v1/sessions").then().statusCode(200);

    admin()
        .contentType(ContentType.JSON)
        .body("{\"id\":\"../etc\",\"name\":\"\"}")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(400)
        .contentType(PROBLEM)
        .body("errors.field", equalTo(List.of("id", "name")));
    admin()
        .contentType(ContentType.JSON)
        .body("{\"name\":\"no id\"}")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(400)
        .body("errors[0].field", equalTo("id"));
    admin()
        .contentType(ContentType.JSON)
        .body(
            "{\"id\":\"q-"
                + UUID.randomUUID()
                + "\",\"quotas\":{\"tasksInFlight\":-1,\"requestsPerSecond\":0,\"burst\":0,"
                + "\"runningTransfers\":0}}")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(400)
        .contentType(PROBLEM)
        .body(
            "errors.field",
            equalTo(
                List.of(
                    "quotas.tasksInFlight",
                    "quotas.requestsPerSecond",
                    "quotas.burst",
                    "quotas.runningTransfers")));
    admin()
        .contentType(ContentType.JSON)
        .body("{\"id\":\"x-" + UUID.randomUUID() + "\",\"quotas\":{\"speed\":1}}")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(400)
        .contentType(PROBLEM)
        .body("errors[0].field", equalTo("quotas.speed"));
    admin()
        .contentType(ContentType.JSON)
        .body("[]")
        .post("/v1/admin/tenants")
        .then()
        .statusCode(400)
        .contentType(PROBLEM);
  }

  @Test
  void moreKeysCanBeMadeAndARevokedKeyStopsAtOnce() throws Exception {
    Tenant t = TestTenants.create("keys");
    JsonPath second =
        admin()
            .contentType(ContentType.JSON)
            .post("/v1/admin/tenants/" + t.id() + "/keys")
            .then()
            .statusCode(201)
            .body("id", startsWith("key-"))
            .extract()
            .jsonPath();
    Tenant other = new Tenant(t.id(), second.getString("id"), second.getString("secret"));
    assertThat(other.key()).matches("tk_[A-Za-z0-9_-]{43}").isNotEqualTo(t.key());
    t.api().contentType(ContentType.JSON).body("{}").put("/v1/sessions/s").then().statusCode(201);
    other.api().get("/v1/sessions/s").then().statusCode(200);
    assertThat(streamStatus("/v1/sessions/s/events/stream", t.key())).isEqualTo(200);

    admin().delete("/v1/admin/tenants/" + t.id() + "/keys/" + t.keyId()).then().statusCode(204);
    // At once on this instance (it was used a moment ago, so it was in the key cache).
    t.api()
        .get("/v1/sessions/s")
        .then()
        .statusCode(401)
        .contentType(PROBLEM)
        .header("WWW-Authenticate", "Bearer");
    assertThat(streamStatus("/v1/sessions/s/events/stream", t.key())).isEqualTo(401);
    other.api().get("/v1/sessions/s").then().statusCode(200);
    // Revoking again is no error; the listing says when it was revoked.
    admin().delete("/v1/admin/tenants/" + t.id() + "/keys/" + t.keyId()).then().statusCode(204);
    admin()
        .get("/v1/admin/tenants/" + t.id())
        .then()
        .statusCode(200)
        .body("keys.id", equalTo(List.of(t.keyId(), other.keyId())))
        .body("keys[0].revokedAt", startsWith("20"))
        .body("keys[1].revokedAt", nullValue());
  }

  @Test
  void unknownTenantsAndKeysAreNotFound() {
    Tenant a = TestTenants.create("a");
    Tenant b = TestTenants.create("b");
    String nobody = "nobody-" + UUID.randomUUID();
    admin().get("/v1/admin/tenants/" + nobody).then().statusCode(404).contentType(PROBLEM);
    admin()
        .post("/v1/admin/tenants/" + nobody + "/keys")
        .then()
        .statusCode(404)
        .contentType(PROBLEM);
    admin()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/admin/tenants/" + nobody + "/quotas")
        .then()
        .statusCode(404)
        .contentType(PROBLEM);
    admin()
        .delete("/v1/admin/tenants/" + a.id() + "/keys/key-nothing")
        .then()
        .statusCode(404)
        .contentType(PROBLEM);
    // A key id of another tenant does not revoke it.
    admin()
        .delete("/v1/admin/tenants/" + a.id() + "/keys/" + b.keyId())
        .then()
        .statusCode(404)
        .contentType(PROBLEM);
    b.api().get("/v1/sessions").then().statusCode(200);
    // Ids that cannot be ids (a NUL reached PostgreSQL and answered 503) are simply not found.
    admin().urlEncodingEnabled(false).get("/v1/admin/tenants/%00").then().statusCode(404);
    admin()
        .urlEncodingEnabled(false)
        .delete("/v1/admin/tenants/" + a.id() + "/keys/%00")
        .then()
        .statusCode(404)
        .contentType(PROBLEM);
    admin()
        .urlEncodingEnabled(false)
        .get("/v1/admin/tenants?after=%00")
        .then()
        .statusCode(400)
        .contentType(PROBLEM)
        .body("errors.field", hasItem("after"));
  }

  /** A stream outlives its request; a revoked key ends it within one key-cache period. */
  @Test
  void anOpenEventStreamEndsWhenItsKeyIsRevoked() throws Exception {
    Tenant t = TestTenants.create("stream");
    t.api().contentType(ContentType.JSON).body("{}").put("/v1/sessions/s").then().statusCode(201);
    HttpRequest r =
        HttpRequest.newBuilder(
                URI.create(base.toString().replaceAll("/$", "") + "/v1/sessions/s/events/stream"))
            .header("Authorization", "Bearer " + t.key())
            .build();
    HttpResponse<java.io.InputStream> open =
        http.send(r, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(open.statusCode()).isEqualTo(200);
    java.util.concurrent.CompletableFuture<Long> ended =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try (java.io.InputStream in = open.body()) {
                in.transferTo(java.io.OutputStream.nullOutputStream());
                return System.nanoTime();
              } catch (java.io.IOException e) {
                return System.nanoTime();
              }
            });
    Thread.sleep(1_000);
    assertThat(ended).as("the stream stays open while its key is valid").isNotDone();

    long revokedAt = System.nanoTime();
    admin().delete("/v1/admin/tenants/" + t.id() + "/keys/" + t.keyId()).then().statusCode(204);
    long endedAt = ended.get(25, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(Duration.ofNanos(endedAt - revokedAt)).isLessThan(Duration.ofSeconds(21));
  }

  @Test
  void theAdminKeyAndTenantKeysDoNotCrossOver() throws Exception {
    Tenant t = TestTenants.create("cross");
    // A tenant key (and the bootstrap tenant's key) cannot call the admin API.
    t.api().get("/v1/admin/tenants").then().statusCode(401).contentType(PROBLEM);
    t.api().post("/v1/admin/tenants/" + t.id() + "/keys").then().statusCode(401);
    given()
        .header("Authorization", "Bearer " + InfraResource.KEY)
        .get("/v1/admin/tenants")
        .then()
        .statusCode(401)
        .contentType(PROBLEM);
    given().get("/v1/admin/tenants").then().statusCode(401).contentType(PROBLEM);
    given()
        .header("Authorization", "Bearer " + InfraResource.ADMIN_KEY + "x")
        .get("/v1/admin/tenants")
        .then()
        .statusCode(401);
    // The admin key cannot call tenant endpoints, the event stream included.
    admin().get("/v1/sessions").then().statusCode(401).contentType(PROBLEM);
    admin().contentType(ContentType.JSON).body("{}").put("/v1/sessions/x").then().statusCode(401);
    assertThat(streamStatus("/v1/sessions/x/events/stream", InfraResource.ADMIN_KEY))
        .isEqualTo(401);
  }

  @Test
  void quotasAreReplacedAndShownWithTheirEffectiveValues() {
    Tenant t = TestTenants.create("quota", "{\"tasksInFlight\":7}");
    admin()
        .get("/v1/admin/tenants/" + t.id())
        .then()
        .body("quotas.tasksInFlight", equalTo(7))
        .body("effectiveQuotas.tasksInFlight", equalTo(7));
    admin()
        .contentType(ContentType.JSON)
        .body("{\"bytesStored\":1000,\"requestsPerSecond\":2.5,\"burst\":5,\"runningTransfers\":3}")
        .put("/v1/admin/tenants/" + t.id() + "/quotas")
        .then()
        .statusCode(200)
        .body("quotas.tasksInFlight", nullValue())
        .body("quotas.runningTransfers", equalTo(3))
        .body("effectiveQuotas.runningTransfers", equalTo(3))
        .body("quotas.bytesStored", equalTo(1000))
        .body("effectiveQuotas.tasksInFlight", equalTo(100000))
        .body("effectiveQuotas.bytesStored", equalTo(1000))
        .body("effectiveQuotas.requestsPerSecond", equalTo(2.5f))
        .body("effectiveQuotas.burst", equalTo(5));
    admin()
        .contentType(ContentType.JSON)
        .body("{\"bytesStored\":-5}")
        .put("/v1/admin/tenants/" + t.id() + "/quotas")
        .then()
        .statusCode(400)
        .contentType(PROBLEM)
        .body("errors[0].field", equalTo("bytesStored"));
    admin()
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/admin/tenants/" + t.id() + "/quotas")
        .then()
        .statusCode(200)
        .body("effectiveQuotas.bytesStored", equalTo(1L << 40));
  }

  @Test
  void tenantsAreListedInPagesById() {
    Tenant a = TestTenants.create("page");
    JsonPath first =
        admin().get("/v1/admin/tenants?limit=1").then().statusCode(200).extract().jsonPath();
    assertThat(first.getList("tenants")).hasSize(1);
    String next = first.getString("next");
    assertThat(next).isNotNull();
    admin()
        .get("/v1/admin/tenants?limit=1000&after=" + next)
        .then()
        .statusCode(200)
        .body("tenants.id", hasItem(a.id()));
    admin().get("/v1/admin/tenants?limit=0").then().statusCode(400).contentType(PROBLEM);
  }

  @Test
  void theAdminOperationsAndThe429AreDocumented() throws Exception {
    com.fasterxml.jackson.databind.JsonNode paths =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(
                given()
                    .queryParam("format", "json")
                    .get("/q/openapi")
                    .then()
                    .statusCode(200)
                    .extract()
                    .asString())
            .get("paths");
    String[][] admin = {
      {"/v1/admin/tenants", "post"},
      {"/v1/admin/tenants", "get"},
      {"/v1/admin/tenants/{tenant}", "get"},
      {"/v1/admin/tenants/{tenant}/quotas", "put"},
      {"/v1/admin/tenants/{tenant}/keys", "post"},
      {"/v1/admin/tenants/{tenant}/keys/{keyId}", "delete"}
    };
    for (String[] e : admin) {
      com.fasterxml.jackson.databind.JsonNode op = paths.path(e[0]).path(e[1]);
      assertThat(op.path("summary").asText())
          .as("summary of %s %s", e[1], e[0])
          .startsWith("Admin:");
      assertThat(op.path("security").toString()).contains("adminKey");
      assertThat(op.path("responses").path("401").path("content").has(PROBLEM)).isTrue();
      assertThat(op.path("responses").has("429")).isFalse();
    }
    com.fasterxml.jackson.databind.JsonNode submit =
        paths.path("/v1/sessions/{sid}/tasks").path("post").path("responses").path("429");
    assertThat(submit.path("content").has(PROBLEM)).isTrue();
    assertThat(submit.path("headers").has("Retry-After")).isTrue();
    assertThat(submit.path("description").asText()).contains("quota-exceeded");
  }

  private int streamStatus(String path, String key) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create(base.toString().replaceAll("/$", "") + path))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Bearer " + key)
            .build();
    HttpResponse<java.io.InputStream> answer =
        http.send(r, HttpResponse.BodyHandlers.ofInputStream());
    answer.body().close();
    return answer.statusCode();
  }
}
