package transfer.api.docs;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;

/** The served OpenAPI document describes every endpoint, field default and error. */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class OpenApiIT {

  private static JsonNode document() throws Exception {
    String body =
        given()
            .queryParam("format", "json")
            .get("/q/openapi")
            .then()
            .statusCode(200)
            .extract()
            .asString();
    return new ObjectMapper().readTree(body);
  }

  @Test
  void everyEndpointIsDescribedWithItsProblemJsonErrors() throws Exception {
    JsonNode paths = document().get("paths");
    List<String[]> endpoints =
        List.of(
            new String[] {"/v1/sessions", "get"},
            new String[] {"/v1/sessions/{sid}", "put"},
            new String[] {"/v1/sessions/{sid}", "get"},
            new String[] {"/v1/sessions/{sid}", "delete"},
            new String[] {"/v1/sessions/{sid}/tasks", "post"},
            new String[] {"/v1/sessions/{sid}/tasks", "get"},
            new String[] {"/v1/sessions/{sid}/tasks:batch", "post"},
            new String[] {"/v1/sessions/{sid}/tasks/{tid}", "get"},
            new String[] {"/v1/sessions/{sid}/tasks/{tid}/content", "get"},
            new String[] {"/v1/sessions/{sid}/tasks/{tid}/cancel", "post"},
            new String[] {"/v1/sessions/{sid}/tasks/{tid}/suspend", "post"},
            new String[] {"/v1/sessions/{sid}/tasks/{tid}/resume", "post"},
            new String[] {"/v1/sessions/{sid}/events", "get"},
            new String[] {"/v1/sessions/{sid}/events/stream", "get"},
            new String[] {"/v1/sessions/{sid}/objects/{name}", "put"},
            new String[] {"/v1/sessions/{sid}/objects/{name}", "get"},
            new String[] {"/v1/sessions/{sid}/objects/{name}", "delete"});
    for (String[] e : endpoints) {
      JsonNode op = paths.path(e[0]).path(e[1]);
      assertThat(op.isObject()).as("%s %s is documented", e[1], e[0]).isTrue();
      assertThat(op.path("summary").asText()).as("summary of %s %s", e[1], e[0]).isNotBlank();
      if (!e[0].endsWith("/stream")) {
        assertThat(op.path("responses").path("401").path("content").has("application/problem+json"))
            .as("401 problem+json of %s %s", e[1], e[0])
            .isTrue();
      }
    }
  }

  @Test
  void fieldsCarryTheirMeaningAndDefaults() throws Exception {
    JsonNode schemas = document().get("components").get("schemas");
    JsonNode perHost = schemas.get("SessionConfig").get("properties").get("maxConnectionsPerHost");
    assertThat(perHost.get("default").asInt()).isEqualTo(6);
    assertThat(perHost.get("description").asText()).contains("whole cluster");
    assertThat(
            schemas
                .get("SessionConfig")
                .get("properties")
                .get("resourceTimeout")
                .get("default")
                .asText())
        .isEqualTo("P7D");
    assertThat(
            schemas.get("TaskRequest").get("properties").get("priority").get("default").asDouble())
        .isEqualTo(0.5);
    assertThat(schemas.get("TaskError").get("properties").get("code").get("description").asText())
        .contains("checksum_mismatch");
    assertThat(schemas.get("Problem").get("properties").has("errors")).isTrue();
    assertThat(schemas.get("EventPage").at("/properties/events/description").asText())
        .contains("transfer.task.created", "transfer.task.resumed", "metrics");
    assertThat(schemas.get("TaskRequest").at("/properties/resumable/description").asText())
        .contains("tus");
    assertThat(schemas.get("TaskView").has("properties")).isTrue();
    assertThat(schemas.get("TaskView").get("properties").has("uploadResource")).isTrue();
  }

  @Test
  void swaggerUiIsServed() {
    given().get("/q/swagger-ui/").then().statusCode(200);
  }
}
