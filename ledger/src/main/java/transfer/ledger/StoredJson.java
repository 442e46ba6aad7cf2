package transfer.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import transfer.contracts.Json;

/**
 * JSON as the ledger stores it in text and jsonb columns. Written with the shared settings, read
 * tolerantly: a field this version does not know (written by a newer version during a rolling
 * upgrade) is ignored rather than making the row unreadable. What a client sends is still read
 * strictly, by the services, before it is stored.
 */
final class StoredJson {
  private static final ObjectMapper JSON = Json.mapper();
  private static final ObjectMapper TOLERANT =
      Json.mapper().copy().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private StoredJson() {}

  static String write(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
    }
  }

  static <T> T read(String text, Class<T> type) {
    try {
      return TOLERANT.readValue(text, type);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("stored JSON is not a " + type.getSimpleName(), e);
    }
  }
}
