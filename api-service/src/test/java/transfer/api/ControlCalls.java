package transfer.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;

import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;

/** The calls of the session and task control tests, as the default tenant. */
public final class ControlCalls {
  /** A URL no test task ever reaches: tasks stay queued (no worker claims them). */
  public static final String UNREACHABLE = "http://127.0.0.1:9/never";

  private ControlCalls() {}

  public static RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  public static String newSession(String prefix) {
    return TestSessions.create(InfraResource.KEY, prefix);
  }

  public static String submit(String sid, String body) {
    return api()
        .contentType(ContentType.JSON)
        .body(body)
        .post("/v1/sessions/" + sid + "/tasks")
        .then()
        .log()
        .ifValidationFails()
        .statusCode(201)
        .extract()
        .path("id");
  }

  public static String download(String sid) {
    return submit(sid, "{\"type\":\"download\",\"url\":\"" + UNREACHABLE + "\"}");
  }

  public static ValidatableResponse post(String path, String body) {
    RequestSpecification r = api();
    if (body != null) {
      r = r.contentType(ContentType.JSON).body(body);
    }
    return r.post(path).then().log().ifValidationFails();
  }

  public static void expectProblem(ValidatableResponse r, int status) {
    r.statusCode(status).contentType("application/problem+json").body("status", equalTo(status));
  }
}
