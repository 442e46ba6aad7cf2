package transfer.contracts;

/** The stable {@code error.code} values of a failed task. */
public final class ErrorCodes {
  public static final String HTTP_STATUS = "http_status";
  public static final String CONNECTION_FAILED = "connection_failed";
  public static final String STALLED = "stalled";
  public static final String RESOURCE_TIMEOUT = "resource_timeout";
  public static final String TOO_MANY_REDIRECTS = "too_many_redirects";
  public static final String CHECKSUM_MISMATCH = "checksum_mismatch";
  public static final String SIZE_LIMIT_EXCEEDED = "size_limit_exceeded";
  public static final String BLOCKED_DESTINATION = "blocked_destination";

  /**
   * A certificate of the TLS handshake was refused: the origin's (not signed by a trusted
   * authority: self-signed, or a private CA that is not trusted; expired or not yet valid; for
   * another host), or the session's client certificate (one the workers do not hold, or one the
   * origin refused or wanted and did not get). Final: trying again meets the same certificates.
   */
  public static final String TLS_CERTIFICATE = "tls_certificate";

  /**
   * Reserved: no code path produces it. A download whose source changed between attempts starts
   * again from its first byte instead ({@code If-Range} finds the other version).
   */
  public static final String SOURCE_CHANGED = "source_changed";

  /**
   * The origin answered 401, 403 or 407 (a stale token, an expired presigned URL) and the task
   * waited for new credentials ({@code PATCH} of its url or headers) until its deadline; or, while
   * it waits, the last error of the task.
   */
  public static final String CREDENTIALS_REQUIRED = "credentials_required";

  public static final String STORAGE_FAILED = "storage_failed";

  /**
   * A download would go past its tenant's bytes-stored quota, which the bytes stored, the staged
   * objects and the room running downloads reserved fill. Final; a canceled or failed download's
   * resumeData continues it once there is room.
   */
  public static final String QUOTA_EXCEEDED = "quota_exceeded";

  public static final String ATTEMPTS_EXHAUSTED = "attempts_exhausted";
  public static final String LEASE_EXPIRED = "lease_expired";

  /** Canceled by the client (a task or its whole session). */
  public static final String CANCELED = "canceled";

  /**
   * The task's stored row cannot be read by this version (a corrupt row, or one a newer version
   * wrote in a form this one does not know). Final: the task fails alone, everything else goes on;
   * its row is kept as it was for an operator to inspect.
   */
  public static final String UNREADABLE = "unreadable";

  /** An upload's source bytes are gone or changed in storage. */
  public static final String SOURCE_MISSING = "source_missing";

  private ErrorCodes() {}
}
