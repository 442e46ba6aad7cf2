package transfer.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * A CloudEvents 1.0 event in JSON structured mode. {@code sequence} is the per-session order (an
 * extension attribute: a string in the CloudEvents spec's sense, a number here for easy sorting).
 * {@code tenant} (an extension attribute) is the tenant the session belongs to: session ids are
 * unique per tenant only, and the results topic carries every tenant's events.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CloudEvent(
    String specversion,
    String id,
    String type,
    String source,
    String subject,
    Instant time,
    long sequence,
    String datacontenttype,
    JsonNode data,
    String tenant) {

  public static final String SPEC_VERSION = "1.0";

  public static String sourceOf(String sessionId) {
    return "/sessions/" + sessionId;
  }
}
