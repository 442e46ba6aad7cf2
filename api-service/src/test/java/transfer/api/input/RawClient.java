package transfer.api.input;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import transfer.api.InfraResource;

/**
 * An HTTP client that sends exactly what a test says: the raw (already percent-encoded) path, any
 * method, any body bytes and headers. RestAssured would encode paths and pick content types itself,
 * which hides the cases these tests are about.
 */
final class RawClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String base;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10))
          .build();

  RawClient(URI base) {
    String b = base.toString();
    this.base = b.endsWith("/") ? b.substring(0, b.length() - 1) : b;
  }

  /** An answer: status, content type, raw body and, when it is JSON, the parsed body. */
  record Answer(int status, String contentType, String text, JsonNode json) {
    boolean isProblem() {
      return contentType.startsWith("application/problem+json") && json != null;
    }

    /** The {@code field} of every entry of a problem's {@code errors}. */
    java.util.List<String> fields() {
      java.util.List<String> fields = new java.util.ArrayList<>();
      if (json != null) {
        json.path("errors").forEach(e -> fields.add(e.path("field").asText()));
      }
      return fields;
    }

    @Override
    public String toString() {
      String shown = text.length() > 600 ? text.substring(0, 600) + "…" : text;
      return status + " " + contentType + " " + shown;
    }
  }

  /** A request with the tenant's API key and no other header but those given. */
  Answer send(String method, String rawPath, Map<String, String> headers, byte[] body)
      throws IOException, InterruptedException {
    Map<String, String> all = new LinkedHashMap<>();
    all.put("Authorization", "Bearer " + InfraResource.KEY);
    all.putAll(headers);
    return sendExactly(method, rawPath, all, body);
  }

  Answer json(String method, String rawPath, String body) throws IOException, InterruptedException {
    return send(
        method,
        rawPath,
        Map.of("Content-Type", "application/json"),
        body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  /** A JSON body sent chunked: no Content-Length, so its size is known only while reading. */
  Answer sendChunked(String method, String rawPath, byte[] body)
      throws IOException, InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + rawPath))
            .timeout(Duration.ofSeconds(60))
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .header("Content-Type", "application/json")
            .method(
                method,
                HttpRequest.BodyPublishers.ofInputStream(
                    () -> new java.io.ByteArrayInputStream(body)))
            .build();
    return answer(http.send(request, HttpResponse.BodyHandlers.ofByteArray()));
  }

  /** Exactly these headers (no API key unless among them). */
  Answer sendExactly(String method, String rawPath, Map<String, String> headers, byte[] body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + rawPath)).timeout(Duration.ofSeconds(60));
    headers.forEach(b::header);
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofByteArray(body));
    return answer(http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray()));
  }

  private static Answer answer(HttpResponse<byte[]> r) {
    String ct = r.headers().firstValue("Content-Type").orElse("");
    String text = new String(r.body(), StandardCharsets.UTF_8);
    JsonNode json = null;
    if (ct.contains("json") && !text.isEmpty()) {
      try {
        json = JSON.readTree(text);
      } catch (IOException notJson) {
        // left null: a JSON content type with a body that is not JSON fails the caller's checks
      }
    }
    return new Answer(r.statusCode(), ct, text, json);
  }
}
