package transfer.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;
import transfer.contracts.Json;

/** The REST layer speaks the same JSON as the rest of the cluster (strict, ISO-8601 times). */
@Singleton
public class JsonCustomizer implements ObjectMapperCustomizer {
  @Override
  public void customize(ObjectMapper mapper) {
    Json.configure(mapper);
  }
}
