package transfer.api;

import static io.restassured.RestAssured.given;

import io.restassured.http.ContentType;
import java.util.UUID;

/**
 * Sessions for API tests: each test gets one of its own, created through the API; and tasks in them
 * that end at once.
 */
public final class TestSessions {
  private TestSessions() {}

  /** A new session {@code <prefix>-<uuid>} of the tenant whose key is {@code apiKey}. */
  public static String create(String apiKey, String prefix) {
    return create(apiKey, prefix, "{}");
  }

  /** As {@link #create(String, String)}, with this configuration. */
  public static String create(String apiKey, String prefix, String config) {
    String sid = prefix + "-" + UUID.randomUUID();
    given()
        .header("Authorization", "Bearer " + apiKey)
        .contentType(ContentType.JSON)
        .body(config)
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(201);
    return sid;
  }

  /**
   * A task of the session that ends at once, with its completion event: a download of the discard
   * address the tests allow ({@link InfraResource#ALLOWED}), canceled (no worker runs in the
   * api-service's tests). Answers its id.
   */
  public static String canceledTask(String apiKey, String sid) {
    String tid = queuedTask(apiKey, sid);
    given()
        .header("Authorization", "Bearer " + apiKey)
        .post("/v1/sessions/" + sid + "/tasks/" + tid + "/cancel")
        .then()
        .statusCode(200);
    return tid;
  }

  /**
   * A task of the session that stays queued (no worker runs in the api-service's tests): a download
   * of the discard address the tests allow. Answers its id.
   */
  public static String queuedTask(String apiKey, String sid) {
    return given()
        .header("Authorization", "Bearer " + apiKey)
        .contentType(ContentType.JSON)
        .body("{\"type\":\"download\",\"url\":\"http://" + InfraResource.ALLOWED + "/x\"}")
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .statusCode(201)
        .extract()
        .path("id");
  }
}
