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
 * @param waitsForConnectivity whether a task waits out faults of the way to its origin (refused or
 *     reset connections, names that do not resolve, handshakes cut, stalls, 408, 425, 429 and 5xx
 *     answers) until its {@code resourceTimeout}, without counting them against {@code
 *     retry.maxAttempts} (URLSession's {@code waitsForConnectivity}); default true. False: each
 *     such fault uses up an attempt.
 * @param onAuthenticationFailure what a 401, 403 or 407 from an origin does: {@value #WAIT} (the
 *     default) keeps the task waiting for a {@code PATCH} of its url or headers until its deadline;
 *     {@value #FAIL} fails it at once with {@code http_status}
 * @param sendsCreatedEvents whether each task's creation is an event, {@code transfer.task.created}
 *     (URLSession's {@code didCreateTask}); default false: the submit's answer says as much
 * @param keepsNamedDestinations whether retention leaves the objects of downloads that named their
 *     {@code destination} in place when it removes their tasks (default true: they are the
 *     tenant's, and stop counting against its bytes-stored quota); false: retention deletes them
 *     like the objects the cluster named
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
    String clientCertificate,
    Boolean waitsForConnectivity,
    String onAuthenticationFailure,
    Boolean sendsCreatedEvents,
    Boolean keepsNamedDestinations) {

  /** {@code onAuthenticationFailure}: wait for new credentials (the default). */
  public static final String WAIT = "wait";

  /** {@code onAuthenticationFailure}: fail at once. */
  public static final String FAIL = "fail";

  /** A configuration that leaves named destinations to retention's default. */
  public SessionConfig(
      Integer maxConcurrentTransfers,
      Integer maxConnectionsPerHost,
      Duration requestTimeout,
      Duration resourceTimeout,
      Boolean discretionary,
      Boolean sendsEvents,
      Map<String, String> headers,
      RetryPolicy retry,
      String clientCertificate,
      Boolean waitsForConnectivity,
      String onAuthenticationFailure,
      Boolean sendsCreatedEvents) {
    this(
        maxConcurrentTransfers,
        maxConnectionsPerHost,
        requestTimeout,
        resourceTimeout,
        discretionary,
        sendsEvents,
        headers,
        retry,
        clientCertificate,
        waitsForConnectivity,
        onAuthenticationFailure,
        sendsCreatedEvents,
        null);
  }

  /** A configuration without a client certificate, waiting for connectivity by default. */
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
        null,
        null,
        null,
        null);
  }

  /** A configuration that waits for connectivity by default. */
  public SessionConfig(
      Integer maxConcurrentTransfers,
      Integer maxConnectionsPerHost,
      Duration requestTimeout,
      Duration resourceTimeout,
      Boolean discretionary,
      Boolean sendsEvents,
      Map<String, String> headers,
      RetryPolicy retry,
      String clientCertificate) {
    this(
        maxConcurrentTransfers,
        maxConnectionsPerHost,
        requestTimeout,
        resourceTimeout,
        discretionary,
        sendsEvents,
        headers,
        retry,
        clientCertificate,
        null,
        null,
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
        clientCertificate,
        waitsForConnectivity != null ? waitsForConnectivity : Boolean.TRUE,
        onAuthenticationFailure != null ? onAuthenticationFailure : WAIT,
        sendsCreatedEvents != null ? sendsCreatedEvents : Boolean.FALSE,
        keepsNamedDestinations != null ? keepsNamedDestinations : Boolean.TRUE);
  }

  /** Whether a task waits for new credentials when an origin refuses its own (default true). */
  public boolean waitsForCredentials() {
    return !FAIL.equals(onAuthenticationFailure);
  }

  /** Whether each task's creation is an event (default false). */
  public boolean announcesCreation() {
    return Boolean.TRUE.equals(sendsCreatedEvents);
  }

  /** Whether retention leaves downloads' named destinations in place (default true). */
  public boolean keepsNamed() {
    return keepsNamedDestinations == null || keepsNamedDestinations;
  }

  /** Whether the session waits out faults of the way to its origins (default true). */
  public boolean waits() {
    return waitsForConnectivity == null || waitsForConnectivity;
  }
}
