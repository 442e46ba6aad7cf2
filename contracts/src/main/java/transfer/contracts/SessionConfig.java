package transfer.contracts;

import java.time.Duration;
import java.util.Map;

/**
 * A session's configuration, the analog of a background {@code URLSessionConfiguration}. Every
 * field is optional in a request; {@link #withDefaults()} fills in the documented defaults.
 */
public record SessionConfig(
    Integer maxConcurrentTransfers,
    Integer maxConnectionsPerHost,
    Duration requestTimeout,
    Duration resourceTimeout,
    Boolean discretionary,
    Boolean sendsEvents,
    Map<String, String> headers,
    RetryPolicy retry) {

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
        retry != null ? retry.withDefaults() : DEFAULT.retry);
  }
}
