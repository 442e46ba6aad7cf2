package transfer.api.problem;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** An RFC 9457 problem detail; {@code errors} lists every bad field of a request. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(
    String type,
    String title,
    int status,
    String detail,
    String instance,
    List<FieldError> errors) {

  public static final String MEDIA_TYPE = "application/problem+json";

  /** One bad field: a JSON-pointer-like path and what is wrong with it. */
  public record FieldError(String field, String message) {}

  public static String typeUri(String slug) {
    return "urn:transfer:problem:" + slug;
  }
}
