package transfer.api.session;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.request.RequestRules;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;

/** The rules a session's configuration must pass before it is stored. */
final class SessionRules {
  private SessionRules() {}

  static void checkSession(SessionConfig c) {
    List<FieldError> errors = new ArrayList<>();
    range("maxConcurrentTransfers", c.maxConcurrentTransfers(), 1, 100_000, errors);
    range("maxConnectionsPerHost", c.maxConnectionsPerHost(), 1, 1_000, errors);
    duration(
        "requestTimeout", c.requestTimeout(), Duration.ofSeconds(1), Duration.ofHours(1), errors);
    duration(
        "resourceTimeout", c.resourceTimeout(), Duration.ofSeconds(1), Duration.ofDays(30), errors);
    RequestRules.checkHeaders("headers", c.headers(), errors);
    if (c.clientCertificate() != null && !RequestRules.isSessionId(c.clientCertificate())) {
      errors.add(
          new FieldError(
              "clientCertificate",
              "must be the name of a client certificate the workers hold: letters, digits, '.',"
                  + " '_' and '-', at most 128 characters; never the certificate itself"));
    }
    if (c.onAuthenticationFailure() != null
        && !c.onAuthenticationFailure().equals(SessionConfig.WAIT)
        && !c.onAuthenticationFailure().equals(SessionConfig.FAIL)) {
      errors.add(
          new FieldError(
              "onAuthenticationFailure",
              "must be \"wait\" (wait for new credentials, the default) or \"fail\""));
    }
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
}
