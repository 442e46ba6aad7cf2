package transfer.api.problem;

import jakarta.ws.rs.core.Response;
import java.util.List;

/** An error the API answers as problem+json; thrown by resources and filters. */
public class ApiException extends RuntimeException {
  private final int status;
  private final String slug;
  private final String title;
  private final List<Problem.FieldError> errors;

  public ApiException(int status, String slug, String title, String detail) {
    this(status, slug, title, detail, null);
  }

  public ApiException(
      int status, String slug, String title, String detail, List<Problem.FieldError> errors) {
    super(detail, null, false, false);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.errors = errors;
  }

  public static ApiException notFound(String what) {
    return new ApiException(404, "not-found", "Not Found", what + " does not exist");
  }

  public static ApiException invalid(List<Problem.FieldError> errors) {
    return new ApiException(
        400,
        "validation-failed",
        "Bad Request",
        "the request has " + errors.size() + " invalid field(s)",
        errors);
  }

  public static ApiException conflict(String detail) {
    return new ApiException(409, "conflict", "Conflict", detail);
  }

  public Problem toProblem(String instance) {
    return new Problem(Problem.typeUri(slug), title, status, getMessage(), instance, errors);
  }

  /**
   * The answer: this problem as problem+json. A refusal that needs a header as well (a quota's
   * Retry-After) adds it by overriding this.
   */
  public Response toResponse(String instance) {
    return ProblemMappers.respond(toProblem(instance));
  }

  public int status() {
    return status;
  }

  /**
   * This refusal's field errors with every field name prefixed (a task of a batch: {@code
   * tasks[3].url}); a refusal without field errors names the prefix itself.
   */
  public List<Problem.FieldError> errorsIn(String prefix) {
    if (errors == null || errors.isEmpty()) {
      return List.of(new Problem.FieldError(prefix, getMessage()));
    }
    return errors.stream()
        .map(
            e ->
                new Problem.FieldError(
                    "$".equals(e.field()) ? prefix : prefix + "." + e.field(), e.message()))
        .toList();
  }
}
