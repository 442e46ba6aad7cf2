package transfer.api.docs;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.media.Schema;
import transfer.api.task.TaskRules;
import transfer.contracts.ErrorCodes;
import transfer.contracts.EventTypes;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/**
 * What each field of the API's records means and defaults to, for the OpenAPI document ({@link
 * OpenApiDocs}): kept here rather than as annotations on the records, because the contracts module
 * stays free of framework imports.
 */
final class SchemaDocs {
  private SchemaDocs() {}

  /** Schema name to field to description; defaults are part of the description and the schema. */
  static final Map<String, Map<String, String>> FIELDS = new LinkedHashMap<>();

  /** Schema name to field to default: the values the code fills in, taken from it. */
  private static final Map<String, Map<String, Object>> DEFAULTS =
      Map.of(
          "SessionConfig",
          Map.of(
              "maxConnectionsPerHost",
              SessionConfig.DEFAULT.maxConnectionsPerHost(),
              "requestTimeout",
              iso(SessionConfig.DEFAULT.requestTimeout()),
              "resourceTimeout",
              iso(SessionConfig.DEFAULT.resourceTimeout()),
              "discretionary",
              SessionConfig.DEFAULT.discretionary(),
              "sendsEvents",
              SessionConfig.DEFAULT.sendsEvents(),
              "waitsForConnectivity",
              SessionConfig.DEFAULT.withDefaults().waitsForConnectivity(),
              "onAuthenticationFailure",
              SessionConfig.DEFAULT.withDefaults().onAuthenticationFailure(),
              "sendsCreatedEvents",
              SessionConfig.DEFAULT.withDefaults().sendsCreatedEvents(),
              "keepsNamedDestinations",
              SessionConfig.DEFAULT.withDefaults().keepsNamedDestinations()),
          "RetryPolicy",
          Map.of(
              "maxAttempts",
              RetryPolicy.DEFAULT.maxAttempts(),
              "initialBackoff",
              iso(RetryPolicy.DEFAULT.initialBackoff()),
              "maxBackoff",
              iso(RetryPolicy.DEFAULT.maxBackoff())),
          "TaskRequest",
          Map.of("priority", TaskRequest.DEFAULT_PRIORITY));

  /** A duration in ISO-8601 as people write it: whole days in days (P7D), else as PT1M, PT5M. */
  static String iso(Duration d) {
    return d.toSeconds() > 0 && d.toSeconds() % 86_400 == 0 && d.getNano() == 0
        ? "P" + d.toDays() + "D"
        : d.toString();
  }

  static {
    FIELDS.put(
        "SessionConfig",
        Map.ofEntries(
            Map.entry(
                "waitsForConnectivity",
                "A task waits out faults of the way to its origin (refused or reset connections,"
                    + " names that do not resolve, handshakes cut, stalls, 408, 425, 429 and 5xx"
                    + " answers) until its resourceTimeout, retrying with a backoff up to"
                    + " retry.maxBackoff, and these attempts do not count against"
                    + " retry.maxAttempts; each waiting spell is announced once with a"
                    + " transfer.task.waiting event (waitsForConnectivity). false: each such"
                    + " fault uses up an attempt."),
            Map.entry(
                "onAuthenticationFailure",
                "What a 401, 403 or 407 from an origin (a stale token, an expired presigned URL)"
                    + " does: \"wait\" keeps the task waiting (waitingReason"
                    + " credentials_required, a transfer.task.credentials_required event) until a"
                    + " PATCH of the task gives it a new url or headers, or its deadline fails it"
                    + " with credentials_required; \"fail\" fails it at once with http_status."),
            Map.entry(
                "sendsCreatedEvents",
                "true: each task's creation is an event, transfer.task.created (didCreateTask),"
                    + " with its url, state, priority, description and metadata, in the"
                    + " transaction that creates it."),
            Map.entry(
                "maxConcurrentTransfers",
                "Most tasks of this session running at once, over the whole cluster (none: no"
                    + " limit)."),
            Map.entry(
                "maxConnectionsPerHost",
                "Most running tasks of this session per origin (host and port), over the whole"
                    + " cluster (httpMaximumConnectionsPerHost)."),
            Map.entry(
                "requestTimeout",
                "ISO-8601 duration: no byte for this long ends the attempt as stalled, and it is"
                    + " retried (timeoutIntervalForRequest)."),
            Map.entry(
                "resourceTimeout",
                "ISO-8601 duration: a task not finished this long after its submission fails"
                    + " with resource_timeout, all attempts together, waiting included"
                    + " (timeoutIntervalForResource)."),
            Map.entry(
                "discretionary",
                "Tasks of this session start after every non-discretionary task that is ready."),
            Map.entry(
                "sendsEvents",
                "Publish this session's events to the transfer-events topic (replay and SSE"
                    + " serve them either way)."),
            Map.entry(
                "headers",
                "Request headers for every task of the session; a task's own headers win. Values"
                    + " are write-only: answers show each name with the value \"***\"."),
            Map.entry("retry", "How often and how patiently failed attempts are retried."),
            Map.entry(
                "clientCertificate",
                "The name of the TLS client certificate the workers present to HTTPS origins"
                    + " that ask for one (mTLS): a certificate and key the workers hold for this"
                    + " tenant under that name (transfer.fetch.client-certificates), never the"
                    + " certificate itself."),
            Map.entry(
                "keepsNamedDestinations",
                "Whether retention leaves the objects of downloads that named their destination"
                    + " in place when it removes their tasks (default true: they are the"
                    + " tenant's from then on, and no longer count against its bytes-stored"
                    + " quota); false: retention deletes them with their tasks.")));
    FIELDS.put(
        "RetryPolicy",
        Map.of(
            "maxAttempts",
                "Attempts in all, the first included; attempts that waited out a fault of the way"
                    + " to the origin (waitsForConnectivity) or of the cluster's storage do not"
                    + " count.",
            "initialBackoff",
                "ISO-8601 duration the backoff starts from: after the n-th failed attempt the"
                    + " interval is min(maxBackoff, initialBackoff × 2^(n−1)).",
            "maxBackoff",
                "ISO-8601 cap of that interval. The wait before the next attempt is a random"
                    + " time between half and all of the interval, or the server's Retry-After"
                    + " when that is longer."));
    FIELDS.put(
        "TaskRequest",
        Map.ofEntries(
            Map.entry("type", "\"download\" or \"upload\"."),
            Map.entry(
                "url",
                "http or https URL to download from or upload to. May be left out of a download"
                    + " that gives resumeData."),
            Map.entry(
                "method",
                "GET for a download; "
                    + TaskRequest.DEFAULT_UPLOAD_METHOD
                    + " (default) or POST for an upload."),
            Map.entry(
                "headers",
                "Request headers; Host, Content-Length, Transfer-Encoding and Connection may not"
                    + " be set. Values are write-only: answers show each name with the value"
                    + " \"***\"."),
            Map.entry(
                "expectedBytes",
                "The size the client expects (countOfBytesClientExpectsToReceive); a hint"),
            Map.entry(
                "sha256",
                "Expected SHA-256 (hex) of a download: a different body fails with"
                    + " checksum_mismatch."),
            Map.entry(
                "description",
                "Free text, up to "
                    + TaskRules.MAX_DESCRIPTION_LENGTH
                    + " characters (taskDescription)."),
            Map.entry(
                "priority", "0.0 to 1.0: among ready tasks a worker takes the highest first."),
            Map.entry(
                "earliestBeginAt",
                "The task does not start before this instant (earliestBeginDate)."),
            Map.entry(
                "metadata",
                "A JSON object, up to "
                    + TaskRules.MAX_METADATA_KIB
                    + " KiB, echoed in every event of the task."),
            Map.entry(
                "source",
                "An upload's bytes: {\"task\": id} of a completed download, or {\"object\":"
                    + " name} staged in this session."),
            Map.entry(
                "resumeData",
                "Opaque resumeData of a canceled or failed download: the new download continues"
                    + " from its stored bytes."),
            Map.entry(
                "suspended",
                "true: the task is created suspended and holds no worker until POST"
                    + " …/resume (not with earliestBeginAt)."),
            Map.entry(
                "resumable",
                "Uploads: \"tus\" (tus 1.0) or \"ietf\" (the IETF's resumable uploads, interop"
                    + " version 6) when the target speaks it. url is then where the upload is"
                    + " created (POST with Upload-Length); the body goes by PATCH to the resource"
                    + " the target names, and an interrupted upload continues from the offset the"
                    + " target reports (HEAD), on any worker. The completed task's response.finalUrl"
                    + " is that resource."),
            Map.entry(
                "destination",
                "Downloads: {\"key\": \"reports/2026/q4.csv\"} stores the body under that key"
                    + " among the tenant's named objects (<tenant>/_named/<key> in the bucket or"
                    + " under the storage root) instead of a name of the cluster's: the"
                    + " server-side didFinishDownloadingTo. Segments of letters, digits and"
                    + " . _ ~ ! ' ( ) * + , = @ -, separated by single slashes, 512 characters at"
                    + " most. A later download naming the same key replaces the object."
                    + " Retention leaves it in place unless the session's keepsNamedDestinations"
                    + " is false.")));
    FIELDS.put(
        "TaskView",
        Map.ofEntries(
            Map.entry(
                "state",
                "queued, waiting (earliestBeginAt or a retry backoff: waitingReason says which),"
                    + " running, suspended, or final: completed, failed, canceled."),
            Map.entry(
                "waitingReason",
                "While waiting: connectivity (the origin could not be reached), origin_unavailable"
                    + " (it answered 408, 425, 429 or 5xx), storage (the cluster's own),"
                    + " credentials_required (the origin refused the credentials: PATCH the task's"
                    + " url or headers), retry_backoff (an ordinary retry), begin_at"
                    + " (earliestBeginAt)."),
            Map.entry(
                "uploadResource",
                "A resumable upload's resource, once its target created it: where the body goes"
                    + " (PATCH) and where a later attempt asks for the offset (HEAD)."),
            Map.entry(
                "response",
                "What the other side answered, once the task completed (task.response): a"
                    + " download's status, contentType, contentLength, fileName, etag,"
                    + " lastModified and finalUrl; an upload target's status, headers (no"
                    + " Set-Cookie) and up to 64 KiB of body."),
            Map.entry(
                "nextAttemptAt",
                "While waiting: when the next attempt is due (none while waiting for"
                    + " credentials)."),
            Map.entry(
                "deadlineAt",
                "When the task fails with resource_timeout if it has not finished (the"
                    + " session's resourceTimeout after submission)."),
            Map.entry("attempt", "Attempts started so far."),
            Map.entry("headers", "The task's own request headers by name, every value \"***\"."),
            Map.entry("bytesTransferred", "Bytes received (download) or sent (upload)."),
            Map.entry("bytesExpected", "Total size when known."),
            Map.entry("error", "Why the task (or its last attempt) failed; null otherwise."),
            Map.entry(
                "location",
                "Storage URI of a completed download; also readable at …/tasks/{tid}/content."),
            Map.entry("sha256", "SHA-256 (hex) of a completed download, or of an upload's source."),
            Map.entry(
                "resumeData",
                "Present on a canceled or failed download whose stored bytes a new task may"
                    + " continue from.")));
    FIELDS.put(
        "ReceivedResponse",
        Map.of(
            "status", "The HTTP status of the answer the task ended with (a download: 200 or 206).",
            "contentType", "A download's Content-Type.",
            "contentLength", "A download's whole size.",
            "fileName",
                "The file name a download's Content-Disposition suggests, without directories.",
            "finalUrl", "Where a download's redirects led.",
            "headers",
                "An upload target's answer headers, names in lower case, Set-Cookie left out.",
            "body",
                "The first 64 KiB of an upload target's answer: text (bodyEncoding utf-8) or"
                    + " base64 (bodyEncoding base64); bodyTruncated when there was more."));
    FIELDS.put(
        "TaskPatch",
        Map.of(
            "url",
            "A new URL (judged as at submit), while the task is queued, waiting or suspended; a"
                + " waiting task is queued at once. The next attempt continues from the stored"
                + " bytes when the origin's validators still match (Range with If-Range).",
            "headers",
            "The task's own headers, replacing all of them; same rules and times as url.",
            "priority",
            "0.0 to 1.0, while the task is open.",
            "description",
            "Free text, while the task is open."));
    FIELDS.put(
        "TaskError",
        Map.of(
            "code",
            "Stable code: "
                + String.join(
                    ", ",
                    ErrorCodes.HTTP_STATUS,
                    ErrorCodes.CONNECTION_FAILED,
                    ErrorCodes.STALLED,
                    ErrorCodes.RESOURCE_TIMEOUT,
                    ErrorCodes.TOO_MANY_REDIRECTS,
                    ErrorCodes.CHECKSUM_MISMATCH,
                    ErrorCodes.SIZE_LIMIT_EXCEEDED,
                    ErrorCodes.BLOCKED_DESTINATION,
                    ErrorCodes.TLS_CERTIFICATE,
                    ErrorCodes.CREDENTIALS_REQUIRED,
                    ErrorCodes.STORAGE_FAILED,
                    ErrorCodes.QUOTA_EXCEEDED,
                    ErrorCodes.ATTEMPTS_EXHAUSTED,
                    ErrorCodes.LEASE_EXPIRED,
                    ErrorCodes.CANCELED,
                    ErrorCodes.SOURCE_MISSING,
                    ErrorCodes.UNREADABLE)
                + ". "
                + ErrorCodes.SOURCE_CHANGED
                + " is reserved and never produced: a download whose source changed between"
                + " attempts starts again from its first byte.",
            "httpStatus",
            "The server's status when there was one.",
            "retryable",
            "Whether the cluster would (or did) try again."));
    FIELDS.put(
        "EventPage",
        Map.of(
            "events",
            "CloudEvents 1.0 (specversion, id, source, type, subject = the task, time, sequence,"
                + " tenant, data), oldest first. Their types: "
                + String.join(
                    ", ",
                    EventTypes.CREATED,
                    EventTypes.PROGRESS,
                    EventTypes.RESUMED,
                    EventTypes.WAITING,
                    EventTypes.CREDENTIALS_REQUIRED,
                    EventTypes.DOWNLOADED,
                    EventTypes.COMPLETED,
                    EventTypes.SESSION_INVALIDATED,
                    EventTypes.SESSION_DRAINED)
                + ". A completed task's "
                + EventTypes.COMPLETED
                + " carries metrics: what its last attempt cost on the wire (dnsMs, connectMs,"
                + " tlsMs, firstByteMs, transferMs, totalMs, redirects, requests, remoteAddress,"
                + " protocol, reusedConnection, bytes)."));
    FIELDS.put(
        "SessionView",
        Map.of(
            "state",
            "active; finishing (DELETE ?finishTasks=true: no new tasks); invalidated (DELETE:"
                + " open tasks canceled). A PUT makes it active again."));
  }

  static void describe(OpenAPI openAPI) {
    Map<String, Schema> schemas = openAPI.getComponents().getSchemas();
    if (schemas == null) {
      return;
    }
    FIELDS.forEach(
        (name, fields) -> {
          Schema s = schemas.get(name);
          if (s == null || s.getProperties() == null) {
            return;
          }
          Map<String, Object> defaults = DEFAULTS.getOrDefault(name, Map.of());
          fields.forEach(
              (field, description) -> {
                Schema p = s.getProperties().get(field);
                if (p == null) {
                  return;
                }
                Object d = defaults.get(field);
                p.description(description + (d != null ? " Default: " + d + "." : ""));
                if (d != null) {
                  p.defaultValue(d);
                }
              });
        });
  }
}
