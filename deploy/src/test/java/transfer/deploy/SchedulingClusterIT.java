package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.ClusterFixture.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * When tasks start, on the whole cluster: priority within {@code maxConcurrentTransfers}, {@code
 * earliestBeginAt}, and {@code maxConnectionsPerHost} counted over both workers.
 */
class SchedulingClusterIT extends ClusterTest {
  private static final Duration FINISH = Duration.ofSeconds(60);

  @Test
  void aHigherPriorityTaskStartsAndFinishesFirstWhenTheSessionIsFull() throws Exception {
    String sid = cluster.newSession("priority", json("maxConcurrentTransfers", 1));
    String slow = submit(sid, "/bytes/" + (1 << 20) + "?seed=41&rate=" + (256 << 10), Map.of());
    cluster.awaitTask(sid, slow, FINISH, t -> t.get("state").asText().equals("running"));
    // The low one is older: in announcement order it would go first.
    String low = submit(sid, "/bytes/4096?seed=42", Map.of("priority", 0.1));
    String high = submit(sid, "/bytes/4096?seed=43", Map.of("priority", 0.9));
    assertThat(cluster.task(sid, low).get("state").asText()).isEqualTo("queued");
    assertThat(cluster.task(sid, high).get("state").asText()).isEqualTo("queued");

    JsonNode slowDone = cluster.awaitFinal(sid, slow, FINISH);
    JsonNode lowDone = cluster.awaitFinal(sid, low, FINISH);
    JsonNode highDone = cluster.awaitFinal(sid, high, FINISH);
    for (JsonNode t : List.of(slowDone, lowDone, highDone)) {
      assertThat(t.get("state").asText()).as("task %s", t).isEqualTo("completed");
    }
    assertThat(highDone.get("sha256").asText()).isEqualTo(Origin.sha256Hex(4096, 43));

    Instant slowFinished = Instant.parse(slowDone.get("finishedAt").asText());
    Instant lowAsked = firstRequest("/bytes/4096", "seed=42").at();
    Instant highAsked = firstRequest("/bytes/4096", "seed=43").at();
    // Neither started while the slow one held the session's one slot; then high before low.
    assertThat(highAsked).isAfter(slowFinished);
    assertThat(lowAsked).isAfter(highAsked);
    assertThat(Instant.parse(highDone.get("finishedAt").asText()))
        .isBefore(Instant.parse(lowDone.get("finishedAt").asText()));
  }

  @Test
  void aTaskWaitsForItsEarliestBeginAt() throws Exception {
    String sid = cluster.newSession("later", "{}");
    Instant begin = Instant.now().plusSeconds(3).truncatedTo(ChronoUnit.MILLIS);
    JsonNode submitted =
        cluster.submit(
            sid,
            json(
                "type",
                "download",
                "url",
                origin.url("/bytes/8192?seed=44"),
                "earliestBeginAt",
                begin.toString()));
    String tid = submitted.get("id").asText();
    assertThat(submitted.get("state").asText()).isEqualTo("waiting");
    assertThat(Instant.parse(submitted.get("earliestBeginAt").asText())).isEqualTo(begin);

    // Every look before the instant finds it waiting; it then runs and completes.
    List<String> early = new ArrayList<>();
    JsonNode done =
        cluster.awaitTask(
            sid,
            tid,
            FINISH,
            t -> {
              if (Instant.now().isBefore(begin)) {
                early.add(t.get("state").asText());
              }
              return ClusterFixture.FINAL_STATES.contains(t.get("state").asText());
            });
    assertThat(early).hasSizeGreaterThan(5).containsOnly("waiting");
    assertThat(done.get("state").asText()).as("task %s", done).isEqualTo("completed");
    assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(8192, 44));

    Origin.RequestRecord asked = firstRequest("/bytes/8192", "seed=44");
    assertThat(asked.at()).isAfterOrEqualTo(begin).isBefore(begin.plusSeconds(10));
  }

  @Test
  void noMoreThanMaxConnectionsPerHostRunAtOnceAcrossBothWorkers() throws Exception {
    String sid = cluster.newSession("perhost", json("maxConnectionsPerHost", 2));
    long size = 512L << 10;
    long rate = 256L << 10; // 2 s each: three rounds of two
    Set<String> paths = new HashSet<>();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      String path = "/bytes/" + size;
      ids.add(submit(sid, path + "?seed=" + (50 + i) + "&rate=" + rate, Map.of()));
      paths.add(path);
    }

    // Sample both views until all are done: the ledger's running tasks and the origin's open
    // responses (asked for and not fully sent).
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger maxOpen = new AtomicInteger();
    await()
        .atMost(FINISH)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              JsonNode page =
                  cluster.call("GET", "/v1/sessions/" + sid + "/tasks?limit=100", null).body();
              int running = 0;
              int finished = 0;
              for (JsonNode t : page.get("tasks")) {
                String state = t.get("state").asText();
                running += state.equals("running") ? 1 : 0;
                finished += ClusterFixture.FINAL_STATES.contains(state) ? 1 : 0;
              }
              int open =
                  (int)
                      origin.requests().stream()
                          .filter(r -> paths.contains(r.path()) && r.bytesSent() < size)
                          .count();
              maxRunning.accumulateAndGet(running, Math::max);
              maxOpen.accumulateAndGet(open, Math::max);
              return finished == ids.size();
            });
    assertThat(maxRunning.get()).as("most tasks running at once").isEqualTo(2);
    assertThat(maxOpen.get()).as("most responses open at once").isLessThanOrEqualTo(2);
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = cluster.task(sid, ids.get(i));
      assertThat(t.get("state").asText()).as("task %s", t).isEqualTo("completed");
      assertThat(t.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 50 + i));
    }
  }

  // ------------------------------------------------------------------ helpers

  private static String submit(String sid, String pathAndQuery, Map<String, Object> extra)
      throws Exception {
    Map<String, Object> body = new java.util.LinkedHashMap<>(extra);
    body.put("type", "download");
    body.put("url", origin.url(pathAndQuery));
    Object[] pairs = new Object[body.size() * 2];
    int i = 0;
    for (Map.Entry<String, Object> e : body.entrySet()) {
      pairs[i++] = e.getKey();
      pairs[i++] = e.getValue();
    }
    return cluster.submit(sid, json(pairs)).get("id").asText();
  }

  private static Origin.RequestRecord firstRequest(String path, String query) {
    return origin.requests().stream()
        .filter(r -> r.path().equals(path) && query.equals(r.query()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("the origin never saw " + path + "?" + query));
  }
}
