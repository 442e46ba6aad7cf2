package transfer.api.task;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import transfer.api.object.ObjectRules;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.request.RequestRules;
import transfer.contracts.DestinationKeys;
import transfer.contracts.TaskPatch;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskType;
import transfer.contracts.UploadSource;
import transfer.egress.Destination;

/**
 * The rules a task request must pass before anything is stored. Each rule names the field it
 * judges, and all broken rules are reported together.
 */
public final class TaskRules {
  public static final int MAX_URL_LENGTH = 8192;
  public static final long MAX_EXPECTED_BYTES = 1L << 50; // 1 PiB: beyond is a mistake
  private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
  private static final Pattern BASE64URL = Pattern.compile("[A-Za-z0-9_-]+={0,2}");
  public static final int MAX_RESUME_DATA_LENGTH = 4096;
  public static final int MAX_METADATA_DEPTH = 32;
  public static final int MAX_DESCRIPTION_LENGTH = 1024;
  public static final int MAX_METADATA_KIB = 16;

  /** Dates PostgreSQL and every client can hold: four-digit years from the Unix epoch. */
  static final Instant EARLIEST_DATE = Instant.parse("1970-01-01T00:00:00Z");

  static final Instant LATEST_DATE = Instant.parse("9999-12-31T23:59:59Z");

  private static final Set<String> RESUMABLE =
      Set.of(TaskRequest.RESUMABLE_TUS, TaskRequest.RESUMABLE_IETF);

  private static final Set<String> UPLOAD_METHODS =
      Set.of(TaskRequest.DEFAULT_UPLOAD_METHOD, "POST");

  private TaskRules() {}

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
    RequestRules.checkHeaders("headers", r.headers(), errors);
    checkPriority(r.priority(), errors);
    checkDescription(r.description(), errors);
    JsonNode m = r.metadata();
    if (m != null && !m.isNull()) {
      if (!m.isObject()) {
        errors.add(new FieldError("metadata", "must be a JSON object"));
      } else if (m.toString().length() > MAX_METADATA_KIB * 1024) {
        errors.add(
            new FieldError("metadata", "must be at most " + MAX_METADATA_KIB + " KiB as JSON"));
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
    if (Boolean.TRUE.equals(r.suspended()) && r.earliestBeginAt() != null) {
      errors.add(
          new FieldError(
              "suspended",
              "a suspended task starts when it is resumed; give suspended or earliestBeginAt,"
                  + " not both"));
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

  /**
   * A change to a task ({@code PATCH}): at least one field, each by the rules of a submit. Whether
   * the task's state allows it is the ledger's.
   */
  public static void checkPatch(TaskPatch p) {
    if (p == null || p.isEmpty()) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  "$", "a JSON object with one or more of url, headers, priority, description")));
    }
    List<FieldError> errors = new ArrayList<>();
    if (p.url() != null) {
      checkUrl("url", p.url(), errors);
    }
    RequestRules.checkHeaders("headers", p.headers(), errors);
    checkPriority(p.priority(), errors);
    checkDescription(p.description(), errors);
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
  }

  private static void checkPriority(Double priority, List<FieldError> errors) {
    if (priority != null && !(priority >= 0.0 && priority <= 1.0)) {
      errors.add(new FieldError("priority", "must be between 0.0 and 1.0"));
    }
  }

  private static void checkDescription(String description, List<FieldError> errors) {
    if (description == null) {
      return;
    }
    if (description.length() > MAX_DESCRIPTION_LENGTH) {
      errors.add(
          new FieldError(
              "description", "must be at most " + MAX_DESCRIPTION_LENGTH + " characters"));
    } else if (!RequestRules.isStorableText(description)) {
      errors.add(
          new FieldError(
              "description",
              "must be text: no NUL or control characters other than tab and line breaks, no"
                  + " unpaired surrogates"));
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
    if (r.resumable() != null) {
      errors.add(new FieldError("resumable", "is for uploads; a download resumes with Range"));
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
    if (r.destination() != null && !DestinationKeys.valid(r.destination().key())) {
      errors.add(new FieldError("destination.key", DestinationKeys.RULE));
    }
  }

  private static void checkUpload(TaskRequest r, List<FieldError> errors) {
    checkUrl("url", r.url(), errors);
    if (r.resumable() != null) {
      if (!RESUMABLE.contains(r.resumable())) {
        errors.add(
            new FieldError(
                "resumable",
                "must be \""
                    + TaskRequest.RESUMABLE_TUS
                    + "\" (tus 1.0) or \""
                    + TaskRequest.RESUMABLE_IETF
                    + "\" (the IETF's resumable uploads), or left out"));
      }
      if (r.method() != null && !r.method().equals("POST")) {
        errors.add(
            new FieldError(
                "method",
                "a resumable upload creates its resource with POST and sends the body with"
                    + " PATCH; leave method out"));
      }
    } else if (r.method() != null && !UPLOAD_METHODS.contains(r.method())) {
      errors.add(
          new FieldError(
              "method",
              "an upload uses " + TaskRequest.DEFAULT_UPLOAD_METHOD + " (the default) or POST"));
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
      if (!RequestRules.isUuid(src.task())) {
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
    if (r.destination() != null) {
      errors.add(
          new FieldError("destination", "is for downloads; an upload's bytes go to its url"));
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
          || kind == Character.SURROGATE && !RequestRules.pairedSurrogate(url, i)) {
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
      if (ch == 0 || (Character.isSurrogate(ch) && !RequestRules.pairedSurrogate(s, i))) {
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
}
