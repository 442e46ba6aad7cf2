package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.PrometheusText;

/**
 * The download path end to end: the api-service and two workers as separate JVMs (heap capped at
 * 128 MiB), a real Kafka broker, a real PostgreSQL and the scriptable origin over loopback.
 */
class DownloadClusterIT extends ClusterTest {

  @Test
  void downloads256MiBWithTheRightDigestAndExactlyOneCompletionEvent() throws Exception {
    long size = 256L << 20;
    String sid = newSession("{}");
    String tid = submit(sid, origin.url("/bytes/" + size + "?seed=7"), "{\"job\":\"big\"}");

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(3));
    String expected = Origin.sha256Hex(size, 7);
    assertThat(task.get("state").asText()).isEqualTo("completed");
    assertThat(task.get("sha256").asText()).isEqualTo(expected);
    assertThat(task.get("bytesTransferred").asLong()).isEqualTo(size);

    ApiClient.Content content = cluster.content(sid, tid);
    assertThat(content.status()).isEqualTo(200);
    assertThat(content.size()).isEqualTo(size);
    assertThat(content.sha256()).isEqualTo(expected);

    List<JsonNode> events = eventsUntilCompleted(sid);
    List<JsonNode> completed = ofType(events, "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).get("id").asText()).isEqualTo(tid + ":completed");
    assertThat(completed.get(0).get("subject").asText()).isEqualTo(tid);
    assertThat(completed.get(0).get("source").asText()).isEqualTo("/sessions/" + sid);
    assertThat(completed.get(0).get("data").get("error").isNull()).isTrue();
    assertThat(completed.get(0).get("data").get("metadata").get("job").asText()).isEqualTo("big");

    List<JsonNode> downloaded = ofType(events, "transfer.task.downloaded");
    assertThat(downloaded).hasSize(1);
    assertThat(downloaded.get(0).get("data").get("sha256").asText()).isEqualTo(expected);
    assertThat(downloaded.get(0).get("data").get("size").asLong()).isEqualTo(size);
    assertThat(downloaded.get(0).get("data").get("location").asText())
        .startsWith(ClusterFixture.S3 ? "s3://" + ClusterStorage.BUCKET + "/objects/" : "file:");

    // Progress never goes backwards, and the sequence numbers increase in topic order.
    long lastTotal = -1;
    long lastSeq = 0;
    for (JsonNode e : events) {
      assertThat(e.get("sequence").asLong()).isGreaterThan(lastSeq);
      lastSeq = e.get("sequence").asLong();
      if (e.get("type").asText().equals("transfer.task.progress")) {
        long total = e.get("data").get("totalBytesTransferred").asLong();
        assertThat(total).isGreaterThanOrEqualTo(lastTotal);
        lastTotal = total;
      }
    }
    assertThat(ofType(events, "transfer.task.progress")).isNotEmpty();
    assertThat(lastTotal).isEqualTo(size);

    // Replay through the API serves the same events.
    ApiClient.Answer replay =
        cluster.call("GET", "/v1/sessions/" + sid + "/events?after=0&limit=1000", null);
    assertThat(replay.status()).isEqualTo(200);
    List<String> replayIds = new ArrayList<>();
    replay.body().get("events").forEach(e -> replayIds.add(e.get("id").asText()));
    assertThat(replayIds)
        .containsExactlyElementsOf(
            events.stream().map(e -> e.get("id").asText()).distinct().toList());
  }

  @Test
  void aDownloadThatNamesItsDestinationLandsThereAndALaterOneNamingItReplacesIt() throws Exception {
    String sid = newSession("{}");
    String key = "reports/" + UUID.randomUUID() + "/day.bin";
    String first = submit(sid, origin.url("/bytes/300000?seed=41"), null, key);
    JsonNode one = cluster.awaitFinal(sid, first, Duration.ofMinutes(1));
    assertThat(one.get("state").asText()).isEqualTo("completed");
    assertThat(one.get("destination").get("key").asText()).isEqualTo(key);
    String location = one.get("location").asText();
    assertThat(location)
        .startsWith(ClusterFixture.S3 ? "s3://" + ClusterStorage.BUCKET + "/objects/" : "file:")
        .endsWith("/_named/" + key);
    assertThat(cluster.content(sid, first).sha256()).isEqualTo(Origin.sha256Hex(300_000, 41));

    // More than a part on S3: the copy into the destination is a multipart copy.
    long size = 7_000_000;
    String second = submit(sid, origin.url("/bytes/" + size + "?seed=42"), null, key);
    JsonNode two = cluster.awaitFinal(sid, second, Duration.ofMinutes(1));
    assertThat(two.get("state").asText()).isEqualTo("completed");
    assertThat(two.get("location").asText()).isEqualTo(location);
    ApiClient.Content content = cluster.content(sid, second);
    assertThat(content.size()).isEqualTo(size);
    assertThat(content.sha256()).isEqualTo(Origin.sha256Hex(size, 42));
    assertThat(storedObjectsOf(first)).as("no attempt's own object is left").isEmpty();
    assertThat(storedObjectsOf(second)).isEmpty();

    // A key that would leave the tenant's named objects is refused, and nothing is created.
    ApiClient.Answer refused =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\""
                + origin.url("/bytes/10?seed=1")
                + "\",\"destination\":{\"key\":\"../../other-tenant/x\"}}");
    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.body().toString()).contains("destination.key");
    ApiClient.Answer tasks = cluster.call("GET", "/v1/sessions/" + sid + "/tasks", null);
    assertThat(tasks.body().get("tasks")).hasSize(2);
  }

  @Test
  void a404FromTheOriginEndsTheTaskFailedWithOneCompletionAndNoBytes() throws Exception {
    String sid = newSession("{}");
    String tid = submit(sid, origin.url("/bytes/1000?seed=1&status=404"), null);

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("failed");
    assertThat(task.get("error").get("code").asText()).isEqualTo("http_status");
    assertThat(task.get("error").get("httpStatus").asInt()).isEqualTo(404);
    assertThat(task.get("error").get("retryable").asBoolean()).isFalse();
    assertThat(task.get("attempt").asInt()).isEqualTo(1);
    assertThat(task.get("location").isNull()).isTrue();

    ApiClient.Answer content =
        cluster.call("GET", "/v1/sessions/" + sid + "/tasks/" + tid + "/content", null);
    assertThat(content.status()).isEqualTo(409);
    assertThat(content.contentType()).startsWith("application/problem+json");

    List<JsonNode> completed = ofType(eventsUntilCompleted(sid), "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).get("data").get("error").get("code").asText())
        .isEqualTo("http_status");
    assertThat(storedObjectsOf(tid)).isEmpty();
  }

  @Test
  void aBodyCutOffMidStreamIsRetriedAndNeverServedAsContent() throws Exception {
    String sid =
        newSession(
            "{\"retry\":{\"maxAttempts\":2,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT0.5S\"},"
                // A cut body is a fault of the way to the origin: counted only when not waited out.
                + "\"waitsForConnectivity\":false}");
    origin.clearRequests();
    String url = origin.url("/bytes/" + (8 << 20) + "?seed=3&cutAfter=1000000");
    String tid = submit(sid, url, null);

    // While it fails and retries, the half-written body is never readable as content.
    await()
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              ApiClient.Answer c =
                  cluster.call("GET", "/v1/sessions/" + sid + "/tasks/" + tid + "/content", null);
              assertThat(c.status()).isEqualTo(409);
              JsonNode t =
                  cluster.call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null).body();
              return t.get("state").asText().equals("failed");
            });
    JsonNode task = cluster.call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null).body();
    assertThat(task.get("error").get("code").asText()).isEqualTo("attempts_exhausted");
    assertThat(task.get("error").get("message").asText()).contains("connection_failed");
    assertThat(task.get("attempt").asInt()).isEqualTo(2);
    assertThat(origin.requests().stream().filter(r -> r.path().startsWith("/bytes/")).count())
        .isEqualTo(2);
    assertThat(ofType(eventsUntilCompleted(sid), "transfer.task.completed")).hasSize(1);
    assertThat(storedObjectsOf(tid)).isEmpty();
  }

  @Test
  void aWorkerWith128MiBOfHeapDownloads2GiB() throws Exception {
    long size = 2L << 30;
    String sid = newSession("{}");
    String tid = submit(sid, origin.url("/bytes/" + size + "?seed=11"), null);

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(5));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 11));
    assertThat(cluster.workers).allMatch(ServiceProcess::isAlive);
    // The object is not needed after the check; free the disk.
    cluster.stored.delete(task.get("location").asText());
  }

  @Test
  void theWorkersMetricsCountTheBytesAndTheAttemptsOfDownloads() throws Exception {
    PrometheusText[] before = workerMetrics();
    long size = 5L << 20;
    String sid = newSession("{}");
    String ok = submit(sid, origin.url("/bytes/" + size + "?seed=23"), null);
    String gone = submit(sid, origin.url("/bytes/1000?seed=24&status=404"), null);
    assertThat(cluster.awaitFinal(sid, ok, Duration.ofMinutes(1)).get("state").asText())
        .isEqualTo("completed");
    assertThat(cluster.awaitFinal(sid, gone, Duration.ofMinutes(1)).get("state").asText())
        .isEqualTo("failed");

    // A worker counts an attempt once its ledger write has returned, a moment after the ledger
    // shows the task final: the scrape is repeated until the counts arrive.
    PrometheusText[][] scraped = new PrometheusText[1][];
    await("the workers' counters")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              PrometheusText[] after = workerMetrics();
              scraped[0] = after;
              // Summed over both workers, whichever ran them (the tests of this JVM run one at a
              // time).
              assertThat(
                      increase(
                          before, after, "transfer_worker_bytes_total", "direction", "download"))
                  .isEqualTo(size);
              assertThat(
                      increase(
                          before,
                          after,
                          "transfer_worker_attempts_total",
                          "type",
                          "download",
                          "outcome",
                          "completed",
                          "error_code",
                          "none"))
                  .isEqualTo(1);
              assertThat(
                      increase(
                          before,
                          after,
                          "transfer_worker_attempts_total",
                          "outcome",
                          "failed",
                          "error_code",
                          "http_status"))
                  .isEqualTo(1);
            });
    PrometheusText[] after = scraped[0];
    for (int i = 0; i < after.length; i++) {
      PrometheusText t = after[i];
      assertThat(t.value("transfer_worker_slots")).as("worker %d", i + 1).hasValue(16);
      assertThat(t.value("transfer_worker_transfers_running")).as("worker %d", i + 1).isPresent();
      assertThat(t.has("transfer_worker_claim_seconds_bucket")).isTrue();
      // Bounded labels: no task id, no URL path, no per-URL client metrics of the framework.
      for (PrometheusText.Sample s : t.samples()) {
        assertThat(s.labels().values())
            .as("labels of %s", s.name())
            .noneMatch(v -> v.contains(ok) || v.contains(gone) || v.contains("/bytes/"));
      }
    }
    // The api-service serves its own beside them, without a key.
    assertThat(ClusterFixture.metrics(cluster.apiPort).has("transfer_tasks")).isTrue();
  }

  // ------------------------------------------------------------------ helpers

  private static PrometheusText[] workerMetrics() throws Exception {
    PrometheusText[] out = new PrometheusText[cluster.workerPorts.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ClusterFixture.metrics(cluster.workerPorts.get(i));
    }
    return out;
  }

  /** How much a series (summed over matching labels) grew on all workers together. */
  private static double increase(
      PrometheusText[] before, PrometheusText[] after, String name, String... labels) {
    double sum = 0;
    for (int i = 0; i < after.length; i++) {
      sum += after[i].value(name, labels).orElse(0) - before[i].value(name, labels).orElse(0);
    }
    return sum;
  }

  private static String newSession(String config) throws Exception {
    String sid = "s-" + UUID.randomUUID();
    ApiClient.Answer a = cluster.call("PUT", "/v1/sessions/" + sid, config);
    assertThat(a.status()).as("PUT session: %s", a.body()).isEqualTo(201);
    return sid;
  }

  private static String submit(String sid, String url, String metadata) throws Exception {
    return submit(sid, url, metadata, null);
  }

  private static String submit(String sid, String url, String metadata, String destination)
      throws Exception {
    String body =
        "{\"type\":\"download\",\"url\":\""
            + url
            + "\""
            + (metadata != null ? ",\"metadata\":" + metadata : "")
            + (destination != null ? ",\"destination\":{\"key\":\"" + destination + "\"}" : "")
            + "}";
    ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    assertThat(a.body().get("state").asText()).isEqualTo("queued");
    return a.body().get("id").asText();
  }

  /** Events of one type as they are on the topic: no faults here, so no redelivery either. */
  private static List<JsonNode> ofType(List<JsonNode> events, String type) {
    return events.stream().filter(e -> e.get("type").asText().equals(type)).toList();
  }

  private static List<String> storedObjectsOf(String tid) throws Exception {
    return cluster.stored.namesStartingWith(tid);
  }
}
