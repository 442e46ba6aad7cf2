package transfer.client;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The API answered an error: the problem document's {@code type}, {@code title}, {@code status},
 * {@code detail} and {@code instance}, plus the field errors of a refused request. {@link #kind()}
 * sorts it; the kinds that callers usually handle have subclasses ({@link NotFoundException},
 * {@link ConflictException}, {@link ValidationException}, {@link RateLimitedException}, {@link
 * AuthenticationException}, {@link UnavailableException}), so either {@code catch} or {@code switch
 * (e.kind())} works.
 */
public class TransferApiException extends TransferException {

  /** What kind of refusal, from the status (and, where it says more, the problem type). */
  public enum Kind {
    /** 400 or 422: the request is wrong; {@link #fieldErrors()} names each bad field. */
    VALIDATION,
    /** 401 or 403: no key, a bad or revoked key, or a key that may not call this. */
    UNAUTHORIZED,
    /** 404 (another tenant's ids answer 404 too) or 410 (the stored bytes are gone). */
    NOT_FOUND,
    /** 409: the state forbids it (a final task, a closed session). */
    CONFLICT,
    /** 413: the body is larger than the server takes. */
    TOO_LARGE,
    /** 429: a quota of the tenant (request rate, tasks in flight, bytes stored). */
    RATE_LIMITED,
    /** 503 (and 502, 504): the service or its database is unavailable; retry later. */
    UNAVAILABLE,
    /** Any other status (a 500: a bug on the server). */
    OTHER;

    static Kind of(int status) {
      return switch (status) {
        case 400, 422 -> VALIDATION;
        case 401, 403 -> UNAUTHORIZED;
        case 404, 410 -> NOT_FOUND;
        case 409 -> CONFLICT;
        case 413 -> TOO_LARGE;
        case 429 -> RATE_LIMITED;
        case 502, 503, 504 -> UNAVAILABLE;
        default -> OTHER;
      };
    }
  }

  private final Problem problem;
  private final String request;
  private final Duration retryAfter;

  /**
   * @param request what was asked, for the message ({@code "GET /v1/sessions/s1/tasks/…"})
   * @param retryAfter the answer's Retry-After, or null
   */
  public TransferApiException(String request, Problem problem, Duration retryAfter) {
    super(message(request, problem, retryAfter));
    this.problem = problem;
    this.request = request;
    this.retryAfter = retryAfter;
  }

  /** The exception of the right subclass for this problem. */
  public static TransferApiException of(String request, Problem problem, Duration retryAfter) {
    return switch (Kind.of(problem.status())) {
      case VALIDATION -> new ValidationException(request, problem, retryAfter);
      case UNAUTHORIZED -> new AuthenticationException(request, problem, retryAfter);
      case NOT_FOUND -> new NotFoundException(request, problem, retryAfter);
      case CONFLICT -> new ConflictException(request, problem, retryAfter);
      case RATE_LIMITED -> new RateLimitedException(request, problem, retryAfter);
      case UNAVAILABLE -> new UnavailableException(request, problem, retryAfter);
      default -> new TransferApiException(request, problem, retryAfter);
    };
  }

  private static String message(String request, Problem p, Duration retryAfter) {
    StringBuilder b = new StringBuilder();
    b.append(request).append(" answered ").append(p.status());
    if (p.title() != null) {
      b.append(' ').append(p.title());
    }
    if (p.detail() != null) {
      b.append(": ").append(p.detail());
    }
    for (Problem.FieldError e : p.errors()) {
      b.append("; ").append(e.field()).append(' ').append(e.message());
    }
    if (p.type() != null) {
      b.append(" [").append(p.type()).append(']');
    }
    if (retryAfter != null) {
      b.append(" (Retry-After ").append(retryAfter.toSeconds()).append(" s)");
    }
    return b.toString();
  }

  public Kind kind() {
    return Kind.of(problem.status());
  }

  /** The whole problem document. */
  public Problem problem() {
    return problem;
  }

  public String type() {
    return problem.type();
  }

  public String title() {
    return problem.title();
  }

  public int status() {
    return problem.status();
  }

  public String detail() {
    return problem.detail();
  }

  public String instance() {
    return problem.instance();
  }

  /** Every bad field of a refused request; empty when the problem names none. */
  public List<Problem.FieldError> fieldErrors() {
    return problem.errors();
  }

  /** The method and path that were refused. */
  public String request() {
    return request;
  }

  /** The answer's Retry-After, when it had one. */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
