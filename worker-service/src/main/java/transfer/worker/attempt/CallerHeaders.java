package transfer.worker.attempt;

import io.vertx.core.http.RequestOptions;
import java.util.Map;
import transfer.contracts.SessionConfig;
import transfer.ledger.TaskRow;

/** The headers the client gave for a task's requests: the session's, then the task's on top. */
final class CallerHeaders {
  private CallerHeaders() {}

  /**
   * Adds the session's headers and the task's on top (URLSession's httpAdditionalHeaders) to a
   * request for {@code url}, when it may carry them ({@link RedirectDecision#carriesCallerHeaders}:
   * on the task's origin only).
   */
  static RequestOptions apply(RequestOptions o, TaskRow task, SessionConfig session, String url) {
    if (!RedirectDecision.carriesCallerHeaders(task.url(), url)) {
      return o;
    }
    for (Map.Entry<String, String> h : session.headers().entrySet()) {
      o.putHeader(h.getKey(), h.getValue());
    }
    if (task.request().headers() != null) {
      for (Map.Entry<String, String> h : task.request().headers().entrySet()) {
        o.putHeader(h.getKey(), h.getValue());
      }
    }
    return o;
  }
}
