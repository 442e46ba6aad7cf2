package transfer.worker.attempt;

import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import transfer.contracts.ErrorCodes;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;

/** Classifies what went wrong in an attempt and how long to wait before the next one. */
final class Failures {
  /** Statuses that say "try again later"; every other error status is final. */
  private static final Set<Integer> RETRYABLE_STATUS = Set.of(408, 425, 429, 500, 502, 503, 504);

  private Failures() {}

  static TaskError ofStatus(int status) {
    if (status >= 300 && status < 400) {
      return new TaskError(
          ErrorCodes.TOO_MANY_REDIRECTS,
          "the origin answered " + status + " and no more redirects may be followed",
          status,
          false);
    }
    if (status == 206) {
      return new TaskError(
          ErrorCodes.HTTP_STATUS, "the origin answered 206 to a request without Range", 206, true);
    }
    boolean retryable = RETRYABLE_STATUS.contains(status);
    return new TaskError(
        ErrorCodes.HTTP_STATUS, "the origin answered HTTP " + status, status, retryable);
  }

  static TaskError ofConnection(Throwable e, Duration requestTimeout) {
    String refused = refusedCertificate(e);
    if (refused != null) {
      return TaskError.of(
          ErrorCodes.TLS_CERTIFICATE,
          "the origin's TLS certificate was refused: " + refused,
          false);
    }
    String proxy = proxyRefusal(e);
    if (proxy != null) {
      // The operator's proxy, not the origin: retried, as any other way to the origin that failed.
      return TaskError.of(
          ErrorCodes.CONNECTION_FAILED, "the outbound proxy opened no tunnel: " + proxy, true);
    }
    if (isTimeout(e)) {
      return TaskError.of(
          ErrorCodes.STALLED,
          "no byte arrived for " + requestTimeout.toSeconds() + " s (requestTimeout)",
          true);
    }
    String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    return TaskError.of(ErrorCodes.CONNECTION_FAILED, message, true);
  }

  /**
   * {@code error} as the task records it: a 401, 403 or 407 from the origin becomes {@code
   * credentials_required}, which the task waits out until a PATCH gives it new credentials, when
   * the session waits for them ({@code onAuthenticationFailure}, by default); every other error as
   * it is.
   */
  static TaskError credentialsRequired(TaskError error, SessionConfig session) {
    Integer s = error.httpStatus();
    if (!ErrorCodes.HTTP_STATUS.equals(error.code())
        || s == null
        || (s != 401 && s != 403 && s != 407)
        || !session.waitsForCredentials()) {
      return error;
    }
    return new TaskError(
        ErrorCodes.CREDENTIALS_REQUIRED,
        "the origin answered HTTP "
            + s
            + ": the task waits for new credentials (PATCH its url or headers) until its"
            + " deadline",
        s,
        true);
  }

  /**
   * A body larger than the task announced ({@code expectedBytes}) or than any task may have ({@code
   * maxBytes}, transfer.fetch.max-bytes): final.
   */
  static TaskError ofSize(String what, Long expectedBytes, long maxBytes) {
    String bound =
        expectedBytes != null && expectedBytes <= maxBytes
            ? "the task's expectedBytes of " + expectedBytes
            : "the limit of " + maxBytes + " bytes per task (transfer.fetch.max-bytes)";
    return TaskError.of(
        ErrorCodes.SIZE_LIMIT_EXCEEDED,
        what + ", more than " + bound + "; the body was cut",
        false);
  }

  /** The file could not be written or read: retried. */
  static TaskError ofStorage(Throwable e) {
    return TaskError.of(ErrorCodes.STORAGE_FAILED, "storage: " + e.getMessage(), true);
  }

  /** The {@link Egress} guard gave no route: its own error, or a connection failure. */
  static TaskError ofRoute(Throwable e, Duration requestTimeout) {
    return e instanceof Egress.Refused r ? r.error() : ofConnection(e, requestTimeout);
  }

  /**
   * Why the origin's certificate was refused, if that is what {@code e} says: the TLS handshake
   * failed on the certificate's validation (its chain, its dates) or on its name. Null for every
   * other failure, a handshake cut by the network included (that one is retried).
   */
  static String refusedCertificate(Throwable e) {
    boolean handshake = false;
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof javax.net.ssl.SSLException
          && t.getMessage() != null
          && (t.getMessage().contains("certificate_required")
              || t.getMessage().contains("bad_certificate")
              || t.getMessage().contains("unknown_ca"))) {
        return "the origin wants a client certificate that the session does not give, or refused"
            + " the one it gave (clientCertificate): "
            + t.getMessage();
      }
      if (t instanceof javax.net.ssl.SSLHandshakeException
          || t instanceof javax.net.ssl.SSLPeerUnverifiedException) {
        handshake = true;
      }
      if (handshake
          && (t instanceof java.security.cert.CertificateException
              || t instanceof java.security.cert.CertPathValidatorException
              || t instanceof java.security.cert.CertPathBuilderException)) {
        return certificateReason(t);
      }
    }
    return null;
  }

  /** What the outbound proxy said when it refused or failed a tunnel, or null. */
  private static String proxyRefusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.netty.handler.proxy.ProxyConnectException) {
        return String.valueOf(t.getMessage());
      }
    }
    return null;
  }

  private static String certificateReason(Throwable t) {
    Throwable innermost = t;
    while (innermost.getCause() != null) {
      innermost = innermost.getCause();
    }
    if (innermost instanceof java.security.cert.CertificateExpiredException) {
      return "it has expired (" + innermost.getMessage() + ")";
    }
    if (innermost instanceof java.security.cert.CertificateNotYetValidException) {
      return "it is not valid yet (" + innermost.getMessage() + ")";
    }
    String m = String.valueOf(t.getMessage());
    if (m.contains("No subject alternative") || m.contains("No name matching")) {
      return "it is for another host (" + m + ")";
    }
    if (innermost instanceof java.security.cert.CertPathBuilderException
        || m.contains("unable to find valid certification path")) {
      return "no trusted authority signed it (self-signed, or a private CA this worker does not"
          + " trust: TRANSFER_FETCH_TRUSTED_CA)";
    }
    return m;
  }

  private static boolean isTimeout(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof TimeoutException
          || t instanceof java.net.SocketTimeoutException
          || t.getClass().getSimpleName().contains("Timeout")) {
        return true;
      }
    }
    return false;
  }

  /** The {@code Retry-After} header as a duration: seconds or an HTTP date; null if absent. */
  static Duration retryAfter(String header, Clock clock) {
    if (header == null || header.isBlank()) {
      return null;
    }
    String v = header.trim();
    try {
      long seconds = Long.parseLong(v);
      return seconds < 0 ? null : Duration.ofSeconds(Math.min(seconds, 86_400));
    } catch (NumberFormatException e) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(clock.instant(), at.toInstant());
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException ignored) {
        return null;
      }
    }
  }

  /**
   * Exponential backoff with jitter (a random wait between half and all of the doubled interval),
   * never shorter than the origin's {@code Retry-After}.
   */
  static Duration backoff(RetryPolicy policy, int attempt, Duration retryAfter) {
    RetryPolicy p = policy.withDefaults();
    long initial = Math.max(1, p.initialBackoff().toMillis());
    long cap = Math.max(initial, p.maxBackoff().toMillis());
    int shift = Math.min(30, Math.max(0, attempt - 1));
    long ceiling = Math.min(cap, initial << shift);
    long wait = ThreadLocalRandom.current().nextLong(ceiling / 2, ceiling + 1);
    if (retryAfter != null) {
      wait = Math.max(wait, retryAfter.toMillis());
    }
    return Duration.ofMillis(wait);
  }
}
