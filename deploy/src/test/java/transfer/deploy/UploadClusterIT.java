package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * The upload path end to end, judged at the receiving end: the scriptable origin records how many
 * bytes of each request body arrived and their SHA-256, so a test checks what the target got, not
 * only what the task says. Same cluster as {@link DownloadClusterIT} (two worker JVMs with 128 MiB
 * of heap, real Kafka and PostgreSQL).
 */
class UploadClusterIT extends ClusterTest {
  private static final String FAST_RETRY =
      "\"retry\":{\"maxAttempts\":5,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT0.5S\"}";

  private static final Map<String, String> SESSION_OF = new ConcurrentHashMap<>();

  @Test
  void aDownloadedBodyIsPutToTheTargetWhichReceivesExactlyThoseBytes() throws Exception {
    long size = 64L << 20;
    String source = downloaded(size, 31);
    String sid = newSession("{}");
    // Read slowly enough by the target for progress events to show bytes on their way.
    String path = "/up/" + UUID.randomUUID() + "?rate=" + (24 << 20);
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(2));
    String expected = Origin.sha256Hex(size, 31);
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("type").asText()).isEqualTo("upload");
    assertThat(task.get("method").asText()).isEqualTo("PUT");
    assertThat(task.get("bytesTransferred").asLong()).isEqualTo(size);
    assertThat(task.get("sha256").asText()).isEqualTo(expected);
    assertThat(task.get("attempt").asInt()).isEqualTo(1);

    List<Origin.RequestRecord> received = requestsTo(path);
    assertThat(received).hasSize(1);
    assertThat(received.get(0).method()).isEqualTo("PUT");
    assertThat(received.get(0).status()).isEqualTo(201);
    assertThat(received.get(0).bytesReceived()).isEqualTo(size);
    assertThat(received.get(0).receivedSha256()).isEqualTo(expected);

    List<JsonNode> events = eventsUntilCompleted(sid);
    List<JsonNode> completed = ofType(events, "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).get("id").asText()).isEqualTo(tid + ":completed");
    assertThat(completed.get(0).get("data").get("error").isNull()).isTrue();
    assertThat(completed.get(0).get("data").get("httpStatus").asInt()).isEqualTo(201);
    assertThat(completed.get(0).get("data").get("size").asLong()).isEqualTo(size);
    assertThat(ofType(events, "transfer.task.downloaded")).isEmpty();

    List<JsonNode> progress = ofType(events, "transfer.task.progress");
    long lastTotal = -1;
    for (JsonNode e : progress) {
      long total = e.get("data").get("totalBytesTransferred").asLong();
      assertThat(total).isGreaterThanOrEqualTo(lastTotal).isLessThanOrEqualTo(size);
      assertThat(e.get("data").get("totalBytesExpected").asLong()).isEqualTo(size);
      lastTotal = total;
    }
    assertThat(lastTotal).isEqualTo(size);
    assertThat(progress)
        .as("a progress event while the body was on its way")
        .anySatisfy(
            e ->
                assertThat(e.get("data").get("totalBytesTransferred").asLong())
                    .isBetween(1L, size - 1));
  }

  @Test
  void aPostAnswered503WithRetryAfterTwiceIsSentWholeThreeTimes() throws Exception {
    long size = 3L << 20;
    String source = downloaded(size, 32);
    String sid = newSession("{" + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID() + "?status=503&retryAfter=2&faultTimes=2";
    String tid = submitUpload(sid, origin.url(path), "POST", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("attempt").asInt()).isEqualTo(3);
    assertThat(task.get("error").isNull()).isTrue();

    List<Origin.RequestRecord> received = requestsTo(path);
    assertThat(received).extracting(Origin.RequestRecord::status).containsExactly(503, 503, 201);
    assertThat(received)
        .allSatisfy(
            r -> {
              assertThat(r.method()).isEqualTo("POST");
              assertThat(r.bytesReceived()).isEqualTo(size);
              assertThat(r.receivedSha256()).isEqualTo(Origin.sha256Hex(size, 32));
            });
    // Retry-After (2 s) holds the retries back, though the session's backoff is at most 0.5 s.
    for (int i = 1; i < received.size(); i++) {
      assertThat(Duration.between(received.get(i - 1).at(), received.get(i).at()))
          .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
    }
    List<JsonNode> completed = ofType(eventsUntilCompleted(sid), "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).get("data").get("error").isNull()).isTrue();
  }

  @Test
  void aConnectionCutMidBodyIsRetriedFromTheFirstByte() throws Exception {
    long size = 16L << 20;
    String source = downloaded(size, 33);
    String sid = newSession("{" + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID() + "?cutAfter=1000000&faultTimes=1";
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("attempt").asInt()).isEqualTo(2);
    assertThat(task.get("bytesTransferred").asLong()).isEqualTo(size);

    List<Origin.RequestRecord> received = requestsTo(path);
    assertThat(received).hasSize(2);
    assertThat(received.get(0).status()).isZero();
    assertThat(received.get(0).bytesReceived()).isEqualTo(1_000_000);
    assertThat(received.get(1).status()).isEqualTo(201);
    assertThat(received.get(1).bytesReceived()).isEqualTo(size);
    assertThat(received.get(1).receivedSha256()).isEqualTo(Origin.sha256Hex(size, 33));
    assertThat(ofType(eventsUntilCompleted(sid), "transfer.task.completed")).hasSize(1);
  }

  @Test
  void aTargetThatStopsReadingIsAStallAndTheRetryCompletes() throws Exception {
    long size = 64L << 20; // more than the socket buffers hold, so the sender really waits
    String source = downloaded(size, 34);
    String sid = newSession("{\"requestTimeout\":\"PT2S\"," + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID() + "?stallAfter=1000000&faultTimes=1";
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("attempt").asInt()).isEqualTo(2);

    List<Origin.RequestRecord> received = requestsTo(path);
    assertThat(received).hasSize(2);
    assertThat(received.get(0).bytesReceived()).isEqualTo(1_000_000);
    assertThat(received.get(1).bytesReceived()).isEqualTo(size);
    assertThat(received.get(1).receivedSha256()).isEqualTo(Origin.sha256Hex(size, 34));
  }

  @Test
  void a404FromTheTargetFailsTheUploadAfterOneAttempt() throws Exception {
    String source = downloaded(1 << 20, 35);
    String sid = newSession("{" + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID() + "?status=404";
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("failed");
    assertThat(task.get("error").get("code").asText()).isEqualTo("http_status");
    assertThat(task.get("error").get("httpStatus").asInt()).isEqualTo(404);
    assertThat(task.get("error").get("retryable").asBoolean()).isFalse();
    assertThat(task.get("attempt").asInt()).isEqualTo(1);
    assertThat(requestsTo(path)).hasSize(1);

    List<JsonNode> completed = ofType(eventsUntilCompleted(sid), "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).get("data").get("error").get("httpStatus").asInt()).isEqualTo(404);
  }

  @Test
  void aSourceChangedInStorageFailsFinalAndNeverReachesTheTargetWhole() throws Exception {
    long size = 8L << 20;
    String source = downloaded(size, 37);
    // Same size, one byte different: only the digest can tell.
    cluster.stored.flipByte(storedLocation(source), size / 2);
    String sid = newSession("{" + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID();
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("failed");
    assertThat(task.get("error").get("code").asText()).isEqualTo("source_missing");
    assertThat(task.get("error").get("message").asText()).contains("changed");
    assertThat(task.get("attempt").asInt()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> requestsTo(path).stream().allMatch(r -> r.receivedSha256() != null));
    assertThat(requestsTo(path))
        .hasSize(1)
        .allSatisfy(
            r -> {
              assertThat(r.status()).isZero();
              assertThat(r.bytesReceived()).isLessThan(size);
            });
  }

  @Test
  void aSourceGoneFromStorageFailsFinalWithoutARequest() throws Exception {
    String source = downloaded(1 << 20, 38);
    cluster.stored.delete(storedLocation(source));
    String sid = newSession("{" + FAST_RETRY + "}");
    String path = "/up/" + UUID.randomUUID();
    String tid = submitUpload(sid, origin.url(path), "PUT", "{\"task\":\"" + source + "\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("failed");
    assertThat(task.get("error").get("code").asText()).isEqualTo("source_missing");
    assertThat(task.get("error").get("retryable").asBoolean()).isFalse();
    assertThat(task.get("attempt").asInt()).isEqualTo(1);
    assertThat(requestsTo(path)).isEmpty();
    assertThat(ofType(eventsUntilCompleted(sid), "transfer.task.completed")).hasSize(1);
  }

  @Test
  void aSourceThatIsNotACompletedDownloadIsRefusedAtSubmit() throws Exception {
    String sid = newSession("{}");
    // A download that has not run (it may not begin for six days, within its deadline) and one
    // that failed.
    String waiting =
        cluster
            .call(
                "POST",
                "/v1/sessions/" + sid + "/tasks",
                "{\"type\":\"download\",\"url\":\""
                    + origin.url("/bytes/1000?seed=1")
                    + "\",\"earliestBeginAt\":\""
                    + java.time.Instant.now().plus(Duration.ofDays(6))
                    + "\"}")
            .body()
            .get("id")
            .asText();
    String failed = submitDownload(sid, origin.url("/bytes/1000?seed=1&status=404"));
    assertThat(cluster.awaitFinal(sid, failed, Duration.ofMinutes(1)).get("state").asText())
        .isEqualTo("failed");

    for (String source : List.of(waiting, failed, UUID.randomUUID().toString())) {
      ApiClient.Answer a =
          cluster.call(
              "POST",
              "/v1/sessions/" + sid + "/tasks",
              "{\"type\":\"upload\",\"url\":\""
                  + origin.url("/up/refused")
                  + "\",\"source\":{\"task\":\""
                  + source
                  + "\"}}");
      assertThat(a.status()).as("source %s: %s", source, a.body()).isBetween(400, 499);
      assertThat(a.contentType()).startsWith("application/problem+json");
      assertThat(a.body().get("errors"))
          .as("%s", a.body())
          .anySatisfy(e -> assertThat(e.get("field").asText()).isEqualTo("source.task"));
    }
    ApiClient.Answer tasks = cluster.call("GET", "/v1/sessions/" + sid + "/tasks", null);
    assertThat(tasks.body().toString()).doesNotContain("\"upload\"");
  }

  @Test
  void aStagedObjectIsUploadedWithTheBytesItWasStagedWith() throws Exception {
    long size = 5L << 20;
    String sid = newSession("{}");
    Path body = Files.createTempFile("staged", ".bin");
    try {
      Origin.writeTo(body, size, 36);
      HttpResponse<String> staged =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:"
                                  + cluster.apiPort
                                  + "/v1/sessions/"
                                  + sid
                                  + "/objects/report.bin"))
                      .header("Authorization", "Bearer " + ClusterFixture.API_KEY)
                      .header("Content-Type", "application/octet-stream")
                      .timeout(Duration.ofSeconds(30))
                      .PUT(HttpRequest.BodyPublishers.ofFile(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(staged.statusCode()).as("PUT object: %s", staged.body()).isEqualTo(201);
    } finally {
      Files.deleteIfExists(body);
    }
    String path = "/up/" + UUID.randomUUID();
    String tid = submitUpload(sid, origin.url(path), "POST", "{\"object\":\"report.bin\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    List<Origin.RequestRecord> received = requestsTo(path);
    assertThat(received).hasSize(1);
    assertThat(received.get(0).method()).isEqualTo("POST");
    assertThat(received.get(0).bytesReceived()).isEqualTo(size);
    assertThat(received.get(0).receivedSha256()).isEqualTo(Origin.sha256Hex(size, 36));
  }

  // ------------------------------------------------------------------ helpers

  /** A completed download of {@code /bytes/size?seed=seed}, in a session of its own. */
  private static String downloaded(long size, long seed) throws Exception {
    String sid = newSession("{}");
    String tid = submitDownload(sid, origin.url("/bytes/" + size + "?seed=" + seed));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).as("source download %s", task).isEqualTo("completed");
    SESSION_OF.put(tid, sid);
    return tid;
  }

  /** Where a completed download's bytes are stored: the task's {@code location}. */
  private static String storedLocation(String downloadId) throws Exception {
    JsonNode t =
        cluster
            .call(
                "GET", "/v1/sessions/" + SESSION_OF.get(downloadId) + "/tasks/" + downloadId, null)
            .body();
    String location = t.get("location").asText();
    assertThat(location).startsWith(ClusterFixture.S3 ? "s3://" : "file:");
    return location;
  }

  private static String newSession(String config) throws Exception {
    String sid = "s-" + UUID.randomUUID();
    ApiClient.Answer a = cluster.call("PUT", "/v1/sessions/" + sid, config);
    assertThat(a.status()).as("PUT session: %s", a.body()).isEqualTo(201);
    return sid;
  }

  private static String submitDownload(String sid, String url) throws Exception {
    ApiClient.Answer a =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + url + "\"}");
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }

  private static String submitUpload(String sid, String url, String method, String source)
      throws Exception {
    String body =
        "{\"type\":\"upload\",\"url\":\""
            + url
            + "\",\"method\":\""
            + method
            + "\",\"source\":"
            + source
            + "}";
    ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
    assertThat(a.status()).as("POST upload: %s", a.body()).isEqualTo(201);
    assertThat(a.body().get("type").asText()).isEqualTo("upload");
    return a.body().get("id").asText();
  }

  /** The requests the origin got for this path and query, in arrival order. */
  private static List<Origin.RequestRecord> requestsTo(String pathAndQuery) {
    URI uri = URI.create(pathAndQuery);
    return origin.requests().stream()
        .filter(r -> r.path().equals(uri.getPath()))
        .filter(r -> uri.getQuery() == null || uri.getQuery().equals(r.query()))
        .toList();
  }

  /** Events of one type as they are on the topic: no faults here, so no redelivery either. */
  private static List<JsonNode> ofType(List<JsonNode> events, String type) {
    return events.stream().filter(e -> e.get("type").asText().equals(type)).toList();
  }
}
