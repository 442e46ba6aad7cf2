package transfer.api.admin;

import static io.restassured.RestAssured.given;

import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import java.util.UUID;
import transfer.api.InfraResource;

/** Tenants made through the admin API, as an operator makes them, for the tests. */
public final class TestTenants {
  private TestTenants() {}

  /** A tenant and one of its keys. */
  public record Tenant(String id, String keyId, String key) {
    /** A request with this tenant's key. */
    public RequestSpecification api() {
      return given().header("Authorization", "Bearer " + key);
    }
  }

  /** A request with the admin key. */
  public static RequestSpecification admin() {
    return given().header("Authorization", "Bearer " + InfraResource.ADMIN_KEY);
  }

  /** A new tenant (a unique id starting with {@code prefix}) with the default quotas. */
  public static Tenant create(String prefix) {
    return create(prefix, null);
  }

  /** A new tenant with these quotas (a JSON object, or null for the defaults). */
  public static Tenant create(String prefix, String quotasJson) {
    String id = prefix + "-" + UUID.randomUUID();
    String body =
        "{\"id\":\"" + id + "\"" + (quotasJson == null ? "" : ",\"quotas\":" + quotasJson) + "}";
    JsonPath created =
        admin()
            .contentType(ContentType.JSON)
            .body(body)
            .post("/v1/admin/tenants")
            .then()
            .statusCode(201)
            .extract()
            .jsonPath();
    return new Tenant(id, created.getString("key.id"), created.getString("key.secret"));
  }
}
