package transfer.api.request;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.contracts.Redaction;
import transfer.contracts.TaskIds;

/**
 * The rules every request body and path parameter must pass before anything is stored. Each rule
 * names the field it judges, and all broken rules are reported together. The rules of a task
 * request are {@code TaskRules}, of a session's configuration {@code SessionRules}; these are the
 * ones several resources share: ids, headers, text.
 */
public final class RequestRules {
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}");

  /** How a stored header value is answered: header values are write-only. */
  public static final String REDACTED = Redaction.MASK;

  // Headers that describe the connection or the body framing belong to the HTTP client alone.
  private static final Set<String> RESERVED_HEADERS =
      Set.of(
          "host",
          "content-length",
          "transfer-encoding",
          "connection",
          "keep-alive",
          "upgrade",
          "te",
          "trailer",
          "proxy-connection");

  private RequestRules() {}

  public static boolean isSessionId(String sessionId) {
    return sessionId != null && SAFE_ID.matcher(sessionId).matches();
  }

  public static void requireSessionId(String sessionId) {
    if (!isSessionId(sessionId)) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  "sessionId",
                  "must be 1 to 128 characters of letters, digits, '.', '_' or '-', starting"
                      + " with a letter or digit")));
    }
  }

  /** An Idempotency-Key is optional; when given, 1 to 255 printable ASCII characters. */
  public static void requireIdempotencyKey(String key) {
    if (key != null
        && (key.isEmpty()
            || key.length() > 255
            || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  "Idempotency-Key", "must be 1 to 255 printable ASCII characters, no spaces")));
    }
  }

  /**
   * Task ids are UUIDs; anything else cannot name a task, so it is simply not found (a 404 whose
   * {@code errors} still name the path parameter).
   */
  public static void requireTaskId(String taskId) {
    if (!isUuid(taskId)) {
      ApiException notFound = ApiException.notFound("task " + sanitize(taskId));
      throw new ApiException(
          404,
          "not-found",
          "Not Found",
          notFound.getMessage(),
          List.of(new FieldError("taskId", "must be a task id (a UUID)")));
    }
  }

  /** A task id's syntax; false for anything that is not a UUID in its canonical 36 characters. */
  public static boolean isUuid(String s) {
    return TaskIds.isTaskId(s);
  }

  public static void checkHeaders(
      String field, Map<String, String> headers, List<FieldError> errors) {
    if (headers == null) {
      return;
    }
    if (headers.size() > 64) {
      errors.add(new FieldError(field, "at most 64 headers"));
      return;
    }
    for (Map.Entry<String, String> h : headers.entrySet()) {
      String name = h.getKey();
      String where = field + "." + sanitize(name);
      if (!HEADER_NAME.matcher(name).matches()) {
        errors.add(new FieldError(where, "is not a valid header name"));
      } else if (RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
        errors.add(new FieldError(where, "is set by the transfer client and may not be given"));
      }
      String value = h.getValue();
      if (value == null) {
        errors.add(new FieldError(where, "must be a string"));
      } else if (value.length() > 8192) {
        errors.add(new FieldError(where, "must be at most 8192 characters"));
      } else if (value.chars().anyMatch(ch -> ch == '\r' || ch == '\n' || ch == 0)) {
        errors.add(new FieldError(where, "must not contain CR, LF or NUL"));
      } else if (value.chars().anyMatch(ch -> (ch < 0x20 && ch != '\t') || ch == 0x7f)) {
        errors.add(new FieldError(where, "must not contain control characters other than tab"));
      } else if (value.chars().anyMatch(ch -> ch > 0xff)) {
        // HTTP/1.1 field values are octets; Latin-1 is all that reaches the wire intact.
        errors.add(new FieldError(where, "must be ASCII or Latin-1 (RFC 9110 field value)"));
      } else if (value.equals(REDACTED)) {
        errors.add(
            new FieldError(
                where,
                "'"
                    + REDACTED
                    + "' is how a stored header value is answered, not a value; send the real"
                    + " value (header values are write-only)"));
      }
    }
  }

  /**
   * Whether free text can be stored and shown: no NUL (PostgreSQL refuses it), no control character
   * other than tab, CR and LF, no unpaired surrogate (not a character at all).
   */
  public static boolean isStorableText(String s) {
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
          || ch == 0x7f
          || (Character.isSurrogate(ch) && !pairedSurrogate(s, i))) {
        return false;
      }
    }
    return true;
  }

  /** Whether the surrogate at {@code i} is half of a well-formed pair. */
  public static boolean pairedSurrogate(String s, int i) {
    char ch = s.charAt(i);
    if (Character.isHighSurrogate(ch)) {
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /** A caller's string made safe to echo in an error: short and printable. */
  public static String sanitize(String s) {
    if (s == null) {
      return "null";
    }
    String cut = s.length() > 64 ? s.substring(0, 64) + "…" : s;
    return cut.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
