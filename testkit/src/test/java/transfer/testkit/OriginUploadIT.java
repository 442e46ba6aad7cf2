package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The origin as an upload target: what arrived, and the faults it scripts for uploads. */
class OriginUploadIT {
  private static Origin origin;
  private static HttpClient http;

  @TempDir static Path dir;

  @BeforeAll
  static void start() {
    origin = Origin.start();
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stop() {
    origin.close();
  }

  @Test
  void putAndPostBodiesAreRecordedWithTheirSizeAndDigest() throws Exception {
    long size = 5L * 1024 * 1024 + 17;
    Path file = dir.resolve("put.bin");
    Origin.writeTo(file, size, 21);
    String path = "/up/" + UUID.randomUUID();

    HttpResponse<String> put = send("PUT", path, file, Duration.ofSeconds(30));
    HttpResponse<String> post = send("POST", path, file, Duration.ofSeconds(30));

    String sha = Origin.sha256Hex(size, 21);
    for (HttpResponse<String> r : List.of(put, post)) {
      assertThat(r.statusCode()).isEqualTo(201);
      assertThat(r.headers().firstValue("X-Received-Bytes")).hasValue(String.valueOf(size));
      assertThat(r.headers().firstValue("X-Received-SHA256")).hasValue(sha);
    }
    List<Origin.RequestRecord> seen = requestsTo(path);
    assertThat(seen).extracting(Origin.RequestRecord::method).containsExactly("PUT", "POST");
    assertThat(seen)
        .allSatisfy(
            r -> {
              assertThat(r.status()).isEqualTo(201);
              assertThat(r.bytesReceived()).isEqualTo(size);
              assertThat(r.receivedSha256()).isEqualTo(sha);
            });
  }

  @Test
  void aScriptedStatusComesAfterTheWholeBodyAndFaultTimesLetsLaterRequestsThrough()
      throws Exception {
    long size = 300_000;
    Path file = dir.resolve("status.bin");
    Origin.writeTo(file, size, 22);
    String path = "/up/" + UUID.randomUUID() + "?status=503&retryAfter=2&faultTimes=2";

    List<HttpResponse<String>> answers =
        List.of(
            send("POST", path, file, Duration.ofSeconds(30)),
            send("POST", path, file, Duration.ofSeconds(30)),
            send("POST", path, file, Duration.ofSeconds(30)));

    assertThat(answers).extracting(HttpResponse::statusCode).containsExactly(503, 503, 201);
    assertThat(answers.get(0).headers().firstValue("Retry-After")).hasValue("2");
    assertThat(answers.get(2).headers().firstValue("Retry-After")).isEmpty();
    assertThat(requestsTo(path))
        .allSatisfy(
            r -> {
              assertThat(r.bytesReceived()).isEqualTo(size);
              assertThat(r.receivedSha256()).isEqualTo(Origin.sha256Hex(size, 22));
            });
  }

  @Test
  void cutAfterClosesTheConnectionOnceThatManyBytesArrived() throws Exception {
    long size = 4L * 1024 * 1024;
    int cut = 100_000;
    Path file = dir.resolve("cut.bin");
    Origin.writeTo(file, size, 23);
    String path = "/up/" + UUID.randomUUID() + "?cutAfter=" + cut;

    assertThatThrownBy(() -> send("PUT", path, file, Duration.ofSeconds(30)))
        .isInstanceOf(IOException.class);

    Origin.RequestRecord r = awaitRequest(path, rec -> rec.receivedSha256() != null);
    assertThat(r.status()).isZero();
    assertThat(r.bytesReceived()).isEqualTo(cut);
    assertThat(r.receivedSha256()).isEqualTo(sha256(Origin.bytes(0, cut, 23, 1)));
  }

  @Test
  void stallAfterStopsReadingSoTheClientCannotFinish() throws Exception {
    long size = 64L * 1024 * 1024; // well beyond what the socket buffers hold
    int stall = 200_000;
    Path file = dir.resolve("stall.bin");
    Origin.writeTo(file, size, 24);
    String path = "/up/" + UUID.randomUUID() + "?stallAfter=" + stall;

    assertThatThrownBy(() -> send("PUT", path, file, Duration.ofSeconds(2)))
        .isInstanceOf(HttpTimeoutException.class);

    Origin.RequestRecord r = awaitRequest(path, rec -> rec.bytesReceived() == stall);
    assertThat(r.status()).isZero();
  }

  @Test
  void rateReadsTheBodyNoFasterThanAsked() throws Exception {
    long size = 1024 * 1024;
    Path file = dir.resolve("rate.bin");
    Origin.writeTo(file, size, 25);
    String path = "/up/" + UUID.randomUUID() + "?rate=" + 2 * 1024 * 1024;

    long t0 = System.nanoTime();
    HttpResponse<String> r = send("PUT", path, file, Duration.ofSeconds(30));
    Duration took = Duration.ofNanos(System.nanoTime() - t0);

    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(took).isGreaterThan(Duration.ofMillis(400));
    assertThat(requestsTo(path).get(0).receivedSha256()).isEqualTo(Origin.sha256Hex(size, 25));
  }

  @Test
  void faultTimesAppliesToDownloadsToo() throws Exception {
    String path = "/bytes/1000?seed=5&status=500&faultTimes=1&n=" + UUID.randomUUID();
    HttpRequest get = HttpRequest.newBuilder(URI.create(origin.url(path))).GET().build();

    int first = http.send(get, HttpResponse.BodyHandlers.discarding()).statusCode();
    HttpResponse<byte[]> second = http.send(get, HttpResponse.BodyHandlers.ofByteArray());

    assertThat(first).isEqualTo(500);
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(second.body()).isEqualTo(Origin.bytes(0, 1000, 5, 1));
  }

  // ------------------------------------------------------------------ helpers

  private static HttpResponse<String> send(String method, String path, Path body, Duration timeout)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(origin.url(path)))
            .timeout(timeout)
            .method(method, HttpRequest.BodyPublishers.ofFile(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static List<Origin.RequestRecord> requestsTo(String pathAndQuery) {
    URI uri = URI.create(pathAndQuery);
    return origin.requests().stream()
        .filter(r -> r.path().equals(uri.getPath()))
        .filter(r -> uri.getQuery() == null || uri.getQuery().equals(r.query()))
        .toList();
  }

  /** The only request to this URL once it satisfies {@code until} (within 10 s). */
  private static Origin.RequestRecord awaitRequest(
      String pathAndQuery, Predicate<Origin.RequestRecord> until) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<Origin.RequestRecord> seen = requestsTo(pathAndQuery);
    while ((seen.size() != 1 || !until.test(seen.get(0))) && System.nanoTime() < deadline) {
      Thread.sleep(10); // no Awaitility in this module
      seen = requestsTo(pathAndQuery);
    }
    assertThat(seen).hasSize(1);
    assertThat(seen.get(0)).matches(until);
    return seen.get(0);
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
