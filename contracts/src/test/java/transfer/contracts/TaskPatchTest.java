package transfer.contracts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskPatchTest {
  @Test
  void itsJsonHasTheFieldsGivenAndNothingElse() throws Exception {
    // The API refuses unknown fields: a helper method must not become one.
    String json =
        Json.mapper().writeValueAsString(new TaskPatch("https://a.example/f", Map.of(), 0.2, null));
    assertThat(Json.mapper().readTree(json).fieldNames())
        .toIterable()
        .containsExactlyInAnyOrder("url", "headers", "priority", "description");
    assertThat(Json.mapper().readValue(json, TaskPatch.class).fields())
        .containsExactly("url", "headers", "priority");
  }
}
