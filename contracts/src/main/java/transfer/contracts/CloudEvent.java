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

  /**
   * The Kafka record header (and its value) of the CloudEvents Kafka protocol binding's structured
   * mode, on every record of {@link Topics#EVENTS}: what the CloudEvents SDKs' Kafka deserializers
   * and Knative's Kafka source look for to read a record as a CloudEvent.
   */
  public static final String KAFKA_CONTENT_TYPE_HEADER = "content-type";

  public static final String STRUCTURED_CONTENT_TYPE = "application/cloudevents+json";

  public static String sourceOf(String sessionId) {
    return "/sessions/" + sessionId;
  }
}
