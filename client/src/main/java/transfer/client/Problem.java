package transfer.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/**
 * An RFC 9457 problem document as the API answers every error ({@code application/problem+json}).
 * {@code errors} lists every bad field of a refused request (validation), or is empty.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Problem(
    String type,
    String title,
    int status,
    String detail,
    String instance,
    List<FieldError> errors) {

  /** The prefix of the API's problem types: {@code urn:transfer:problem:<slug>}. */
  public static final String TYPE_PREFIX = "urn:transfer:problem:";

  public Problem {
    errors = errors == null ? List.of() : List.copyOf(errors);
  }

  /** One bad field: its path in the request ({@code url}, {@code tasks[3].sha256}) and why. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record FieldError(String field, String message) {}

  /** The part of {@code type} after {@link #TYPE_PREFIX} ({@code not-found}), or the whole type. */
  public String slug() {
    if (type == null) {
      return null;
    }
    return type.startsWith(TYPE_PREFIX) ? type.substring(TYPE_PREFIX.length()) : type;
  }
}
