package transfer.api.egress;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.contracts.TaskRequest;
import transfer.egress.Destination;
import transfer.egress.EgressPolicy;

/**
 * The SSRF guard's first look, at submit: a URL whose host is an address literal (in any spelling)
 * or a loopback name, or whose port is not allowed, is refused with a 400 before anything is
 * stored. Names are resolved and judged by the worker, on every attempt and redirect hop.
 */
@Singleton
public class EgressRules {
  private final EgressPolicy policy;
  private final long maxBytes;

  public EgressRules(FetchConfig config) {
    // A bad entry stops the service at startup, naming the entry.
    this.policy =
        EgressPolicy.of(config.allowedDestinations().orElse(List.of()), config.allowedPorts());
    this.maxBytes = config.maxBytes().asLongValue();
  }

  void announce(@Observes StartupEvent ev) {
    Log.infof("Outbound requests: %s; at most %d bytes per task", policy, maxBytes);
  }

  /** Refuses the request (400 naming the fields) if its destination or size may not be used. */
  public void check(TaskRequest request) {
    List<FieldError> errors = new ArrayList<>();
    if (request.url() != null) {
      try {
        if (policy.judge(Destination.of(request.url())) instanceof EgressPolicy.Verdict.Refuse r) {
          errors.add(new FieldError("url", "is a blocked destination: " + r.reason()));
        }
      } catch (IllegalArgumentException e) {
        errors.add(new FieldError("url", e.getMessage()));
      }
    }
    if (request.expectedBytes() != null && request.expectedBytes() > maxBytes) {
      errors.add(
          new FieldError(
              "expectedBytes",
              "is more than the "
                  + maxBytes
                  + " bytes a task may transfer here (transfer.fetch.max-bytes)"));
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
  }
}
