package transfer.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The cluster tests' client of the REST API, with one tenant's key, over loopback. */
public final class ApiClient {
  private final int port;
  private final String key;
  // HTTP/1.1 with keep-alive, as most services call the API. The JDK client's default, HTTP/2 by
  // cleartext upgrade, once failed mid-soak with a framing error on a 1.7 MB replay page
  // ("Frame type(58) … exceeds MAX_FRAME_SIZE") that could not be reproduced in isolation.
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final ObjectMapper json = new ObjectMapper();

  public ApiClient(int port, String key) {
    this.port = port;
    this.key = key;
  }

  /** An answer: status, content type, the JSON body (a text node if not JSON) and headers. */
  public record Answer(
      int status, String contentType, JsonNode body, Map<String, List<String>> headers) {
    public String header(String name) {
      return headers.entrySet().stream()
          .filter(e -> e.getKey().equalsIgnoreCase(name))
          .flatMap(e -> e.getValue().stream())
          .findFirst()
          .orElse(null);
    }
  }

  /** Status, size and SHA-256 of a task's content as the API streams it. */
  public record Content(int status, long size, String sha256) {}

  public Answer call(String method, String path, String jsonBody) throws Exception {
    return call(method, path, jsonBody, Map.of());
  }

  public Answer call(String method, String path, String jsonBody, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + key)
            .timeout(Duration.ofSeconds(30));
    headers.forEach(b::header);
    if (jsonBody != null) {
      b.header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofString(jsonBody));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    String ct = r.headers().firstValue("Content-Type").orElse("");
    JsonNode body = null;
    if (!r.body().isEmpty()) {
      try {
        body = json.readTree(r.body());
      } catch (IOException notJson) {
        body = json.getNodeFactory().textNode(r.body());
      }
    }
    return new Answer(r.statusCode(), ct, body, r.headers().map());
  }

  /** Streams a task's content and hashes it on the way; never buffers the body. */
  public Content content(String sid, String tid) throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:"
                        + port
                        + "/v1/sessions/"
                        + sid
                        + "/tasks/"
                        + tid
                        + "/content"))
            .header("Authorization", "Bearer " + key)
            .build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    long size = 0;
    try (InputStream in = r.body()) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
        size += n;
      }
    }
    return new Content(r.statusCode(), size, HexFormat.of().formatHex(md.digest()));
  }

  /** The session's stored events, oldest first, from the API's replay (not from Kafka). */
  public List<JsonNode> replay(String sid) throws Exception {
    List<JsonNode> all = new ArrayList<>();
    long after = 0;
    while (true) {
      Answer page =
          call("GET", "/v1/sessions/" + sid + "/events?after=" + after + "&limit=1000", null);
      if (page.status() != 200) {
        throw new AssertionError("GET events of session " + sid + ": " + page.body());
      }
      JsonNode events = page.body().get("events");
      if (events.isEmpty()) {
        return all;
      }
      for (JsonNode e : events) {
        all.add(e);
        after = Math.max(after, e.get("sequence").asLong());
      }
    }
  }

  /** Polls the task until it is completed, failed or canceled; answers it as last seen. */
  public JsonNode awaitFinal(String sid, String tid, Duration timeout) {
    JsonNode[] last = new JsonNode[1];
    org.awaitility.Awaitility.await("task " + tid + " final")
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () -> {
              Answer a = call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null);
              if (a.status() != 200) {
                throw new AssertionError("GET task " + tid + ": " + a.body());
              }
              last[0] = a.body();
              return Set.of("completed", "failed", "canceled")
                  .contains(last[0].path("state").asText());
            });
    return last[0];
  }

  /** A port free on loopback right now. */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
