package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.deploy.ClusterFixture.json;
import static transfer.deploy.ClusterFixture.ofTask;
import static transfer.deploy.ClusterFixture.ofType;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * The credentials round trip, on real sockets: an origin refuses a task's credentials (403, as an
 * expired presigned URL is refused), the task waits for new ones and says so with {@code
 * transfer.task.credentials_required}, and a {@code PATCH} of its url and headers sends it on,
 * continuing from the bytes it had stored. A session that does not wait fails at once.
 */
class CredentialsClusterIT extends ClusterTest {
  private static final long SIZE = 2L << 20;
  private static final long RATE = 256L << 10; // 8 s for the whole body
  private static final Duration FINISH = Duration.ofSeconds(60);

  @Test
  void aRefusedTaskWaitsForAPatchAndContinuesFromItsStoredBytes() throws Exception {
    String sid = cluster.newSession("credentials", "{}");
    String path = "/bytes/" + SIZE;
    String first = origin.url(path + "?seed=71&sig=first&rate=" + RATE);
    String tid = cluster.submit(sid, json("type", "download", "url", first)).get("id").asText();
    // Checkpoints every second: some bytes are stored after three.
    cluster.awaitTask(sid, tid, FINISH, t -> t.get("bytesTransferred").asLong() >= 3 * RATE);
    assertThat(call("POST", sid, tid, "/suspend", null).status()).isEqualTo(200);
    long stored = (Long) cluster.ledgerRow(tid).get("bytes_durable");
    assertThat(stored).isPositive().isLessThan(SIZE);

    // While suspended: a URL whose signature has expired. The origin refuses it.
    String expired = origin.url(path + "?seed=71&sig=expired&status=403");
    assertThat(call("PATCH", sid, tid, "", json("url", expired)).status()).isEqualTo(200);
    assertThat(call("POST", sid, tid, "/resume", null).status()).isEqualTo(200);
    JsonNode waiting =
        cluster.awaitTask(
            sid,
            tid,
            FINISH,
            t ->
                t.path("state").asText().equals("waiting")
                    && "credentials_required".equals(t.path("waitingReason").asText()));
    assertThat(waiting.at("/error/code").asText()).isEqualTo("credentials_required");
    assertThat(waiting.at("/error/httpStatus").asInt()).isEqualTo(403);
    assertThat(waiting.path("nextAttemptAt").isNull()).as("no attempt is due").isTrue();
    // It stays: no retry of a refused credential.
    Thread.sleep(3000);
    assertThat(cluster.task(sid, tid).get("state").asText()).isEqualTo("waiting");
    assertThat(
            origin.requests().stream()
                .filter(r -> r.query() != null && r.query().contains("sig=expired"))
                .count())
        .isEqualTo(1);

    // The service answers with a new URL and a header: queued at once, continued from the bytes.
    String renewed = origin.url(path + "?seed=71&sig=renewed");
    JsonNode patched =
        call(
                "PATCH",
                sid,
                tid,
                "",
                json("url", renewed, "headers", Map.of("Authorization", "Bearer renewed")))
            .body();
    assertThat(patched.get("url").asText()).isEqualTo(renewed);
    assertThat(patched.at("/headers/Authorization").asText()).isEqualTo("***");
    JsonNode done = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(SIZE, 71));

    List<Origin.RequestRecord> last =
        origin.requests().stream()
            .filter(r -> r.query() != null && r.query().contains("sig=renewed"))
            .toList();
    assertThat(last)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.authorization()).isEqualTo("Bearer renewed");
              assertThat(r.range()).isEqualTo("bytes=" + stored + "-");
              assertThat(r.status()).isEqualTo(206);
            });

    List<JsonNode> events = ofTask(cluster.replay(sid), tid);
    // The last attempt continued the stored bytes, and said so.
    assertThat(ofType(events, "transfer.task.resumed"))
        .last()
        .satisfies(
            e -> {
              assertThat(e.at("/data/fileOffset").asLong()).isEqualTo(stored);
              assertThat(e.at("/data/expectedTotalBytes").asLong()).isEqualTo(SIZE);
            });
    List<JsonNode> asked = ofType(events, "transfer.task.credentials_required");
    assertThat(asked).hasSize(1);
    assertThat(asked.get(0).at("/data/httpStatus").asInt()).isEqualTo(403);
    assertThat(asked.get(0).toString()).doesNotContain("renewed");
  }

  @Test
  void aSessionThatDoesNotWaitFailsAtOnceAndBadPatchesChangeNothing() throws Exception {
    String sid = cluster.newSession("no-wait", "{\"onAuthenticationFailure\":\"fail\"}");
    String tid =
        cluster
            .submit(
                sid, json("type", "download", "url", origin.url("/bytes/10?seed=72&status=401")))
            .get("id")
            .asText();
    JsonNode failed = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(failed.at("/error/code").asText()).isEqualTo("http_status");
    assertThat(failed.at("/error/httpStatus").asInt()).isEqualTo(401);

    // A final task does not change; a bad field is a 400 naming it; an unknown task a 404.
    ApiClient.Answer finalOne = call("PATCH", sid, tid, "", json("priority", 0.7));
    assertThat(finalOne.status()).isEqualTo(409);
    assertThat(call("PATCH", sid, tid, "", json("priority", 7)).status()).isEqualTo(400);
    ApiClient.Answer blocked = call("PATCH", sid, tid, "", json("url", "http://169.254.169.254/"));
    assertThat(blocked.status()).isEqualTo(400);
    assertThat(blocked.body().toString()).contains("url");
    assertThat(call("PATCH", sid, tid, "", "{}").status()).isEqualTo(400);
    assertThat(
            call("PATCH", sid, java.util.UUID.randomUUID().toString(), "", json("priority", 0.5))
                .status())
        .isEqualTo(404);
    assertThat(cluster.task(sid, tid).get("priority").asDouble()).isEqualTo(0.5);
  }

  private static ApiClient.Answer call(
      String method, String sid, String tid, String suffix, String body) throws Exception {
    return cluster.call(method, "/v1/sessions/" + sid + "/tasks/" + tid + suffix, body);
  }
}
