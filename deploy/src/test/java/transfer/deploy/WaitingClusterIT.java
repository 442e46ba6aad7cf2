package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * Waiting for connectivity (URLSession's {@code waitsForConnectivity}), on real sockets: the origin
 * is down for a minute and comes back. A task of a session that waits (the default) keeps trying,
 * far past its {@code retry.maxAttempts}, says once that it waits and why, shows when its next
 * attempt is due and its deadline, and completes when the origin is back; a task of a session that
 * does not wait fails after its attempts.
 */
class WaitingClusterIT extends ClusterTest {
  private static final String FAST =
      "\"retry\":{\"maxAttempts\":3,\"initialBackoff\":\"PT0.5S\",\"maxBackoff\":\"PT4S\"}";

  @Test
  void aTaskWaitsOutAnOriginThatIsDownForAMinute() throws Exception {
    String waits = cluster.newSession("waits", "{" + FAST + "}");
    String givesUp =
        cluster.newSession("gives-up", "{" + FAST + ",\"waitsForConnectivity\":false}");
    long size = 500_000;
    String url = origin.url("/bytes/" + size + "?seed=61");
    origin.close();
    Instant down = Instant.now();
    String patient = download(waits, url);
    String impatient = download(givesUp, url);

    JsonNode waiting =
        cluster.awaitTask(
            waits,
            patient,
            Duration.ofSeconds(30),
            t -> t.path("state").asText().equals("waiting") && t.path("attempt").asInt() >= 2);
    assertThat(waiting.get("waitingReason").asText()).isEqualTo("connectivity");
    assertThat(Instant.parse(waiting.get("nextAttemptAt").asText())).isAfter(down);
    assertThat(Instant.parse(waiting.get("deadlineAt").asText()))
        .isAfter(Instant.now().plus(Duration.ofDays(6)));
    assertThat(waiting.at("/error/code").asText()).isEqualTo("connection_failed");

    JsonNode gaveUp = cluster.awaitFinal(givesUp, impatient, Duration.ofSeconds(60));
    assertThat(gaveUp.get("state").asText()).isEqualTo("failed");
    assertThat(gaveUp.at("/error/code").asText()).isEqualTo("attempts_exhausted");

    // A minute of outage: far more attempts than maxAttempts, and still not failed.
    Thread.sleep(Math.max(0, Duration.between(Instant.now(), down.plusSeconds(60)).toMillis()));
    JsonNode stillWaiting = cluster.task(waits, patient);
    assertThat(stillWaiting.get("state").asText())
        .as("%s", stillWaiting)
        .isIn("waiting", "queued", "running");
    assertThat(stillWaiting.get("attempt").asInt()).isGreaterThan(3);

    origin = Origin.start(cluster.originPort);
    JsonNode done = cluster.awaitFinal(waits, patient, Duration.ofSeconds(60));
    assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 61));
    assertThat(done.has("waitingReason") && !done.get("waitingReason").isNull()).isFalse();

    // One waiting event for the whole outage, with its reason, its error and its times.
    List<JsonNode> events = ClusterFixture.ofTask(cluster.replay(waits), patient);
    List<JsonNode> announced = ClusterFixture.ofType(events, "transfer.task.waiting");
    assertThat(announced).hasSize(1);
    JsonNode data = announced.get(0).get("data");
    assertThat(data.get("reason").asText()).isEqualTo("connectivity");
    assertThat(data.at("/error/code").asText()).isEqualTo("connection_failed");
    assertThat(data.get("nextAttemptAt").asText()).isNotBlank();
    assertThat(data.get("deadlineAt").asText()).isEqualTo(done.get("deadlineAt").asText());
    assertThat(ClusterFixture.ofType(events, "transfer.task.completed")).hasSize(1);
  }

  private static String download(String sid, String url) throws Exception {
    return cluster
        .submit(sid, "{\"type\":\"download\",\"url\":\"" + url + "\"}")
        .get("id")
        .asText();
  }
}
