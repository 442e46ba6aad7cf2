package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.ClusterFixture.json;
import static transfer.deploy.ClusterFixture.ofTask;
import static transfer.deploy.ClusterFixture.ofType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * Control of running downloads on the whole cluster (api-service and two worker JVMs, Kafka,
 * PostgreSQL, the scriptable origin): cancel with resumeData, suspend and resume, and the
 * resumeData of a failed download. Each download is slowed by the origin ({@code rate}) so that it
 * is still running when the test acts; the workers checkpoint every second (see {@link
 * ClusterFixture}).
 */
class TaskControlClusterIT extends ClusterTest {
  /**
   * On S3 a checkpoint is a part of 5 MiB (the least S3 takes): bodies six times as large, as fast
   * in seconds.
   */
  private static final long SCALE = ClusterFixture.S3 ? 6 : 1;

  private static final long SIZE = SCALE * (2L << 20);
  private static final long RATE = SCALE * (256L << 10); // 8 s for the whole body

  /** Body bytes by which a checkpoint is recorded: three seconds (S3: a part and a heartbeat). */
  private static final long CHECKPOINTED = ClusterFixture.S3 ? 9 * RATE / 2 : 3 * RATE;

  private static final Duration FINISH = Duration.ofSeconds(60);

  @Test
  void aCanceledDownloadsResumeDataContinuesFromTheStoredBytesInANewTask() throws Exception {
    String sid = cluster.newSession("cancel", "{}");
    String path = "/bytes/" + SIZE;
    String query = "seed=31&rate=" + RATE;
    String url = origin.url(path + "?" + query);
    String first = cluster.submit(sid, json("type", "download", "url", url)).get("id").asText();
    // Three seconds of body: checkpoints (every second) are recorded by then.
    cluster.awaitTask(sid, first, FINISH, t -> t.get("bytesTransferred").asLong() >= CHECKPOINTED);

    ApiClient.Answer canceled =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks/" + first + "/cancel",
            json("produceResumeData", true));
    assertThat(canceled.status()).as("cancel: %s", canceled.body()).isEqualTo(200);
    assertThat(canceled.body().at("/task/state").asText()).isEqualTo("canceled");
    assertThat(canceled.body().at("/task/error/code").asText()).isEqualTo("canceled");
    String resumeData = canceled.body().get("resumeData").asText(null);
    assertThat(resumeData).as("resumeData of %s", canceled.body()).isNotNull();
    assertThat(canceled.body().at("/task/resumeData").asText()).isEqualTo(resumeData);
    long stored = resumeBytes(resumeData);
    assertThat(stored).isPositive().isLessThan(SIZE);
    assertThat(cluster.ledgerRow(first).get("bytes_durable")).isEqualTo(stored);

    // Only the resumeData: the URL and the stored prefix come from the canceled task.
    JsonNode second = cluster.submit(sid, json("type", "download", "resumeData", resumeData));
    String tid = second.get("id").asText();
    assertThat(second.get("url").asText()).isEqualTo(url);
    JsonNode done = cluster.awaitFinal(sid, tid, FINISH);
    String expected = Origin.sha256Hex(SIZE, 31);
    assertThat(done.get("state").asText()).as("task %s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(expected);
    assertThat(done.get("bytesTransferred").asLong()).isEqualTo(SIZE);
    ApiClient.Content content = cluster.content(sid, tid);
    assertThat(content.size()).isEqualTo(SIZE);
    assertThat(content.sha256()).isEqualTo(expected);

    // The new task asked the origin for exactly the bytes that were not stored.
    List<Origin.RequestRecord> requests = requestsFor(path, query);
    assertThat(requests).as("requests %s", requests).hasSize(2);
    assertThat(requests.get(0).range()).isNull();
    assertThat(requests.get(1).range()).isEqualTo("bytes=" + stored + "-");
    assertThat(requests.get(1).status()).isEqualTo(206);
    assertThat(requests.get(1).bytesSent()).isEqualTo(SIZE - stored);

    // The canceled task's completion carries the same resumeData.
    JsonNode completed =
        ofType(ofTask(cluster.replay(sid), first), "transfer.task.completed").get(0);
    assertThat(completed.at("/data/error/code").asText()).isEqualTo("canceled");
    assertThat(completed.at("/data/resumeData").asText()).isEqualTo(resumeData);
  }

  @Test
  void aSuspendedDownloadLetsGoOfItsWorkerAndConnectionAndResumesFromItsCheckpoint()
      throws Exception {
    String sid = cluster.newSession("suspend", "{}");
    String path = "/bytes/" + SIZE;
    String query = "seed=32&rate=" + RATE;
    String tid =
        cluster
            .submit(sid, json("type", "download", "url", origin.url(path + "?" + query)))
            .get("id")
            .asText();
    cluster.awaitTask(sid, tid, FINISH, t -> t.get("bytesTransferred").asLong() >= CHECKPOINTED);

    ApiClient.Answer suspended =
        cluster.call("POST", "/v1/sessions/" + sid + "/tasks/" + tid + "/suspend", null);
    assertThat(suspended.status()).as("suspend: %s", suspended.body()).isEqualTo(200);
    assertThat(suspended.body().get("state").asText()).isEqualTo("suspended");
    Map<String, Object> row = cluster.ledgerRow(tid);
    assertThat(row.get("state")).isEqualTo("suspended");
    assertThat(row.get("lease_owner")).isNull();
    assertThat(row.get("lease_expires_at")).isNull();
    long durable = (Long) row.get("bytes_durable");
    assertThat(durable).as("a checkpoint after 3 s of body").isPositive();

    // Within a few seconds the worker notices (at its next heartbeat) and drops the connection:
    // the origin's body stops flowing.
    long[] sent = {-1};
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              long now = requestsFor(path, query).get(0).bytesSent();
              boolean still = now == sent[0];
              sent[0] = now;
              return still;
            });
    // At 256 KiB/s two more seconds would be half a MiB; not one byte may come.
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(3))
        .until(() -> requestsFor(path, query).get(0).bytesSent() == sent[0]);
    assertThat(sent[0]).isLessThan(SIZE);
    assertThat(requestsFor(path, query)).hasSize(1);
    assertThat(cluster.task(sid, tid).get("state").asText()).isEqualTo("suspended");

    ApiClient.Answer resumed =
        cluster.call("POST", "/v1/sessions/" + sid + "/tasks/" + tid + "/resume", null);
    assertThat(resumed.status()).as("resume: %s", resumed.body()).isEqualTo(200);
    assertThat(resumed.body().get("state").asText()).isIn("queued", "running");

    JsonNode done = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(done.get("state").asText()).as("task %s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(SIZE, 32));
    // The suspended attempt does not count.
    assertThat(done.get("attempt").asInt()).isEqualTo(1);
    List<Origin.RequestRecord> requests = requestsFor(path, query);
    assertThat(requests).as("requests %s", requests).hasSize(2);
    assertThat(requests.get(1).range()).isEqualTo("bytes=" + durable + "-");
    assertThat(requests.get(1).bytesSent()).isEqualTo(SIZE - durable);
  }

  @Test
  void aFailedDownloadOffersResumeDataInItsCompletionAndEveryEventEchoesItsMetadata()
      throws Exception {
    String sid =
        cluster.newSession(
            "failed", json("retry", Map.of("maxAttempts", 1), "waitsForConnectivity", false));
    long rate = SCALE * (400L << 10);
    // The origin cuts the body after 90% (4.5 s). The first checkpoint (after a second) already
    // holds more than 10%, so a resumed request (from there to the end) stays under the cut.
    long cutAfter = SIZE * 9 / 10;
    String path = "/bytes/" + SIZE;
    String query = "seed=33&rate=" + rate + "&cutAfter=" + cutAfter;
    Map<String, Object> metadata = Map.of("order", 42, "tags", List.of("a", "b"));
    String tid =
        cluster
            .submit(
                sid,
                json(
                    "type",
                    "download",
                    "url",
                    origin.url(path + "?" + query),
                    "metadata",
                    metadata))
            .get("id")
            .asText();

    JsonNode failed = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(failed.get("state").asText()).as("task %s", failed).isEqualTo("failed");
    assertThat(failed.at("/error/code").asText()).isEqualTo("attempts_exhausted");
    assertThat(failed.at("/error/message").asText()).contains("connection_failed");
    String resumeData = failed.get("resumeData").asText(null);
    assertThat(resumeData).as("resumeData of %s", failed).isNotNull();
    long stored = resumeBytes(resumeData);
    assertThat(stored).isGreaterThanOrEqualTo(SIZE - cutAfter).isLessThanOrEqualTo(cutAfter);

    JsonNode meta = new ObjectMapper().valueToTree(metadata);
    List<JsonNode> events =
        ofTask(
            cluster.topicEvents(
                sid,
                got -> !ofType(ofTask(got, tid), "transfer.task.completed").isEmpty(),
                Duration.ofSeconds(30)),
            tid);
    assertThat(ofType(events, "transfer.task.progress")).isNotEmpty();
    assertThat(events).allSatisfy(e -> assertThat(e.at("/data/metadata")).isEqualTo(meta));
    List<JsonNode> completed = ofType(events, "transfer.task.completed");
    assertThat(completed).hasSize(1);
    assertThat(completed.get(0).at("/data/state").asText()).isEqualTo("failed");
    assertThat(completed.get(0).at("/data/resumeData").asText()).isEqualTo(resumeData);

    // The resumeData continues in a new task, which has metadata of its own.
    String next =
        cluster
            .submit(
                sid,
                json("type", "download", "resumeData", resumeData, "metadata", Map.of("order", 43)))
            .get("id")
            .asText();
    JsonNode done = cluster.awaitFinal(sid, next, FINISH);
    assertThat(done.get("state").asText()).as("task %s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(SIZE, 33));
    List<Origin.RequestRecord> requests = requestsFor(path, query);
    assertThat(requests).as("requests %s", requests).hasSize(2);
    assertThat(requests.get(1).range()).isEqualTo("bytes=" + stored + "-");
    List<JsonNode> nextEvents =
        ofTask(
            cluster.topicEvents(
                sid,
                got -> !ofType(ofTask(got, next), "transfer.task.completed").isEmpty(),
                Duration.ofSeconds(30)),
            next);
    assertThat(nextEvents)
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.at("/data/metadata/order").asInt()).isEqualTo(43));
  }

  // ------------------------------------------------------------------ helpers

  private static List<Origin.RequestRecord> requestsFor(String path, String query) {
    return origin.requests().stream()
        .filter(r -> r.path().equals(path) && query.equals(r.query()))
        .toList();
  }

  /** The stored bytes a resumeData names; it is opaque to clients, but a test may look. */
  private static long resumeBytes(String resumeData) throws Exception {
    byte[] raw = Base64.getUrlDecoder().decode(resumeData);
    return new ObjectMapper()
        .readTree(new String(raw, StandardCharsets.UTF_8))
        .get("bytes")
        .asLong();
  }
}
