package transfer.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * The JDK's HTTP server on 127.0.0.1 with scripted answers, recording every request: enough to test
 * the client's HTTP behaviour without the cluster.
 */
final class LoopbackServer implements AutoCloseable {

  /** One request as it arrived: method, path with query, headers, body size and SHA-256. */
  record Seen(
      String method,
      String path,
      Map<String, List<String>> headers,
      long bodyBytes,
      String bodySha256,
      String body) {
    String header(String name) {
      return headers.entrySet().stream()
          .filter(e -> e.getKey().equalsIgnoreCase(name))
          .flatMap(e -> e.getValue().stream())
          .findFirst()
          .orElse(null);
    }
  }

  /** A scripted answer; {@code body} may be a handler that writes it itself. */
  interface Answer {
    void answer(HttpExchange ex) throws IOException;
  }

  final HttpServer server;
  final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final Deque<Answer> script = new ArrayDeque<>();
  private Answer fallback = ex -> json(ex, 500, "application/json", "{}");

  LoopbackServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext(
        "/",
        ex -> {
          try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long n = 0;
            StringBuilder text = new StringBuilder();
            try (InputStream in = ex.getRequestBody()) {
              byte[] buf = new byte[8192];
              for (int k; (k = in.read(buf)) >= 0; ) {
                sha.update(buf, 0, k);
                if (text.length() < 10_000) {
                  text.append(new String(buf, 0, k, StandardCharsets.UTF_8));
                }
                n += k;
              }
            }
            seen.add(
                new Seen(
                    ex.getRequestMethod(),
                    ex.getRequestURI().toString(),
                    Map.copyOf(ex.getRequestHeaders()),
                    n,
                    HexFormat.of().formatHex(sha.digest()),
                    text.toString()));
            Answer a;
            synchronized (this) {
              a = script.isEmpty() ? fallback : script.poll();
            }
            a.answer(ex);
          } catch (Exception e) {
            ex.sendResponseHeaders(599, -1);
          } finally {
            ex.close();
          }
        });
    server.start();
  }

  String uri() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  synchronized LoopbackServer then(Answer a) {
    script.add(a);
    return this;
  }

  synchronized LoopbackServer otherwise(Answer a) {
    fallback = a;
    return this;
  }

  static Answer ok(String json) {
    return ex -> json(ex, 200, "application/json", json);
  }

  static Answer status(int status, String json) {
    return ex -> json(ex, status, "application/json", json);
  }

  static Answer problem(int status, String retryAfter, String json) {
    return ex -> {
      if (retryAfter != null) {
        ex.getResponseHeaders().add("Retry-After", retryAfter);
      }
      json(ex, status, "application/problem+json", json);
    };
  }

  static void json(HttpExchange ex, int status, String type, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", type);
    ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
    if (b.length > 0) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(b);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
