package transfer.client;

import java.util.List;
import transfer.contracts.CloudEvent;

/**
 * A page of a session's stored events in sequence order; {@code last} is the sequence to ask {@code
 * after} for the next page (the request's own {@code after} when the page is empty).
 */
public record EventPage(List<CloudEvent> events, long last) {
  public EventPage {
    events = List.copyOf(events);
  }
}
