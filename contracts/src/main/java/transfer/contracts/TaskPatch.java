package transfer.contracts;

import java.util.Map;

/**
 * A change to a task ({@code PATCH /v1/sessions/{sid}/tasks/{tid}}); every field is optional and at
 * least one is given. {@code url} and {@code headers} (which replace the task's own headers, all of
 * them) may change while the task is queued, waiting or suspended: a task waiting for credentials
 * or connectivity is queued again at once. {@code priority} and {@code description} may change
 * while the task is not final.
 */
public record TaskPatch(
    String url, Map<String, String> headers, Double priority, String description) {

  /** Whether the change touches how the task reaches its origin. */
  public boolean changesRequest() {
    return url != null || headers != null;
  }

  /** The names of the fields it changes, for a log line (never their values). */
  public java.util.List<String> fields() {
    java.util.List<String> names = new java.util.ArrayList<>();
    if (url != null) {
      names.add("url");
    }
    if (headers != null) {
      names.add("headers");
    }
    if (priority != null) {
      names.add("priority");
    }
    if (description != null) {
      names.add("description");
    }
    return names;
  }

  @com.fasterxml.jackson.annotation.JsonIgnore // a question about the body, not a field of it
  public boolean isEmpty() {
    return url == null && headers == null && priority == null && description == null;
  }
}
