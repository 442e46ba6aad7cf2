package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.deploy.ClusterFixture.json;
import static transfer.deploy.ClusterFixture.ofTask;
import static transfer.deploy.ClusterFixture.ofType;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.ResumableTarget;

/**
 * Resumable uploads on real sockets (tus 1.0 and the IETF's protocol), against a target that keeps
 * what a cut PATCH delivered: the next attempt asks it for its offset and sends only the rest, the
 * task says where it resumed, and a target that does not speak the protocol fails the task with a
 * clear error. The continuation on another worker after kill -9 is {@code
 * WorkerCrashChaosIT#aResumableUploadContinuesOnAnotherWorkerAfterKill9}.
 */
class ResumableUploadClusterIT extends ClusterTest {
  private static final long SIZE = 6L << 20;
  private static final Duration FINISH = Duration.ofSeconds(60);
  private static final String FAST_RETRY =
      "{\"retry\":{\"maxAttempts\":5,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT0.5S\"}}";

  private static ResumableTarget target;

  @BeforeAll
  static void startTarget() {
    target = ResumableTarget.start(cluster.resumablePort);
  }

  @AfterAll
  static void stopTarget() {
    target.close();
  }

  @Test
  void aTusUploadCutMidBodyContinuesFromTheTargetsOffset() throws Exception {
    continuesAfterACut("tus", "");
  }

  @Test
  void anIetfUploadCutMidBodyContinuesFromTheTargetsOffset() throws Exception {
    // A relative Location: resolved against the URL the upload was created at.
    continuesAfterACut("ietf", "&relative=true");
  }

  private void continuesAfterACut(String protocol, String more) throws Exception {
    String sid = cluster.newSession("resumable-" + protocol, FAST_RETRY);
    String source = downloaded(sid, 91);
    long cut = SIZE / 3 + 12_345;
    String created = "/files/" + UUID.randomUUID() + "?cutAfter=" + cut + more;
    String tid = submitUpload(sid, target.url(created), protocol, source);

    JsonNode task = cluster.awaitFinal(sid, tid, FINISH);
    String expected = Origin.sha256Hex(SIZE, 91);
    assertThat(task.get("state").asText()).as("%s", task).isEqualTo("completed");
    assertThat(task.get("attempt").asInt()).isEqualTo(2);
    assertThat(task.get("bytesTransferred").asLong()).isEqualTo(SIZE);
    assertThat(task.get("sha256").asText()).isEqualTo(expected);

    List<ResumableTarget.Upload> uploads = target.createdAt(created);
    assertThat(uploads).as("one upload resource, created once").hasSize(1);
    ResumableTarget.Upload up = uploads.get(0);
    assertThat(up.protocol()).isEqualTo(protocol);
    assertThat(up.length()).isEqualTo(SIZE);
    assertThat(up.sha256()).as("what the target holds").isEqualTo(expected);
    // The second PATCH starts where the cut left the target: no byte is sent twice.
    assertThat(up.patchOffsets()).containsExactly(0L, cut);
    assertThat(up.heads()).as("the second attempt asked for the offset").isEqualTo(1);

    String resource = target.url("/uploads/" + up.id());
    assertThat(task.get("resumable").asText()).isEqualTo(protocol);
    assertThat(task.get("method").asText()).isEqualTo("POST");
    assertThat(task.get("uploadResource").asText()).isEqualTo(resource);
    JsonNode response = task.get("response");
    assertThat(response.get("finalUrl").asText()).isEqualTo(resource);
    assertThat(response.at("/headers/upload-offset/0").asText()).isEqualTo(String.valueOf(SIZE));

    List<JsonNode> events = ofTask(cluster.replay(sid), tid);
    List<JsonNode> resumed = ofType(events, "transfer.task.resumed");
    assertThat(resumed).hasSize(1);
    assertThat(resumed.get(0).at("/data/fileOffset").asLong()).isEqualTo(cut);
    JsonNode completed = ofType(events, "transfer.task.completed").get(0);
    assertThat(completed.at("/data/response/finalUrl").asText()).isEqualTo(resource);
  }

  @Test
  void aTargetThatCreatesNoResourceFailsTheTaskAndSaysWhy() throws Exception {
    String sid = cluster.newSession("resumable-none", FAST_RETRY);
    String source = downloaded(sid, 92);
    // The scriptable origin answers a POST with 201 and no Location: it does not speak tus.
    String tid = submitUpload(sid, origin.url("/plain/" + UUID.randomUUID()), "tus", source);

    JsonNode task = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(task.get("state").asText()).as("%s", task).isEqualTo("failed");
    assertThat(task.get("attempt").asInt()).as("not retried").isEqualTo(1);
    assertThat(task.at("/error/code").asText()).isEqualTo("http_status");
    assertThat(task.at("/error/message").asText()).contains("no Location");
  }

  @Test
  void aResumableUploadNamesAKnownProtocolAndNoOtherMethod() throws Exception {
    String sid = cluster.newSession("resumable-bad", "{}");
    String body =
        "{\"type\":\"upload\",\"url\":\""
            + target.url("/files/")
            + "\",\"method\":\"PUT\",\"resumable\":\"s3\",\"source\":{\"object\":\"x\"}}";
    ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.body().toString()).contains("resumable").contains("method");
  }

  private static String downloaded(String sid, long seed) throws Exception {
    String url = origin.url("/bytes/" + SIZE + "?seed=" + seed);
    String tid = cluster.submit(sid, json("type", "download", "url", url)).get("id").asText();
    JsonNode done = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(done.get("state").asText()).as("source %s", done).isEqualTo("completed");
    return tid;
  }

  private static String submitUpload(String sid, String url, String protocol, String source)
      throws Exception {
    return cluster
        .submit(
            sid,
            "{\"type\":\"upload\",\"url\":\""
                + url
                + "\",\"resumable\":\""
                + protocol
                + "\",\"source\":{\"task\":\""
                + source
                + "\"}}")
        .get("id")
        .asText();
  }
}
