package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static transfer.client.LoopbackServer.ok;
import static transfer.client.LoopbackServer.problem;

import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;

/**
 * The client's HTTP behaviour against a scripted server on loopback; no waiting: sleeps recorded.
 */
class TransferClientTest {
  private static final String TID = "7d0e4f3a-2b1c-4d5e-8f90-123456789abc";
  private static final String TASK =
      "{\"id\":\""
          + TID
          + "\",\"sessionId\":\"s1\",\"type\":\"download\",\"state\":\"queued\",\"url\":\"https://example.com/a\","
          + "\"priority\":0.5,\"attempt\":0,\"bytesTransferred\":0,\"somethingNew\":true}";
  private static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");

  private LoopbackServer server;
  private final List<Duration> sleeps = new CopyOnWriteArrayList<>();
  private TransferClient client;

  @BeforeEach
  void start() throws Exception {
    server = new LoopbackServer();
    client = client(RequestRetry.DEFAULT);
  }

  private TransferClient client(RequestRetry retry) {
    AtomicInteger keys = new AtomicInteger();
    return TransferClient.builder()
        .baseUri(server.uri())
        .apiKey("k-123")
        .retry(retry)
        .clock(Clock.fixed(NOW, ZoneOffset.UTC))
        .sleeper(sleeps::add)
        .idempotencyKeys(() -> "key-" + keys.incrementAndGet())
        .build();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void submitSendsTheKeyAndAGeneratedIdempotencyKeyAndReadsNewerFieldsLeniently() {
    server.then(ok(TASK));
    TaskView t = client.download("s1", "https://example.com/a");
    assertThat(t.id()).isEqualTo(TID);
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    LoopbackServer.Seen r = server.seen.get(0);
    assertThat(r.method()).isEqualTo("POST");
    assertThat(r.path()).isEqualTo("/v1/sessions/s1/tasks");
    assertThat(r.header("Authorization")).isEqualTo("Bearer k-123");
    assertThat(r.header("Idempotency-Key")).isEqualTo("key-1");
    assertThat(r.header("Content-Type")).isEqualTo("application/json");
    // absent fields are left out, not sent as null
    assertThat(r.body()).isEqualTo("{\"type\":\"download\",\"url\":\"https://example.com/a\"}");
  }

  @Test
  void aSubmitRetriedAfter503And429SendsTheSameIdempotencyKeyEachTime() {
    server
        .then(problem(503, "2", "{\"status\":503,\"title\":\"Service Unavailable\"}"))
        .then(problem(429, "Sat, 21 Nov 2026 12:00:07 GMT", "{\"status\":429}"))
        .then(ok(TASK));
    client.submit("s1", TaskRequest.download("https://example.com/a"));
    assertThat(server.seen).hasSize(3);
    assertThat(server.seen).extracting(s -> s.header("Idempotency-Key")).containsOnly("key-1");
    assertThat(sleeps).containsExactly(Duration.ofSeconds(2), Duration.ofSeconds(7));
  }

  @Test
  void theCallersIdempotencyKeyIsSentAsGiven() {
    server.then(ok(TASK));
    client.submit("s1", TaskRequest.download("https://example.com/a"), "order-42");
    assertThat(server.seen.get(0).header("Idempotency-Key")).isEqualTo("order-42");
    assertThatThrownBy(
            () -> client.submit("s1", TaskRequest.download("https://example.com/a"), "has space"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theAnswersStatusWinsOverTheBodysAndAHugeErrorPageIsNotKept() {
    // A proxy's JSON claiming another status: the kind follows the HTTP status.
    server.then(problem(404, null, "{\"status\":503,\"title\":\"Not Found\"}"));
    assertThatThrownBy(() -> client.session("s1"))
        .isInstanceOfSatisfying(
            NotFoundException.class, e -> assertThat(e.status()).isEqualTo(404));
    // A wrong base URL answering a 4 MiB page: the exception keeps a short excerpt.
    server.then(
        ex -> LoopbackServer.json(ex, 400, "text/html", "<p>" + "x".repeat(4 << 20) + "</p>"));
    assertThatThrownBy(() -> client.session("s1"))
        .isInstanceOfSatisfying(
            TransferApiException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.detail()).startsWith("<p>xxx").hasSizeLessThan(600);
            });
  }

  @Test
  void eachSubmitCallGetsItsOwnKey() {
    server.then(ok(TASK)).then(ok(TASK));
    client.download("s1", "https://example.com/a");
    client.download("s1", "https://example.com/a");
    assertThat(server.seen)
        .extracting(s -> s.header("Idempotency-Key"))
        .containsExactly("key-1", "key-2");
  }

  @Test
  void retriesAreBoundedAndTheLastAnswerIsThrown() {
    server.otherwise(
        problem(
            503,
            "1",
            "{\"type\":\"urn:transfer:problem:ledger-unavailable\",\"title\":\"Service"
                + " Unavailable\",\"status\":503,\"detail\":\"the ledger is unavailable\"}"));
    assertThatThrownBy(() -> client(RequestRetry.DEFAULT.withMaxAttempts(3)).session("s1"))
        .isInstanceOfSatisfying(
            UnavailableException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(TransferApiException.Kind.UNAVAILABLE);
              assertThat(e.retryAfter()).contains(Duration.ofSeconds(1));
              assertThat(e.getMessage())
                  .contains("GET /v1/sessions/s1")
                  .contains("the ledger is unavailable");
            });
    assertThat(server.seen).hasSize(3);
    assertThat(sleeps).hasSize(2);
  }

  @Test
  void aRetryAfterBeyondTheCapIsNotWaitedFor() {
    server.then(problem(429, "3600", "{\"status\":429,\"detail\":\"request-rate quota\"}"));
    assertThatThrownBy(() -> client.session("s1"))
        .isInstanceOfSatisfying(
            RateLimitedException.class,
            e -> assertThat(e.retryAfter()).contains(Duration.ofHours(1)));
    assertThat(server.seen).hasSize(1);
    assertThat(sleeps).isEmpty();
  }

  @Test
  void withoutRetryAfterTheBackoffIsJitteredAndCapped() {
    RequestRetry r =
        new RequestRetry(10, Duration.ofMillis(100), Duration.ofMillis(400), Duration.ofMinutes(1));
    for (int attempt = 1; attempt < 10; attempt++) {
      long cap = Math.min(400, 100L << (attempt - 1));
      for (int i = 0; i < 50; i++) {
        assertThat(r.backoff(attempt).toMillis()).isBetween(0L, cap);
      }
    }
  }

  @Test
  void aPostWithoutIdempotencyKeyIsNotRetried() {
    server.then(problem(503, "1", "{\"status\":503}")).then(ok("{}"));
    assertThatThrownBy(() -> client.suspend("s1", TID)).isInstanceOf(UnavailableException.class);
    assertThat(server.seen).hasSize(1);
    assertThat(server.seen.get(0).header("Idempotency-Key")).isNull();
  }

  @Test
  void aNotFoundIsTypedWithEveryProblemField() {
    server.then(
        problem(
            404,
            null,
            "{\"type\":\"urn:transfer:problem:not-found\",\"title\":\"Not Found\",\"status\":404,"
                + "\"detail\":\"task "
                + TID
                + " in session s1 does not exist\",\"instance\":\"/v1/sessions/s1/tasks/"
                + TID
                + "\"}"));
    assertThatThrownBy(() -> client.task("s1", TID))
        .isInstanceOfSatisfying(
            NotFoundException.class,
            e -> {
              assertThat(e.type()).isEqualTo("urn:transfer:problem:not-found");
              assertThat(e.problem().slug()).isEqualTo("not-found");
              assertThat(e.title()).isEqualTo("Not Found");
              assertThat(e.status()).isEqualTo(404);
              assertThat(e.detail()).contains("does not exist");
              assertThat(e.instance()).isEqualTo("/v1/sessions/s1/tasks/" + TID);
              assertThat(e.kind()).isEqualTo(TransferApiException.Kind.NOT_FOUND);
            });
    assertThat(sleeps).isEmpty();
  }

  @Test
  void aValidationProblemNamesEveryBadField() {
    server.then(
        problem(
            400,
            null,
            "{\"type\":\"urn:transfer:problem:validation-failed\",\"title\":\"Bad Request\","
                + "\"status\":400,\"detail\":\"the request has 2 invalid field(s)\",\"errors\":["
                + "{\"field\":\"url\",\"message\":\"must be http or https\"},"
                + "{\"field\":\"priority\",\"message\":\"must be between 0.0 and 1.0\"}]}"));
    assertThatThrownBy(() -> client.download("s1", "ftp://x"))
        .isInstanceOfSatisfying(
            ValidationException.class,
            e -> {
              assertThat(e.fieldErrors())
                  .extracting(Problem.FieldError::field)
                  .containsExactly("url", "priority");
              assertThat(e.getMessage())
                  .contains("POST /v1/sessions/s1/tasks answered 400")
                  .contains("url must be http or https");
            });
  }

  @Test
  void otherStatusesMapToTheirKinds() {
    server
        .then(problem(401, null, "{\"status\":401,\"title\":\"Unauthorized\"}"))
        .then(problem(409, null, "{\"status\":409,\"title\":\"Conflict\"}"))
        .then(
            problem(
                422,
                null,
                "{\"type\":\"urn:transfer:problem:idempotency-key-reused\",\"status\":422}"))
        .then(ex -> LoopbackServer.json(ex, 502, "text/html", "<html>bad gateway</html>"))
        .then(problem(500, null, "{\"status\":500}"));
    RequestRetry none = RequestRetry.NONE;
    TransferClient c = client(none);
    assertThatThrownBy(() -> c.session("a")).isInstanceOf(AuthenticationException.class);
    assertThatThrownBy(() -> c.session("a")).isInstanceOf(ConflictException.class);
    assertThatThrownBy(() -> c.session("a"))
        .isInstanceOfSatisfying(
            ValidationException.class,
            e -> assertThat(e.problem().slug()).isEqualTo("idempotency-key-reused"));
    assertThatThrownBy(() -> c.session("a"))
        .isInstanceOfSatisfying(
            UnavailableException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.detail()).contains("bad gateway");
            });
    assertThatThrownBy(() -> c.session("a"))
        .isInstanceOfSatisfying(
            TransferApiException.class,
            e -> assertThat(e.kind()).isEqualTo(TransferApiException.Kind.OTHER));
  }

  @Test
  void aRefusedConnectionIsRetriedThenReported() throws Exception {
    int port;
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    TransferClient c =
        TransferClient.builder()
            .baseUri("http://127.0.0.1:" + port)
            .apiKey("k")
            .retry(RequestRetry.DEFAULT.withMaxAttempts(2))
            .sleeper(sleeps::add)
            .build();
    assertThatThrownBy(() -> c.session("s1"))
        .isInstanceOf(TransferConnectionException.class)
        .hasMessageContaining("GET /v1/sessions/s1")
        .hasMessageContaining("after 2 attempt(s)");
    assertThat(sleeps).hasSize(1);
  }

  @Test
  void sessionIdsAndObjectNamesAreEncodedAsPathSegments() {
    assertThat(TransferClient.segment("a b/c")).isEqualTo("a%20b%2Fc");
    assertThat(TransferClient.segment("report-2026.csv")).isEqualTo("report-2026.csv");
    assertThat(TransferClient.query("limit", 10, "after", null, "state", "queued,running"))
        .isEqualTo("?limit=10&state=queued%2Crunning");
  }

  @Test
  void listingFollowsNextUntilTheLastPage() {
    server
        .then(ok("{\"tasks\":[" + TASK + "],\"next\":\"" + TID + "\"}"))
        .then(ok("{\"tasks\":[" + TASK + "],\"next\":null}"));
    assertThat(client.allTasks("s1", TaskState.QUEUED, TaskState.RUNNING).count()).isEqualTo(2);
    assertThat(server.seen.get(0).path())
        .isEqualTo("/v1/sessions/s1/tasks?limit=100&state=queued%2Crunning");
    assertThat(server.seen.get(1).path())
        .isEqualTo("/v1/sessions/s1/tasks?limit=100&after=" + TID + "&state=queued%2Crunning");
  }

  @Test
  void anObjectStreamsFromAFileWithItsChecksumAndIsRetriedFromTheFile(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("big.bin");
    byte[] chunk = new byte[1 << 20];
    new Random(1).nextBytes(chunk);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    try (OutputStream out = Files.newOutputStream(file)) {
      for (int i = 0; i < 8; i++) {
        out.write(chunk);
        sha.update(chunk);
      }
    }
    String hex = HexFormat.of().formatHex(sha.digest());
    server
        .then(problem(503, "0", "{\"status\":503}"))
        .then(
            ok(
                "{\"name\":\"big.bin\",\"sessionId\":\"s1\",\"size\":8388608,\"sha256\":\""
                    + hex
                    + "\"}"));
    List<Long> progress = new CopyOnWriteArrayList<>();
    var view = client.putObject("s1", "big.bin", file, (done, total) -> progress.add(done));
    assertThat(view.size()).isEqualTo(8L << 20);
    assertThat(server.seen).hasSize(2);
    for (LoopbackServer.Seen s : server.seen) {
      assertThat(s.method()).isEqualTo("PUT");
      assertThat(s.path()).isEqualTo("/v1/sessions/s1/objects/big.bin");
      assertThat(s.bodyBytes()).isEqualTo(8L << 20);
      assertThat(s.bodySha256()).isEqualTo(hex);
      assertThat(s.header("X-Checksum-SHA256")).isEqualTo(hex);
      assertThat(s.header("Content-Length")).isEqualTo(String.valueOf(8L << 20));
    }
    assertThat(progress).isNotEmpty();
    assertThat(progress.get(progress.size() - 1)).isEqualTo(8L << 20);
  }

  @Test
  void anObjectFromAStreamIsNotRetried() {
    server.then(problem(503, "0", "{\"status\":503}"));
    assertThatThrownBy(
            () ->
                client.putObject(
                    "s1", "x", new ByteArrayInputStream(new byte[] {1, 2, 3}), 3, null))
        .isInstanceOf(UnavailableException.class);
    assertThat(server.seen).hasSize(1);
    assertThat(server.seen.get(0).bodyBytes()).isEqualTo(3);
  }

  @Test
  void contentIsStreamedToTheFileAndVerifiedAgainstTheETag(@TempDir Path dir) throws Exception {
    byte[] body = new byte[300_000];
    new Random(2).nextBytes(body);
    String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
    server
        .then(bytes(body, hex))
        .then(bytes(body, "0".repeat(64)))
        .then(problem(409, null, "{\"status\":409,\"detail\":\"task is running\"}"));
    Path target = dir.resolve("sub/out.bin");
    Content c = client.downloadContent("s1", TID, target);
    assertThat(c.size()).isEqualTo(body.length);
    assertThat(c.sha256()).isEqualTo(hex);
    assertThat(Files.readAllBytes(target)).isEqualTo(body);

    Path other = dir.resolve("other.bin");
    assertThatThrownBy(() -> client.downloadContent("s1", TID, other))
        .isInstanceOf(TransferException.class)
        .hasMessageContaining("SHA-256");
    assertThat(other).doesNotExist();
    assertThatThrownBy(() -> client.downloadContent("s1", TID, other))
        .isInstanceOf(ConflictException.class);
    assertThat(other).doesNotExist();
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsOnly("sub");
    }
  }

  private static LoopbackServer.Answer bytes(byte[] body, String etag) {
    return ex -> {
      ex.getResponseHeaders().add("Content-Type", "application/octet-stream");
      ex.getResponseHeaders().add("ETag", "\"" + etag + "\"");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    };
  }

  @Test
  void theBuilderRefusesAMissingBaseUriOrKey() {
    assertThatThrownBy(() -> TransferClient.builder().apiKey("k").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("baseUri");
    assertThatThrownBy(() -> TransferClient.builder().baseUri("http://127.0.0.1:1").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("apiKey");
  }
}
