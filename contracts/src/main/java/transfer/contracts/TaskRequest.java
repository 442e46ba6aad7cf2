package transfer.contracts;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Map;

/**
 * The body of {@code POST /v1/sessions/{sid}/tasks}. Validation lives in the api-service; the
 * worker reads the stored, validated copy.
 *
 * <p>A download may name the {@code resumeData} of an earlier, canceled or failed download (then
 * {@code url} may be left out); an upload names its {@code source}. With {@code suspended} the task
 * is created suspended: it holds no worker until resumed (URLSession's tasks start suspended until
 * {@code resume()}). An upload may name a {@code resumable} protocol the target speaks ({@link
 * #RESUMABLE_TUS}, {@link #RESUMABLE_IETF}): the worker creates an upload resource there, and an
 * interrupted upload continues from the offset the target reports, on any worker. A download may
 * name its {@code destination}: the key its object gets under the tenant's own part of the store.
 */
public record TaskRequest(
    TaskType type,
    String url,
    String method,
    Map<String, String> headers,
    Long expectedBytes,
    String sha256,
    String description,
    Double priority,
    Instant earliestBeginAt,
    JsonNode metadata,
    UploadSource source,
    String resumeData,
    Boolean suspended,
    String resumable,
    Destination destination) {

  /**
   * Where a download's body goes, the server-side analog of moving the file in {@code
   * didFinishDownloadingTo}: {@code key}, a relative name under the tenant's named objects ({@code
   * <tenant>/_named/<key>} in the bucket or under the storage root). See {@link DestinationKeys}
   * for the names accepted.
   */
  public record Destination(String key) {}

  /** A request without a destination of its own. */
  public TaskRequest(
      TaskType type,
      String url,
      String method,
      Map<String, String> headers,
      Long expectedBytes,
      String sha256,
      String description,
      Double priority,
      Instant earliestBeginAt,
      JsonNode metadata,
      UploadSource source,
      String resumeData,
      Boolean suspended,
      String resumable) {
    this(
        type,
        url,
        method,
        headers,
        expectedBytes,
        sha256,
        description,
        priority,
        earliestBeginAt,
        metadata,
        source,
        resumeData,
        suspended,
        resumable,
        null);
  }

  /** tus 1.0 (tus.io): POST to create the upload, HEAD for its offset, PATCH to append. */
  public static final String RESUMABLE_TUS = "tus";

  /**
   * The IETF's resumable uploads for HTTP (draft-ietf-httpbis-resumable-upload, interop version
   * {@value #IETF_INTEROP_VERSION}), as tusd and iOS 17 speak it: the same three steps.
   */
  public static final String RESUMABLE_IETF = "ietf";

  /** The {@code Upload-Draft-Interop-Version} this cluster speaks. */
  public static final String IETF_INTEROP_VERSION = "6";

  /** A request without a resumable protocol. */
  public TaskRequest(
      TaskType type,
      String url,
      String method,
      Map<String, String> headers,
      Long expectedBytes,
      String sha256,
      String description,
      Double priority,
      Instant earliestBeginAt,
      JsonNode metadata,
      UploadSource source,
      String resumeData,
      Boolean suspended) {
    this(
        type,
        url,
        method,
        headers,
        expectedBytes,
        sha256,
        description,
        priority,
        earliestBeginAt,
        metadata,
        source,
        resumeData,
        suspended,
        (String) null);
  }

  /** A request for a task that starts at once (not suspended). */
  public TaskRequest(
      TaskType type,
      String url,
      String method,
      Map<String, String> headers,
      Long expectedBytes,
      String sha256,
      String description,
      Double priority,
      Instant earliestBeginAt,
      JsonNode metadata,
      UploadSource source,
      String resumeData) {
    this(
        type,
        url,
        method,
        headers,
        expectedBytes,
        sha256,
        description,
        priority,
        earliestBeginAt,
        metadata,
        source,
        resumeData,
        (Boolean) null);
  }

  /** The priority of a task that gives none: the middle of 0.0 to 1.0. */
  public static final double DEFAULT_PRIORITY = 0.5;

  /** The method of an upload that gives none (the other is POST). */
  public static final String DEFAULT_UPLOAD_METHOD = "PUT";

  /** A download: the common case, for code and tests. */
  public static TaskRequest download(String url) {
    return new TaskRequest(
        TaskType.DOWNLOAD, url, null, null, null, null, null, null, null, null, null, null);
  }

  /** This request with its body stored under the destination {@code key}. */
  public TaskRequest withDestination(String key) {
    return new TaskRequest(
        type,
        url,
        method,
        headers,
        expectedBytes,
        sha256,
        description,
        priority,
        earliestBeginAt,
        metadata,
        source,
        resumeData,
        suspended,
        resumable,
        new Destination(key));
  }

  /** The key a download names for its body; null when the cluster names it. */
  public String destinationKey() {
    return destination == null ? null : destination.key();
  }

  /** An upload of {@code source} to {@code url} with {@code method} (PUT or POST). */
  public static TaskRequest upload(String url, String method, UploadSource source) {
    return new TaskRequest(
        TaskType.UPLOAD, url, method, null, null, null, null, null, null, null, source, null);
  }
}
