package transfer.worker.attempt;

import io.vertx.core.http.HttpClientRequest;
import transfer.worker.WorkerMetrics;

/**
 * An attempt's request to the other side: its host counted in use from the request until the
 * exchange is over ({@link WorkerMetrics#connectionOpened}), and the request reset at once when the
 * attempt stops, so its connection closes instead of draining the rest of a body. Each request's
 * steps are marked in the attempt's {@link AttemptMetrics}.
 */
final class Connection {
  private final WorkerMetrics metrics;
  private final AttemptMetrics wire;

  /** The label the current request's host is counted under, or null while none is in flight. */
  private String hostKey;

  private HttpClientRequest request;

  Connection(WorkerMetrics metrics, AttemptMetrics wire) {
    this.metrics = metrics;
    this.wire = wire;
  }

  /** A request of this attempt goes to {@code host} (a redirect moves it to another). */
  void opening(String host) {
    done();
    hostKey = metrics.connectionOpened(host);
    wire.opening();
  }

  /** The request is made: a stop resets it. */
  void made(HttpClientRequest request) {
    this.request = request;
    wire.made(request);
  }

  /** The exchange is over (its body in, or the attempt stopped). Idempotent. */
  void done() {
    metrics.connectionClosed(hostKey);
    hostKey = null;
  }

  /** The attempt stops: the request is reset and its host no longer in use. */
  void reset() {
    if (request != null) {
      request.reset();
    }
    done();
  }
}
