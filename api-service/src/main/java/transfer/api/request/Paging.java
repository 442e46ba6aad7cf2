package transfer.api.request;

import java.util.List;
import transfer.api.problem.Problem.FieldError;

/**
 * The {@code limit} of the paged lists (sessions, tasks, tenants, the event replay): 1 to {@value
 * #MAX_LIMIT}, {@value #DEFAULT_LIMIT} when not given.
 */
public final class Paging {
  public static final int DEFAULT_LIMIT = 100;
  public static final int MAX_LIMIT = 1000;

  private Paging() {}

  /** The limit asked for; a bad one is added to {@code errors} (and the default answered). */
  public static int limit(String value, List<FieldError> errors) {
    if (value == null) {
      return DEFAULT_LIMIT;
    }
    try {
      int v = Integer.parseInt(value.trim());
      if (v >= 1 && v <= MAX_LIMIT) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    errors.add(new FieldError("limit", "must be an integer between 1 and " + MAX_LIMIT));
    return DEFAULT_LIMIT;
  }
}
