package transfer.api;

import static io.restassured.RestAssured.given;

import io.restassured.http.ContentType;
import java.util.UUID;

/** Sessions for API tests: each test gets one of its own, created through the API. */
public final class TestSessions {
  private TestSessions() {}

  /** A new session {@code <prefix>-<uuid>} of the tenant whose key is {@code apiKey}. */
  public static String create(String apiKey, String prefix) {
    String sid = prefix + "-" + UUID.randomUUID();
    given()
        .header("Authorization", "Bearer " + apiKey)
        .contentType(ContentType.JSON)
        .body("{}")
        .put("/v1/sessions/" + sid)
        .then()
        .statusCode(201);
    return sid;
  }
}
