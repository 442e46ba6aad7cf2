package transfer.contracts;

import java.time.Duration;
import java.util.Map;

/**
 * A session's configuration, the analog of a background {@code URLSessionConfiguration}. Every
 * field is optional in a request; {@link #withDefaults()} fills in the documented defaults.
 *
 * @param clientCertificate the name of the TLS client certificate the workers present to HTTPS
 *     origins that ask for one (mTLS): a certificate and key the workers hold for the session's
 *     tenant under that name, never the certificate itself; null: none
 */
public record SessionConfig(
    Integer maxConcurrentTransfers,
    Integer maxConnectionsPerHost,
    Duration requestTimeout,
    Duration resourceTimeout,
    Boolean discretionary,
    Boolean sendsEvents,
    Map<String, String> headers,
    RetryPolicy retry,
    String clientCertificate) {

  /** A configuration without a client certificate. */
  public SessionConfig(
      Integer maxConcurrentTransfers,
      Integer maxConnectionsPerHost,
      Duration requestTimeout,
      Duration resourceTimeout,
      Boolean discretionary,
      Boolean sendsEvents,
      Map<String, String> headers,
      RetryPolicy retry) {
    this(
        maxConcurrentTransfers,
        maxConnectionsPerHost,
        requestTimeout,
        resourceTimeout,
        discretionary,
        sendsEvents,
        headers,
        retry,
        null);
  }

  public static final SessionConfig DEFAULT =
      new SessionConfig(
          null,
          6,
          Duration.ofSeconds(60),
          Duration.ofDays(7),
          false,
          true,
          Map.of(),
          RetryPolicy.DEFAULT);

  public SessionConfig withDefaults() {
    return new SessionConfig(
        maxConcurrentTransfers,
        maxConnectionsPerHost != null ? maxConnectionsPerHost : DEFAULT.maxConnectionsPerHost,
        requestTimeout != null ? requestTimeout : DEFAULT.requestTimeout,
        resourceTimeout != null ? resourceTimeout : DEFAULT.resourceTimeout,
        discretionary != null ? discretionary : DEFAULT.discretionary,
        sendsEvents != null ? sendsEvents : DEFAULT.sendsEvents,
        headers != null ? Map.copyOf(headers) : Map.of(),
        retry != null ? retry.withDefaults() : DEFAULT.retry,
        clientCertificate);
  }
}
