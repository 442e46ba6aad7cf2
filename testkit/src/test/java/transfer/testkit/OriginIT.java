package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OriginIT {
  private static Origin origin;
  private static HttpClient http;

  @BeforeAll
  static void start() {
    origin = Origin.start();
    http =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NORMAL)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  @AfterAll
  static void stop() {
    origin.close();
  }

  @BeforeEach
  void clear() {
    origin.clearRequests();
  }

  @Test
  void fullBodyMatchesShaAndHeaders() throws Exception {
    long size = 3 * 1024 * 1024 + 12345;
    HttpResponse<InputStream> r = get("/bytes/" + size + "?seed=7");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Length")).hasValue(String.valueOf(size));
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
    assertThat(r.headers().firstValue("ETag")).hasValue("\"7-" + size + "-v1\"");
    assertThat(r.headers().firstValue("Accept-Ranges")).hasValue("bytes");
    assertThat(r.headers().firstValue("Last-Modified")).isPresent();
    assertThat(sha256(r.body())).isEqualTo(Origin.sha256Hex(size, 7));
  }

  @Test
  void contentDependsOnSeedAndVersionButNotOnSize() throws Exception {
    byte[] small = getBytes("/bytes/1000?seed=3").body();
    byte[] large = getBytes("/bytes/100000?seed=3").body();
    byte[] otherSeed = getBytes("/bytes/1000?seed=4").body();
    HttpResponse<byte[]> v2 = getBytes("/bytes/1000?seed=3&v=2");

    assertThat(Arrays.copyOf(large, 1000)).isEqualTo(small);
    assertThat(otherSeed).isNotEqualTo(small);
    assertThat(v2.body()).isNotEqualTo(small).isEqualTo(Origin.bytes(0, 1000, 3, 2));
    assertThat(v2.headers().firstValue("ETag")).hasValue("\"3-1000-v2\"");
    assertThat(Origin.sha256Hex(1000, 3, 2)).isNotEqualTo(Origin.sha256Hex(1000, 3));
  }

  @Test
  void headAnnouncesWithoutBody() throws Exception {
    HttpResponse<byte[]> r =
        http.send(
            HttpRequest.newBuilder(URI.create(origin.url("/bytes/5000?seed=1")))
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Length")).hasValue("5000");
    assertThat(r.body()).isEmpty();
  }

  @Test
  void rangeGives206WithContentRange() throws Exception {
    String path = "/bytes/200000?seed=9";
    HttpResponse<byte[]> closed = getBytes(path, "Range", "bytes=70000-70999");
    HttpResponse<byte[]> open = getBytes(path, "Range", "bytes=199990-");
    HttpResponse<byte[]> suffix = getBytes(path, "Range", "bytes=-10");

    assertThat(closed.statusCode()).isEqualTo(206);
    assertThat(closed.headers().firstValue("Content-Range")).hasValue("bytes 70000-70999/200000");
    assertThat(closed.body()).isEqualTo(Origin.bytes(70000, 1000, 9, 1));
    assertThat(open.statusCode()).isEqualTo(206);
    assertThat(open.headers().firstValue("Content-Range")).hasValue("bytes 199990-199999/200000");
    assertThat(open.body()).isEqualTo(Origin.bytes(199990, 10, 9, 1));
    assertThat(suffix.body()).isEqualTo(open.body());

    assertThat(origin.requests())
        .extracting(Origin.RequestRecord::range)
        .containsExactly("bytes=70000-70999", "bytes=199990-", "bytes=-10");
    assertThat(origin.requests())
        .allSatisfy(
            rec -> {
              assertThat(rec.status()).isEqualTo(206);
              assertThat(rec.path()).isEqualTo("/bytes/200000");
              assertThat(rec.query()).isEqualTo("seed=9");
              assertThat(rec.method()).isEqualTo("GET");
            });
    assertThat(origin.requests().get(0).bytesSent()).isEqualTo(1000);
  }

  @Test
  void unsatisfiableRangeGives416() throws Exception {
    HttpResponse<byte[]> r = getBytes("/bytes/100?seed=1", "Range", "bytes=100-");

    assertThat(r.statusCode()).isEqualTo(416);
    assertThat(r.headers().firstValue("Content-Range")).hasValue("bytes */100");
  }

  @Test
  void ifRangeMismatchGivesFullBody() throws Exception {
    String path = "/bytes/50000?seed=5";
    HttpResponse<byte[]> stale =
        getBytes(path, "Range", "bytes=100-", "If-Range", "\"5-50000-v0\"");
    HttpResponse<byte[]> fresh =
        getBytes(path, "Range", "bytes=100-", "If-Range", Origin.etag(50000, 5, 1));

    assertThat(stale.statusCode()).isEqualTo(200);
    assertThat(stale.body()).hasSize(50000);
    assertThat(fresh.statusCode()).isEqualTo(206);
    assertThat(fresh.body()).hasSize(49900);
    assertThat(origin.requests().get(0).ifRange()).isEqualTo("\"5-50000-v0\"");
  }

  @Test
  void ignoreRangeAlwaysAnswersFull() throws Exception {
    HttpResponse<byte[]> r = getBytes("/bytes/4096?seed=2&ignoreRange=true", "Range", "bytes=10-");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(Origin.bytes(0, 4096, 2, 1));
  }

  @Test
  void scriptedStatus() throws Exception {
    HttpResponse<byte[]> notFound = getBytes("/bytes/1000?seed=1&status=404");
    HttpResponse<byte[]> busy = getBytes("/bytes/1000?seed=1&status=503&retryAfter=7");

    assertThat(notFound.statusCode()).isEqualTo(404);
    assertThat(new String(notFound.body(), StandardCharsets.UTF_8)).contains("404");
    assertThat(busy.statusCode()).isEqualTo(503);
    assertThat(busy.headers().firstValue("Retry-After")).hasValue("7");
    assertThat(origin.requests())
        .extracting(Origin.RequestRecord::status)
        .containsExactly(404, 503);
  }

  @Test
  void cutAfterEndsTheConnectionEarly() throws Exception {
    HttpResponse<InputStream> r = get("/bytes/1000000?seed=1&cutAfter=300000");
    assertThat(r.headers().firstValue("Content-Length")).hasValue("1000000");

    byte[] buffer = new byte[8192];
    long[] read = {0};
    try (InputStream in = r.body()) {
      assertThatThrownBy(
              () -> {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                  read[0] += n;
                }
              })
          .isInstanceOf(IOException.class);
    }
    // The origin resets the connection: bytes still in flight may be lost, never more arrive.
    assertThat(read[0]).isBetween(1L, 300000L);
    awaitBytesSent(0, 300000);
  }

  @Test
  void lieLengthAnnouncesMoreThanItSends() throws Exception {
    HttpResponse<InputStream> r = get("/bytes/1000?seed=1&lieLength=5000");
    assertThat(r.headers().firstValue("Content-Length")).hasValue("5000");

    try (InputStream in = r.body()) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(IOException.class);
    }
  }

  @Test
  void stallAfterKeepsTheConnectionSilent() throws Exception {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", origin.port()), 5000);
      socket.setSoTimeout(500);
      OutputStream out = socket.getOutputStream();
      out.write(
          "GET /bytes/100000?seed=1&stallAfter=5000 HTTP/1.1\r\nHost: x\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[4096];
      long total = 0;
      boolean stalled = false;
      while (!stalled) {
        try {
          int n = in.read(buffer);
          assertThat(n).as("connection must stay open").isPositive();
          total += n;
        } catch (SocketTimeoutException e) {
          stalled = true;
        }
      }
      assertThat(total).isGreaterThan(5000).isLessThan(5000 + 1024); // headers + 5000 bytes
    }
  }

  @Test
  void rateThrottles() throws Exception {
    long t0 = System.nanoTime();
    byte[] body = getBytes("/bytes/200000?seed=1&rate=1000000").body();
    long millis = (System.nanoTime() - t0) / 1_000_000;

    assertThat(body).isEqualTo(Origin.bytes(0, 200000, 1, 1));
    assertThat(millis).isGreaterThanOrEqualTo(150);
  }

  @Test
  void chunkedHasNoContentLength() throws Exception {
    HttpResponse<InputStream> r = get("/bytes/300000?seed=8&chunked=true");

    assertThat(r.headers().firstValue("Content-Length")).isEmpty();
    assertThat(r.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
    assertThat(sha256(r.body())).isEqualTo(Origin.sha256Hex(300000, 8));
  }

  @Test
  void redirectLeadsToTarget() throws Exception {
    String target = origin.url("/bytes/1234?seed=6");
    HttpResponse<byte[]> r =
        getBytes("/elsewhere?redirect=" + URLEncoder.encode(target, StandardCharsets.UTF_8));

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(Origin.bytes(0, 1234, 6, 1));
    assertThat(origin.requests())
        .extracting(Origin.RequestRecord::status, Origin.RequestRecord::path)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(302, "/elsewhere"),
            org.assertj.core.groups.Tuple.tuple(200, "/bytes/1234"));
  }

  @Test
  void comesBackOnTheSamePort() throws Exception {
    int port;
    try (Origin first = Origin.start()) {
      port = first.port();
    }
    try (Origin again = Origin.start(port)) {
      HttpResponse<byte[]> r =
          http.send(
              HttpRequest.newBuilder(URI.create(again.url("/bytes/10?seed=1"))).build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(again.port()).isEqualTo(port);
      assertThat(r.body()).isEqualTo(Origin.bytes(0, 10, 1, 1));
    }
  }

  @Test
  void unknownPathIs404() throws Exception {
    assertThat(getBytes("/nothing").statusCode()).isEqualTo(404);
  }

  @Test
  void writeToMatchesSha(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("f.bin");
    Origin.writeTo(file, 1_000_003, 11);

    assertThat(Files.size(file)).isEqualTo(1_000_003);
    try (InputStream in = Files.newInputStream(file)) {
      assertThat(sha256(in)).isEqualTo(Origin.sha256Hex(1_000_003, 11));
    }
  }

  @Test
  void largeBodyStreamsFast() throws Exception {
    long size = 256L * 1024 * 1024;
    long t0 = System.nanoTime();
    HttpResponse<InputStream> r = get("/bytes/" + size + "?seed=42");
    long total = 0;
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = r.body()) {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        total += n;
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf(
        "origin: %d MiB in %.2f s = %.0f MiB/s%n", size >> 20, seconds, size / seconds / (1 << 20));
    assertThat(total).isEqualTo(size);
  }

  private void awaitBytesSent(int index, long expected) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (origin.requests().get(index).bytesSent() != expected && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(origin.requests().get(index).bytesSent()).isEqualTo(expected);
  }

  private static HttpResponse<InputStream> get(String pathAndQuery, String... headers)
      throws Exception {
    return http.send(request(pathAndQuery, headers), HttpResponse.BodyHandlers.ofInputStream());
  }

  private static HttpResponse<byte[]> getBytes(String pathAndQuery, String... headers)
      throws Exception {
    return http.send(request(pathAndQuery, headers), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static HttpRequest request(String pathAndQuery, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(origin.url(pathAndQuery)))
            .timeout(Duration.ofSeconds(30));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return b.GET().build();
  }

  private static String sha256(InputStream in) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    byte[] buffer = new byte[1 << 16];
    try (in) {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
