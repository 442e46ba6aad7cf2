package transfer.api.task;

import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import java.util.List;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import transfer.api.request.RequestRules;

/**
 * An {@code Idempotency-Key} header that is present but empty reaches the resource as no header at
 * all, which would quietly submit without idempotency; it is refused like any other bad key.
 */
public class IdempotencyKeyFilter {
  static final String HEADER = "Idempotency-Key";

  @ServerRequestFilter(priority = Priorities.USER + 100) // after authentication
  public void refuseEmptyKey(ContainerRequestContext request) {
    if (!"POST".equals(request.getMethod())) {
      return;
    }
    List<String> values = request.getHeaders().get(HEADER);
    if (values != null && values.stream().anyMatch(v -> v == null || v.isEmpty())) {
      RequestRules.requireIdempotencyKey("");
    }
  }
}
