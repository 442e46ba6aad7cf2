package transfer.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jsr310.deser.DurationDeserializer;
import com.fasterxml.jackson.datatype.jsr310.deser.InstantDeserializer;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import transfer.contracts.Json;

/**
 * The REST layer speaks the same JSON as the rest of the cluster (ISO-8601 times, unknown fields
 * refused), and reads request bodies strictly: one JSON value and nothing after it, and every field
 * of the type it is documented with. Jackson's defaults would quietly accept {@code
 * "priority":"0.5"}, {@code "description":5}, {@code "discretionary":1}, {@code
 * "expectedBytes":1.5} (as 1), a second object after the first, and a number for a time ({@code
 * 1e300} as 1970-01-01); each of those is a 400 naming the field instead.
 */
@Singleton
public class JsonCustomizer implements ObjectMapperCustomizer {
  @Override
  public void customize(ObjectMapper mapper) {
    Json.configure(mapper)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
        // {"type":"download","type":"upload"}: a proxy that reads the first key would disagree.
        .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    // A string is a JSON string, a number a JSON number, a boolean true or false.
    mapper
        .coercionConfigFor(LogicalType.Textual)
        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
    for (LogicalType t : new LogicalType[] {LogicalType.Integer, LogicalType.Float}) {
      mapper
          .coercionConfigFor(t)
          .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
    }
    mapper
        .coercionConfigFor(LogicalType.Boolean)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
    // Times and durations are ISO-8601 strings only (a number would be read as epoch seconds).
    SimpleModule strictTime = new SimpleModule("transfer-strict-time");
    strictTime.addDeserializer(
        Instant.class, new StringOnly<>(Instant.class, InstantDeserializer.INSTANT));
    strictTime.addDeserializer(
        Duration.class, new StringOnly<>(Duration.class, DurationDeserializer.INSTANCE));
    mapper.registerModule(strictTime);
  }

  /** Accepts only a non-blank JSON string and hands it to the usual deserializer. */
  static final class StringOnly<T> extends StdDeserializer<T> {
    private final JsonDeserializer<T> delegate;

    StringOnly(Class<T> type, JsonDeserializer<T> delegate) {
      super(type);
      this.delegate = delegate;
    }

    @Override
    @SuppressWarnings("unchecked")
    public T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      if (!p.hasToken(JsonToken.VALUE_STRING)) {
        return (T) ctxt.handleUnexpectedToken(handledType(), p);
      }
      if (p.getText().isBlank()) {
        // Jackson would read "" as null, i.e. as if the field were not there.
        return (T) ctxt.handleWeirdStringValue(handledType(), p.getText(), "an empty string");
      }
      return delegate.deserialize(p, ctxt);
    }
  }
}
