package transfer.api.object;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.api.RawSocket;
import transfer.api.TestSessions;
import transfer.ledger.Ledger;

/** Staged objects on a real PostgreSQL and filesystem, through the HTTP port. */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class ObjectIT {
  private static final String TENANT = "default"; // the bootstrap key's tenant
  private static final long MIB = 1024 * 1024;

  @Inject Ledger ledger;
  @Inject ApiConfig config;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final ObjectMapper json = new ObjectMapper();

  // ------------------------------------------------------------------ fixtures

  private static RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  private static String newSession() {
    return TestSessions.create(InfraResource.KEY, "o");
  }

  private static URI objectUri(String sid, String name) {
    return URI.create(
        "http://localhost:" + RestAssured.port + "/v1/sessions/" + sid + "/objects/" + name);
  }

  private Path root() {
    return config.storage().root().toAbsolutePath().normalize();
  }

  private Path objectsDir(String tenant, String sid) {
    return root().resolve(tenant).resolve(sid).resolve("objects");
  }

  private static List<Path> filesIn(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isRegularFile).toList();
    }
  }

  private List<Path> partFiles() throws IOException {
    return filesIn(root().resolve(".partial")).stream()
        .filter(p -> p.getFileName().toString().startsWith("obj-"))
        .toList();
  }

  private static String sha256(byte[] b) {
    return HexFormat.of().formatHex(digest().digest(b));
  }

  private static MessageDigest digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private HttpResponse<String> put(String sid, String name, byte[] body, String... headers)
      throws Exception {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(objectUri(sid, name))
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .PUT(BodyPublishers.ofByteArray(body));
    if (headers.length > 0) {
      req.headers(headers);
    }
    return http.send(req.build(), BodyHandlers.ofString());
  }

  /** Reads an object back as a stream: its size and SHA-256, never the whole body at once. */
  private record ReadBack(int status, long size, String sha256, HttpResponse<InputStream> resp) {}

  private ReadBack get(String sid, String name, String key) throws Exception {
    HttpResponse<InputStream> resp =
        http.send(
            HttpRequest.newBuilder(objectUri(sid, name))
                .header("Authorization", "Bearer " + key)
                .GET()
                .build(),
            BodyHandlers.ofInputStream());
    MessageDigest d = digest();
    long size = 0;
    try (InputStream in = resp.body()) {
      byte[] buf = new byte[64 * 1024];
      int n;
      while ((n = in.read(buf)) >= 0) {
        d.update(buf, 0, n);
        size += n;
      }
    }
    return new ReadBack(resp.statusCode(), size, HexFormat.of().formatHex(d.digest()), resp);
  }

  private static long liveHeapBytes() {
    // Two full collections: what remains is what something still holds.
    System.gc();
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * A body that exists only as it is read: SplitMix64 bytes, hashed as they are handed out. It
   * stops handing out bytes at {@code pauseAt} until {@link #release()}, so a test can look at the
   * server while it is in the middle of the body.
   */
  private static final class Generated extends InputStream {
    private final long size;
    private final long pauseAt;
    private final CountDownLatch gate = new CountDownLatch(1);
    private final MessageDigest sha = digest();
    private volatile long produced;
    private long state = 42;
    private String hex;

    Generated(long size, long pauseAt) {
      this.size = size;
      this.pauseAt = pauseAt;
    }

    @Override
    public int read() {
      throw new UnsupportedOperationException("read in blocks");
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (produced >= size) {
        return -1;
      }
      if (produced == pauseAt) {
        try {
          if (!gate.await(60, TimeUnit.SECONDS)) {
            throw new IOException("the test never released the body");
          }
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
      }
      long limit = produced < pauseAt ? pauseAt : size;
      int n = (int) Math.min(len & ~7, limit - produced);
      for (int i = 0; i < n; i += 8) {
        state += 0x9E3779B97F4A7C15L;
        long z = state;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        for (int k = 0; k < 8 && i + k < n; k++) {
          b[off + i + k] = (byte) (z >>> (8 * k));
        }
      }
      sha.update(b, off, n);
      produced += n;
      return n;
    }

    boolean paused() {
      return produced == pauseAt;
    }

    void release() {
      gate.countDown();
    }

    /** The digest of everything read, once all of it was read. */
    synchronized String sha256Hex() {
      if (hex == null) {
        hex = HexFormat.of().formatHex(sha.digest());
      }
      return hex;
    }
  }

  // ------------------------------------------------------------------ tests

  @Test
  void aLargeBodyIsStreamedToDiskAsItArrivesAndReadBackWhole() throws Exception {
    String sid = newSession();
    long size = 300 * MIB;
    long pauseAt = 200 * MIB;
    Generated body = new Generated(size, pauseAt);
    long before = liveHeapBytes();

    // Chunked (no Content-Length): what a client piping a stream of unknown size sends.
    CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(
            HttpRequest.newBuilder(objectUri(sid, "big.bin"))
                .header("Authorization", "Bearer " + InfraResource.KEY)
                .header("Content-Type", "application/octet-stream")
                .PUT(BodyPublishers.ofInputStream(() -> body))
                .build(),
            BodyHandlers.ofString());

    // Mid-body: the bytes sent so far are already in the temporary file (less what is still in
    // socket buffers), and the heap does not hold them.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                body.paused()
                    && partFiles().stream()
                        .anyMatch(p -> p.toFile().length() >= pauseAt - 32 * MIB));
    long during = liveHeapBytes();
    assertThat(during - before)
        .as("live heap growth with %d MiB of the body received", pauseAt / MIB)
        .isLessThan(64 * MIB);
    body.release();

    HttpResponse<String> put = answer.get(120, TimeUnit.SECONDS);
    assertThat(put.statusCode()).as(put.body()).isEqualTo(201);
    JsonNode view = json.readTree(put.body());
    String sha = body.sha256Hex();
    assertThat(view.get("name").asText()).isEqualTo("big.bin");
    assertThat(view.get("sessionId").asText()).isEqualTo(sid);
    assertThat(view.get("size").asLong()).isEqualTo(size);
    assertThat(view.get("sha256").asText()).isEqualTo(sha);
    assertThat(put.headers().firstValue("Location")).contains(objectUri(sid, "big.bin").toString());
    assertThat(put.headers().firstValue("ETag")).contains("\"" + sha + "\"");
    assertThat(partFiles()).isEmpty();
    List<Path> stored = filesIn(objectsDir(TENANT, sid));
    assertThat(stored).hasSize(1);
    assertThat(Files.size(stored.get(0))).isEqualTo(size);
    assertThat(ledger.stagedObjects().object(TENANT, sid, "big.bin").orElseThrow().location())
        .isEqualTo(stored.get(0).toUri().toString());

    ReadBack back = get(sid, "big.bin", InfraResource.KEY);
    assertThat(back.status()).isEqualTo(200);
    assertThat(back.size()).isEqualTo(size);
    assertThat(back.sha256()).isEqualTo(sha);
    assertThat(back.resp().headers().firstValueAsLong("Content-Length")).hasValue(size);
    assertThat(back.resp().headers().firstValue("Content-Type"))
        .contains("application/octet-stream");
    assertThat(back.resp().headers().firstValue("ETag")).contains("\"" + sha + "\"");
    assertThat(back.resp().headers().firstValue("Repr-Digest"))
        .contains(
            "sha-256=:" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha)) + ":");

    // Each run would otherwise leave 300 MiB in the test's storage root.
    api().delete("/v1/sessions/" + sid + "/objects/big.bin").then().statusCode(204);
    assertThat(stored.get(0)).doesNotExist();
  }

  @Test
  void replacingAnObjectAnswers200AndDeletesTheReplacedBytes() throws Exception {
    String sid = newSession();
    assertThat(put(sid, "data", "first".getBytes()).statusCode()).isEqualTo(201);
    Path first = filesIn(objectsDir(TENANT, sid)).get(0);

    // 20 MiB and chunked: above the 10 MiB that every other request is held to.
    Generated second = new Generated(20 * MIB, -1);
    HttpResponse<String> replaced =
        http.send(
            HttpRequest.newBuilder(objectUri(sid, "data"))
                .header("Authorization", "Bearer " + InfraResource.KEY)
                .PUT(BodyPublishers.ofInputStream(() -> second))
                .build(),
            BodyHandlers.ofString());

    assertThat(replaced.statusCode()).as(replaced.body()).isEqualTo(200);
    assertThat(json.readTree(replaced.body()).get("sha256").asText()).isEqualTo(second.sha256Hex());
    assertThat(first).doesNotExist();
    assertThat(filesIn(objectsDir(TENANT, sid))).hasSize(1).doesNotContain(first);
    ReadBack back = get(sid, "data", InfraResource.KEY);
    assertThat(back.size()).isEqualTo(20 * MIB);
    assertThat(back.sha256()).isEqualTo(second.sha256Hex());
    api().delete("/v1/sessions/" + sid + "/objects/data").then().statusCode(204);
  }

  @Test
  void deletingAnObjectForgetsItAndRemovesItsBytes() throws Exception {
    String sid = newSession();
    byte[] body = "to be deleted".getBytes();
    assertThat(put(sid, "gone.txt", body).statusCode()).isEqualTo(201);
    Path file = filesIn(objectsDir(TENANT, sid)).get(0);
    api()
        .head("/v1/sessions/" + sid + "/objects/gone.txt")
        .then()
        .statusCode(200)
        .header("Content-Length", String.valueOf(body.length))
        .header("ETag", "\"" + sha256(body) + "\"");

    api().delete("/v1/sessions/" + sid + "/objects/gone.txt").then().statusCode(204);

    assertThat(file).doesNotExist();
    assertThat(ledger.stagedObjects().object(TENANT, sid, "gone.txt")).isEmpty();
    api()
        .get("/v1/sessions/" + sid + "/objects/gone.txt")
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
    api()
        .delete("/v1/sessions/" + sid + "/objects/gone.txt")
        .then()
        .statusCode(404)
        .contentType("application/problem+json");
  }

  @Test
  void aDigestHeaderThatDoesNotMatchTheBodyStoresNothing() throws Exception {
    String sid = newSession();
    byte[] body = "the real bytes".getBytes();
    byte[] other = HexFormat.of().parseHex(sha256("other bytes".getBytes()));
    String[][] wrong = {
      {"Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(other) + ":"},
      {"X-Checksum-SHA256", HexFormat.of().formatHex(other)},
    };
    for (String[] header : wrong) {
      HttpResponse<String> r = put(sid, "checked", body, header);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Type")).contains("application/problem+json");
      assertThat(json.readTree(r.body()).get("errors").get(0).get("field").asText())
          .isEqualTo(header[0]);
    }
    assertThat(ledger.stagedObjects().object(TENANT, sid, "checked")).isEmpty();
    assertThat(filesIn(objectsDir(TENANT, sid))).isEmpty();
    assertThat(partFiles()).isEmpty();

    String right = Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha256(body)));
    HttpResponse<String> ok = put(sid, "checked", body, "Repr-Digest", "sha-256=:" + right + ":");
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
    assertThat(get(sid, "checked", InfraResource.KEY).sha256()).isEqualTo(sha256(body));
  }

  @Test
  void badNamesAreA400NamingTheName() throws Exception {
    String sid = newSession();
    for (String name : new String[] {".hidden", "..x", "a%20b", "%C3%BC", "x".repeat(201)}) {
      HttpResponse<String> r = put(sid, name, "x".getBytes());
      assertThat(r.statusCode()).as(name + ": " + r.body()).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Type")).contains("application/problem+json");
      assertThat(json.readTree(r.body()).get("errors").get(0).get("field").asText())
          .isEqualTo("name");
      api()
          .get("/v1/sessions/" + sid + "/objects/" + name)
          .then()
          .statusCode(400)
          .body("errors.field", hasItem("name"));
    }
    assertThat(filesIn(objectsDir(TENANT, sid))).isEmpty();
  }

  @Test
  void anUnknownSessionIs404AndAnInvalidatedOneRefusesNewObjects() throws Exception {
    HttpResponse<String> unknown = put("nope-" + UUID.randomUUID(), "a", "x".getBytes());
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.headers().firstValue("Content-Type")).contains("application/problem+json");

    String sid = newSession();
    assertThat(put(sid, "kept", "x".getBytes()).statusCode()).isEqualTo(201);
    ledger.sessions().invalidateSession(TENANT, sid, true);
    HttpResponse<String> refused = put(sid, "late", "y".getBytes());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
    assertThat(refused.headers().firstValue("Content-Type")).contains("application/problem+json");
    assertThat(ledger.stagedObjects().object(TENANT, sid, "late")).isEmpty();
    // What was staged before stays readable until the session's objects are cleaned up.
    assertThat(get(sid, "kept", InfraResource.KEY).status()).isEqualTo(200);
  }

  @Test
  void anotherTenantCannotSeeReplaceOrDeleteThisTenantsObjects() throws Exception {
    String otherKey = "other-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(
            "t-" + UUID.randomUUID(),
            "key-" + UUID.randomUUID(),
            digest().digest(otherKey.getBytes(StandardCharsets.UTF_8)));
    String sid = newSession();
    byte[] body = "mine".getBytes();
    assertThat(put(sid, "secret", body).statusCode()).isEqualTo(201);

    assertThat(get(sid, "secret", otherKey).status()).isEqualTo(404);
    HttpResponse<String> overwrite =
        http.send(
            HttpRequest.newBuilder(objectUri(sid, "secret"))
                .header("Authorization", "Bearer " + otherKey)
                .PUT(BodyPublishers.ofString("theirs"))
                .build(),
            BodyHandlers.ofString());
    assertThat(overwrite.statusCode()).as(overwrite.body()).isEqualTo(404);
    given()
        .header("Authorization", "Bearer " + otherKey)
        .delete("/v1/sessions/" + sid + "/objects/secret")
        .then()
        .statusCode(404)
        .contentType("application/problem+json");

    ReadBack mine = get(sid, "secret", InfraResource.KEY);
    assertThat(mine.status()).isEqualTo(200);
    assertThat(mine.sha256()).isEqualTo(sha256(body));
  }

  @Test
  void aBodyCutShortStoresNothingAndLeavesNoFile() throws Exception {
    String sid = newSession();
    long declared = 64 * MIB;
    byte[] sent = new byte[(int) (4 * MIB)];
    try (Socket s = new Socket("localhost", RestAssured.port)) {
      OutputStream out = s.getOutputStream();
      out.write(
          ("PUT /v1/sessions/"
                  + sid
                  + "/objects/cut HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                  + InfraResource.KEY
                  + "\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                  + declared
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(sent);
      out.flush();
      // The server is writing the body to disk before the connection breaks.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> partFiles().stream().anyMatch(p -> p.toFile().length() > 0));
    }

    await().atMost(Duration.ofSeconds(20)).until(() -> partFiles().isEmpty());
    assertThat(ledger.stagedObjects().object(TENANT, sid, "cut")).isEmpty();
    assertThat(filesIn(objectsDir(TENANT, sid))).isEmpty();
  }

  @Test
  void anObjectDeclaredLargerThanTheLimitIsA413BeforeItsBodyIsSent() throws Exception {
    String sid = newSession();
    long limit = config.objects().maxBytes().asLongValue();
    String response =
        RawSocket.exchange(
            "PUT /v1/sessions/"
                + sid
                + "/objects/huge HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + InfraResource.KEY
                + "\r\nContent-Length: "
                + (limit + 1)
                + "\r\n\r\n",
            new byte[1024]);

    assertThat(response).startsWith("HTTP/1.1 413");
    assertThat(response.toLowerCase()).contains("content-type: application/problem+json");
    assertThat(response).contains("object-too-large").contains(String.valueOf(limit));
    assertThat(ledger.stagedObjects().object(TENANT, sid, "huge")).isEmpty();
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void otherRequestsKeepTheTenMebibyteBodyLimit() throws Exception {
    String sid = newSession();
    String response =
        RawSocket.exchange(
            "POST /v1/sessions/"
                + sid
                + "/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + InfraResource.KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: "
                + (BodyLimits.OTHER_REQUESTS_MAX_BYTES + 1)
                + "\r\n\r\n",
            "{\"type\":\"download\",".getBytes(StandardCharsets.US_ASCII));

    assertThat(response).startsWith("HTTP/1.1 413");
    assertThat(response.toLowerCase()).contains("content-type: application/problem+json");
    assertThat(response).contains("body-too-large");

    // Chunked, so no length to judge up front: counted as it is read.
    byte[] head = "{\"type\":\"download\",\"url\":\"http://a/\",\"metadata\":{\"x\":\"".getBytes();
    long total = BodyLimits.OTHER_REQUESTS_MAX_BYTES + MIB;
    InputStream padded =
        new java.io.SequenceInputStream(
            new java.io.ByteArrayInputStream(head),
            new InputStream() {
              long left = total - head.length;

              @Override
              public int read() {
                return left-- > 0 ? 'a' : -1;
              }

              @Override
              public int read(byte[] b, int off, int len) {
                if (left <= 0) {
                  return -1;
                }
                int n = (int) Math.min(len, left);
                java.util.Arrays.fill(b, off, off + n, (byte) 'a');
                left -= n;
                return n;
              }
            });
    HttpResponse<String> chunked =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://localhost:" + RestAssured.port + "/v1/sessions/" + sid + "/tasks"))
                .header("Authorization", "Bearer " + InfraResource.KEY)
                .header("Content-Type", "application/json")
                .POST(BodyPublishers.ofInputStream(() -> padded))
                .build(),
            BodyHandlers.ofString());
    assertThat(chunked.statusCode()).as(chunked.body()).isEqualTo(413);
    api()
        .get("/v1/sessions/" + sid + "/tasks/" + UUID.randomUUID())
        .then()
        .statusCode(404)
        .body("status", equalTo(404));
  }

  @Test
  void aRefusedUploadClosesTheConnectionRatherThanWaitForTheRestOfTheBody() throws Exception {
    String sid = newSession();
    String[][] cases = {
      {"wrong-key", sid, "401"},
      {InfraResource.KEY, "nope-" + UUID.randomUUID(), "404"},
      {InfraResource.KEY, sid + "/objects/.bad", "400"},
    };
    for (String[] c : cases) {
      // Most of the declared body is never sent: the answer and the close must not wait for it.
      String response =
          RawSocket.exchange(
              "PUT /v1/sessions/"
                  + (c[1].contains("/") ? c[1] : c[1] + "/objects/x")
                  + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                  + c[0]
                  + "\r\nContent-Length: "
                  + 64 * MIB
                  + "\r\n\r\n",
              new byte[(int) MIB]);
      assertThat(response).as(c[2]).startsWith("HTTP/1.1 " + c[2]);
      assertThat(response.toLowerCase()).contains("content-type: application/problem+json");
    }
    assertThat(partFiles()).isEmpty();
  }

  @Test
  void objectsAreFoundOnlyByTheirOwnSession() throws Exception {
    String a = newSession();
    String b = newSession();
    assertThat(put(a, "shared-name", "in a".getBytes()).statusCode()).isEqualTo(201);
    assertThat(put(b, "shared-name", "in b".getBytes()).statusCode()).isEqualTo(201);
    assertThat(get(a, "shared-name", InfraResource.KEY).sha256())
        .isEqualTo(sha256("in a".getBytes()));
    assertThat(get(b, "shared-name", InfraResource.KEY).sha256())
        .isEqualTo(sha256("in b".getBytes()));
  }
}
