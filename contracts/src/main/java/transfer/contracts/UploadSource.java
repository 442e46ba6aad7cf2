package transfer.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What an upload sends: the stored bytes of a completed download ({@code task}) or an object staged
 * with {@code PUT /v1/sessions/{sid}/objects/{name}} ({@code object}). Exactly one is given.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record UploadSource(String task, String object) {
  public static UploadSource ofTask(String taskId) {
    return new UploadSource(taskId, null);
  }

  public static UploadSource ofObject(String name) {
    return new UploadSource(null, name);
  }
}
