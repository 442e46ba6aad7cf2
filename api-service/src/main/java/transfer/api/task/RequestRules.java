package transfer.api.task;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import transfer.api.object.ObjectRules;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.contracts.Redaction;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskIds;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskType;
import transfer.contracts.UploadSource;
import transfer.egress.Destination;

/**
 * The rules every request body and path parameter must pass before anything is stored. Each rule
 * names the field it judges, and all broken rules are reported together.
 */
public final class RequestRules {
  public static final int MAX_URL_LENGTH = 8192;
  public static final long MAX_EXPECTED_BYTES = 1L << 50; // 1 PiB: beyond is a mistake
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
  private static final Pattern BASE64URL = Pattern.compile("[A-Za-z0-9_-]+={0,2}");
  public static final int MAX_RESUME_DATA_LENGTH = 4096;
  public static final int MAX_METADATA_DEPTH = 32;

  /** Dates PostgreSQL and every client can hold: four-digit years from the Unix epoch. */
  static final Instant EARLIEST_DATE = Instant.parse("1970-01-01T00:00:00Z");

  static final Instant LATEST_DATE = Instant.parse("9999-12-31T23:59:59Z");

  /** How a stored header value is answered: header values are write-only. */
  public static final String REDACTED = Redaction.MASK;

  private static final Set<String> UPLOAD_METHODS = Set.of("PUT", "POST");
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

  /**
   * A task request. A download names its {@code url}, or the {@code resumeData} of an earlier
   * download (then {@code url} may be left out); an upload names its {@code url}, its {@code
   * method} (PUT or POST) and exactly one {@code source}. Whether a resumeData or a source refers
   * to something real is the ledger's question, asked at submit.
   */
  public static void checkTask(TaskRequest r) {
    List<FieldError> errors = new ArrayList<>();
    if (r == null) {
      throw ApiException.invalid(List.of(new FieldError("$", "a JSON object is required")));
    }
    if (r.type() == null) {
      errors.add(new FieldError("type", "is required: \"download\" or \"upload\""));
    } else if (r.type() == TaskType.DOWNLOAD) {
      checkDownload(r, errors);
    } else {
      checkUpload(r, errors);
    }
    checkHeaders("headers", r.headers(), errors);
    if (r.priority() != null && !(r.priority() >= 0.0 && r.priority() <= 1.0)) {
      errors.add(new FieldError("priority", "must be between 0.0 and 1.0"));
    }
    if (r.description() != null) {
      if (r.description().length() > 1024) {
        errors.add(new FieldError("description", "must be at most 1024 characters"));
      } else if (!isStorableText(r.description())) {
        errors.add(
            new FieldError(
                "description",
                "must be text: no NUL or control characters other than tab and line breaks, no"
                    + " unpaired surrogates"));
      }
    }
    JsonNode m = r.metadata();
    if (m != null && !m.isNull()) {
      if (!m.isObject()) {
        errors.add(new FieldError("metadata", "must be a JSON object"));
      } else if (m.toString().length() > 16 * 1024) {
        errors.add(new FieldError("metadata", "must be at most 16 KiB as JSON"));
      } else if (depth(m) > MAX_METADATA_DEPTH) {
        errors.add(
            new FieldError("metadata", "must nest at most " + MAX_METADATA_DEPTH + " levels deep"));
      } else if (!storableStrings(m)) {
        // PostgreSQL's jsonb cannot hold \u0000, and an unpaired surrogate is no character.
        errors.add(
            new FieldError(
                "metadata", "must not contain NUL or unpaired surrogates in its names or strings"));
      }
    }
    if (r.earliestBeginAt() != null
        && (r.earliestBeginAt().isBefore(EARLIEST_DATE)
            || r.earliestBeginAt().isAfter(LATEST_DATE))) {
      errors.add(
          new FieldError(
              "earliestBeginAt", "must be between " + EARLIEST_DATE + " and " + LATEST_DATE));
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
  }

  private static void checkDownload(TaskRequest r, List<FieldError> errors) {
    if (r.resumeData() != null) {
      checkResumeData(r.resumeData(), errors);
      // The URL comes from the task the resumeData names; one given must be that same URL.
      if (r.url() != null) {
        checkUrl("url", r.url(), errors);
      }
    } else {
      checkUrl("url", r.url(), errors);
    }
    if (r.method() != null && !r.method().equals("GET")) {
      errors.add(new FieldError("method", "a download uses GET"));
    }
    if (r.source() != null) {
      errors.add(new FieldError("source", "is for uploads; a download fetches its url"));
    }
    if (r.expectedBytes() != null
        && (r.expectedBytes() < 0 || r.expectedBytes() > MAX_EXPECTED_BYTES)) {
      errors.add(new FieldError("expectedBytes", "must be between 0 and " + MAX_EXPECTED_BYTES));
    }
    if (r.sha256() != null && !SHA256.matcher(r.sha256()).matches()) {
      errors.add(new FieldError("sha256", "must be 64 hexadecimal characters"));
    }
  }

  private static void checkUpload(TaskRequest r, List<FieldError> errors) {
    checkUrl("url", r.url(), errors);
    if (r.method() != null && !UPLOAD_METHODS.contains(r.method())) {
      errors.add(new FieldError("method", "an upload uses PUT (the default) or POST"));
    }
    UploadSource src = r.source();
    if (src == null) {
      errors.add(
          new FieldError(
              "source",
              "is required: {\"task\": \"<id of a completed download>\"} or {\"object\":"
                  + " \"<name of a staged object>\"}"));
    } else if ((src.task() == null) == (src.object() == null)) {
      errors.add(new FieldError("source", "must name exactly one of 'task' and 'object'"));
    } else if (src.task() != null) {
      if (!isUuid(src.task())) {
        errors.add(new FieldError("source.task", "must be a task id (a UUID)"));
      }
    } else if (!ObjectRules.isName(src.object())) {
      errors.add(new FieldError("source.object", ObjectRules.NAME_RULE));
    }
    // The bytes of an upload are known before it starts: their size and digest come from the
    // source, and there is nothing to resume from.
    if (r.resumeData() != null) {
      errors.add(new FieldError("resumeData", "is for downloads; an upload cannot resume"));
    }
    if (r.sha256() != null) {
      errors.add(new FieldError("sha256", "is for downloads; an upload sends its source's digest"));
    }
    if (r.expectedBytes() != null) {
      errors.add(
          new FieldError("expectedBytes", "is for downloads; an upload sends its source's size"));
    }
  }

  /**
   * Syntax only: base64url of bounded length. Whether it names a real checkpoint is the ledger's.
   */
  static void checkResumeData(String resumeData, List<FieldError> errors) {
    if (resumeData.isEmpty() || resumeData.length() > MAX_RESUME_DATA_LENGTH) {
      errors.add(
          new FieldError("resumeData", "must be 1 to " + MAX_RESUME_DATA_LENGTH + " characters"));
      return;
    }
    if (!BASE64URL.matcher(resumeData).matches()) {
      errors.add(new FieldError("resumeData", "must be base64url, as the cluster produced it"));
      return;
    }
    try {
      Base64.getUrlDecoder().decode(resumeData);
    } catch (IllegalArgumentException e) {
      errors.add(new FieldError("resumeData", "is not valid base64url"));
    }
  }

  /** A task id's syntax; false for anything that is not a UUID in its canonical 36 characters. */
  public static boolean isUuid(String s) {
    return TaskIds.isTaskId(s);
  }

  public static void checkSession(SessionConfig c) {
    List<FieldError> errors = new ArrayList<>();
    range("maxConcurrentTransfers", c.maxConcurrentTransfers(), 1, 100_000, errors);
    range("maxConnectionsPerHost", c.maxConnectionsPerHost(), 1, 1_000, errors);
    duration(
        "requestTimeout", c.requestTimeout(), Duration.ofSeconds(1), Duration.ofHours(1), errors);
    duration(
        "resourceTimeout", c.resourceTimeout(), Duration.ofSeconds(1), Duration.ofDays(30), errors);
    checkHeaders("headers", c.headers(), errors);
    RetryPolicy retry = c.retry();
    if (retry != null) {
      range("retry.maxAttempts", retry.maxAttempts(), 1, 100, errors);
      duration(
          "retry.initialBackoff",
          retry.initialBackoff(),
          Duration.ZERO,
          Duration.ofDays(1),
          errors);
      duration("retry.maxBackoff", retry.maxBackoff(), Duration.ZERO, Duration.ofDays(1), errors);
      RetryPolicy full = retry.withDefaults();
      if (full.initialBackoff().compareTo(full.maxBackoff()) > 0) {
        errors.add(new FieldError("retry.initialBackoff", "must not exceed retry.maxBackoff"));
      }
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
  }

  static void checkUrl(String field, String url, List<FieldError> errors) {
    if (url == null || url.isEmpty()) {
      errors.add(new FieldError(field, "is required"));
      return;
    }
    if (url.length() > MAX_URL_LENGTH) {
      errors.add(new FieldError(field, "must be at most " + MAX_URL_LENGTH + " characters"));
      return;
    }
    for (int i = 0; i < url.length(); i++) {
      char ch = url.charAt(i);
      int kind = Character.getType(ch);
      // Besides ASCII controls and spaces: C1 controls (NEL), Unicode line and paragraph
      // separators and other spaces, invisible format characters (bidi overrides), and unpaired
      // surrogates. Percent-encoded forms (%0D%0A) are legal syntax and stay encoded on the wire.
      if (ch <= 0x20
          || ch == 0x7f
          || Character.isISOControl(ch)
          || Character.isWhitespace(ch)
          || Character.isSpaceChar(ch)
          || kind == Character.FORMAT
          || kind == Character.SURROGATE && !pairedSurrogate(url, i)) {
        errors.add(new FieldError(field, "must not contain spaces or control characters"));
        return;
      }
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      errors.add(new FieldError(field, "is not a valid URL: " + e.getReason()));
      return;
    }
    try {
      // Scheme, host in every spelling, port and credentials, as the SSRF guard reads them.
      Destination.of(uri);
    } catch (IllegalArgumentException e) {
      errors.add(new FieldError(field, e.getMessage()));
    }
  }

  static void checkHeaders(String field, Map<String, String> headers, List<FieldError> errors) {
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
  private static boolean pairedSurrogate(String s, int i) {
    char ch = s.charAt(i);
    if (Character.isHighSurrogate(ch)) {
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /** Whether every name and string in the tree has no NUL and no unpaired surrogate. */
  private static boolean storableStrings(JsonNode node) {
    if (node.isTextual()) {
      return storableString(node.textValue());
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!storableString(e.getKey()) || !storableStrings(e.getValue())) {
          return false;
        }
      }
    } else if (node.isArray()) {
      for (JsonNode child : node) {
        if (!storableStrings(child)) {
          return false;
        }
      }
    }
    return true;
  }

  private static boolean storableString(String s) {
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == 0 || (Character.isSurrogate(ch) && !pairedSurrogate(s, i))) {
        return false;
      }
    }
    return true;
  }

  /** Nesting depth of a JSON value: 0 for a scalar, 1 for an object of scalars. */
  private static int depth(JsonNode node) {
    int deepest = 0;
    if (node.isContainerNode()) {
      for (JsonNode child : node) {
        deepest = Math.max(deepest, depth(child));
      }
      return deepest + 1;
    }
    return 0;
  }

  private static void range(String field, Integer v, int min, int max, List<FieldError> errors) {
    if (v != null && (v < min || v > max)) {
      errors.add(new FieldError(field, "must be between " + min + " and " + max));
    }
  }

  private static void duration(
      String field, Duration d, Duration min, Duration max, List<FieldError> errors) {
    if (d != null && (d.compareTo(min) < 0 || d.compareTo(max) > 0)) {
      errors.add(new FieldError(field, "must be between " + min + " and " + max));
    }
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
