package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.ClusterFixture.json;
import static transfer.deploy.ClusterFixture.ofTask;
import static transfer.deploy.ClusterFixture.ofType;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * A session's life on the whole cluster: invalidation (cancel everything, or let the tasks finish),
 * the one {@code transfer.session.drained} after its last task, and the paged task list.
 */
class SessionLifecycleClusterIT extends ClusterTest {
  private static final Duration FINISH = Duration.ofSeconds(60);
  private static final String DRAINED = "transfer.session.drained";
  private static final String COMPLETED = "transfer.task.completed";

  @Test
  void deletingASessionCancelsItsQueuedAndRunningTasksThenDrainsIt() throws Exception {
    String sid = cluster.newSession("cancel-all", json("maxConcurrentTransfers", 1));
    String slowPath = "/bytes/" + (2 << 20);
    String slowQuery = "seed=61&rate=" + (256 << 10);
    String running = submit(sid, origin.url(slowPath + "?" + slowQuery));
    List<String> queued =
        List.of(
            submit(sid, origin.url("/bytes/4096?seed=62")),
            submit(sid, origin.url("/bytes/4096?seed=63")));
    cluster.awaitTask(sid, running, FINISH, t -> t.get("bytesTransferred").asLong() > 0);
    for (String q : queued) {
      assertThat(cluster.task(sid, q).get("state").asText()).isEqualTo("queued");
    }

    ApiClient.Answer deleted = cluster.call("DELETE", "/v1/sessions/" + sid, null);
    assertThat(deleted.status()).as("DELETE: %s", deleted.body()).isEqualTo(200);
    assertThat(deleted.body().get("state").asText()).isEqualTo("invalidated");

    List<String> all = new ArrayList<>(queued);
    all.add(0, running);
    for (String tid : all) {
      JsonNode t = cluster.task(sid, tid);
      assertThat(t.get("state").asText()).as("task %s", t).isEqualTo("canceled");
      assertThat(t.at("/error/code").asText()).isEqualTo("canceled");
    }
    assertRefusesNewTasks(sid);

    List<JsonNode> events = cluster.topicEvents(sid, has(DRAINED), Duration.ofSeconds(30));
    assertDrainedLast(events, all);
    assertThat(ofType(events, "transfer.session.invalidated"))
        .singleElement()
        .satisfies(e -> assertThat(e.at("/data/finishTasks").asBoolean()).isFalse());
    for (String tid : all) {
      List<JsonNode> completed = ofType(ofTask(events, tid), COMPLETED);
      assertThat(completed).as("completions of %s", tid).hasSize(1);
      assertThat(completed.get(0).at("/data/error/code").asText()).isEqualTo("canceled");
    }
    // The queued tasks never reached the origin, and the running one's body stopped short.
    assertThat(origin.requests()).noneMatch(r -> r.path().equals("/bytes/4096"));
    long[] sent = {-1};
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              long now = bytesSent(slowPath, slowQuery);
              boolean still = now == sent[0];
              sent[0] = now;
              return still;
            });
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(3))
        .until(() -> bytesSent(slowPath, slowQuery) == sent[0]);
    assertThat(sent[0]).isLessThan(2 << 20);
  }

  @Test
  void finishTasksLetsOpenTasksCompleteRefusesNewOnesThenDrains() throws Exception {
    String sid = cluster.newSession("finish", json("maxConcurrentTransfers", 1));
    String running =
        submit(sid, origin.url("/bytes/" + (1 << 20) + "?seed=64&rate=" + (512 << 10)));
    String queued = submit(sid, origin.url("/bytes/8192?seed=65"));
    cluster.awaitTask(sid, running, FINISH, t -> t.get("state").asText().equals("running"));

    ApiClient.Answer deleted =
        cluster.call("DELETE", "/v1/sessions/" + sid + "?finishTasks=true", null);
    assertThat(deleted.status()).as("DELETE: %s", deleted.body()).isEqualTo(200);
    assertThat(deleted.body().get("state").asText()).isEqualTo("finishing");
    assertRefusesNewTasks(sid);

    JsonNode first = cluster.awaitFinal(sid, running, FINISH);
    JsonNode second = cluster.awaitFinal(sid, queued, FINISH);
    assertThat(first.get("state").asText()).as("task %s", first).isEqualTo("completed");
    assertThat(first.get("sha256").asText()).isEqualTo(Origin.sha256Hex(1 << 20, 64));
    assertThat(second.get("state").asText()).as("task %s", second).isEqualTo("completed");
    assertThat(second.get("sha256").asText()).isEqualTo(Origin.sha256Hex(8192, 65));
    assertRefusesNewTasks(sid);

    List<JsonNode> events = cluster.topicEvents(sid, has(DRAINED), Duration.ofSeconds(30));
    JsonNode drained = assertDrainedLast(events, List.of(running, queued));
    assertThat(ofType(events, "transfer.session.invalidated"))
        .singleElement()
        .satisfies(e -> assertThat(e.at("/data/finishTasks").asBoolean()).isTrue());
    assertThat(drained.at("/data/tasks/completed").asInt()).isEqualTo(2);
    assertThat(drained.at("/data/tasks/canceled").asInt()).isZero();
  }

  @Test
  void aSessionEmitsExactlyOneDrainedAfterItsLastCompletionWithTheHighestSequence()
      throws Exception {
    String sid = cluster.newSession("drained", "{}");
    // The slow first task keeps the session busy while the others are submitted: the session
    // must not drain in between.
    List<String> ids = new ArrayList<>();
    ids.add(submit(sid, origin.url("/bytes/" + (1 << 20) + "?seed=71&rate=" + (512 << 10))));
    for (int i = 1; i <= 4; i++) {
      ids.add(submit(sid, origin.url("/bytes/" + (i * 8192) + "?seed=" + (71 + i))));
    }
    for (String tid : ids) {
      JsonNode t = cluster.awaitFinal(sid, tid, FINISH);
      assertThat(t.get("state").asText()).as("task %s", t).isEqualTo("completed");
    }

    // The stored events, as replayed: the drained event is the one with the highest sequence.
    List<JsonNode> replay = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              replay.clear();
              replay.addAll(cluster.replay(sid));
              return has(DRAINED).test(replay);
            });
    JsonNode drained = assertDrainedLast(replay, ids);
    assertThat(drained.at("/data/tasks/completed").asInt()).isEqualTo(5);
    assertThat(drained.get("id").asText())
        .isEqualTo(drained.at("/data/lastTaskId").asText() + ":drained");
    long previous = 0;
    for (JsonNode e : replay) {
      assertThat(e.get("sequence").asLong()).isGreaterThan(previous);
      previous = e.get("sequence").asLong();
    }

    // The same on the results topic (where an event may repeat, always with its id).
    List<JsonNode> topic = cluster.topicEvents(sid, has(DRAINED), Duration.ofSeconds(30));
    JsonNode published = assertDrainedLast(topic, ids);
    assertThat(published.get("id").asText()).isEqualTo(drained.get("id").asText());
    assertThat(distinctIds(topic)).containsExactlyInAnyOrderElementsOf(distinctIds(replay));
  }

  @Test
  void theTaskListPagesInCreationOrderAndFiltersByState() throws Exception {
    String sid = cluster.newSession("paging", "{}");
    String later = Instant.now().plus(Duration.ofHours(1)).toString();
    List<String> all = new ArrayList<>();
    List<String> quick = new ArrayList<>();
    List<String> waiting = new ArrayList<>();
    List<String> canceled = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      String url = origin.url("/bytes/1024?seed=" + (900 + i));
      if (i % 5 < 2) {
        String tid = submit(sid, url);
        quick.add(tid);
        all.add(tid);
      } else {
        String tid =
            cluster
                .submit(sid, json("type", "download", "url", url, "earliestBeginAt", later))
                .get("id")
                .asText();
        all.add(tid);
        if (i % 3 == 0) {
          assertThat(
                  cluster
                      .call("POST", "/v1/sessions/" + sid + "/tasks/" + tid + "/cancel", null)
                      .status())
              .isEqualTo(200);
          canceled.add(tid);
        } else {
          waiting.add(tid);
        }
      }
    }
    assertThat(quick).hasSize(10);
    assertThat(canceled).hasSize(5);
    assertThat(waiting).hasSize(10);
    for (String tid : quick) {
      assertThat(cluster.awaitFinal(sid, tid, FINISH).get("state").asText()).isEqualTo("completed");
    }

    assertThat(pages(sid, ""))
        .containsExactly(all.subList(0, 10), all.subList(10, 20), all.subList(20, 25));
    // Completed and canceled interleave in creation order: 15 of them, a full page and 5.
    List<String> finished = new ArrayList<>(all);
    finished.removeAll(waiting);
    assertThat(pages(sid, "&state=completed,canceled"))
        .containsExactly(finished.subList(0, 10), finished.subList(10, 15));
    assertThat(pages(sid, "&state=completed&state=canceled"))
        .containsExactly(finished.subList(0, 10), finished.subList(10, 15));
    // Exactly a page of waiting tasks: no next, so no empty page after it.
    assertThat(pages(sid, "&state=waiting")).containsExactly(waiting);
    assertThat(pages(sid, "&state=canceled")).containsExactly(canceled);
    assertThat(pages(sid, "&state=running")).containsExactly(List.of());

    ApiClient.Answer bad = cluster.call("GET", "/v1/sessions/" + sid + "/tasks?state=done", null);
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.contentType()).startsWith("application/problem+json");
    assertThat(bad.body().at("/errors/0/field").asText()).isEqualTo("state");

    assertThat(cluster.call("DELETE", "/v1/sessions/" + sid, null).status()).isEqualTo(200);
  }

  // ------------------------------------------------------------------ helpers

  private static String submit(String sid, String url) throws Exception {
    return cluster.submit(sid, json("type", "download", "url", url)).get("id").asText();
  }

  /** Every page of the task list with limit 10, following {@code next}; each page's ids. */
  private static List<List<String>> pages(String sid, String filter) throws Exception {
    List<List<String>> pages = new ArrayList<>();
    String after = null;
    do {
      ApiClient.Answer a =
          cluster.call(
              "GET",
              "/v1/sessions/"
                  + sid
                  + "/tasks?limit=10"
                  + filter
                  + (after != null ? "&after=" + after : ""),
              null);
      assertThat(a.status()).as("list: %s", a.body()).isEqualTo(200);
      List<String> ids = new ArrayList<>();
      a.body().get("tasks").forEach(t -> ids.add(t.get("id").asText()));
      pages.add(ids);
      JsonNode next = a.body().get("next");
      after = next.isNull() ? null : next.asText();
      if (after != null) {
        assertThat(ids).hasSize(10).last().isEqualTo(after);
      }
      assertThat(pages).as("pages so far").hasSizeLessThan(10);
    } while (after != null);
    return pages;
  }

  private static void assertRefusesNewTasks(String sid) throws Exception {
    ApiClient.Answer refused =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            json("type", "download", "url", origin.url("/bytes/1?seed=1")));
    assertThat(refused.status()).as("submit: %s", refused.body()).isEqualTo(409);
    assertThat(refused.contentType()).startsWith("application/problem+json");
  }

  /**
   * Exactly one drained event id, after one completion of every task, with a higher sequence than
   * every other event of the session. Answers it.
   */
  private static JsonNode assertDrainedLast(List<JsonNode> events, List<String> tasks) {
    Map<String, JsonNode> byId = new LinkedHashMap<>();
    events.forEach(e -> byId.putIfAbsent(e.get("id").asText(), e));
    List<JsonNode> distinct = List.copyOf(byId.values());
    List<JsonNode> drained = ofType(distinct, DRAINED);
    assertThat(drained).as("drained events of %s", distinct).hasSize(1);
    long drainedSeq = drained.get(0).get("sequence").asLong();
    for (JsonNode e : distinct) {
      if (e != drained.get(0)) {
        assertThat(e.get("sequence").asLong()).as("event %s", e).isLessThan(drainedSeq);
      }
    }
    for (String tid : tasks) {
      assertThat(ofType(ofTask(distinct, tid), COMPLETED)).as("completion of %s", tid).hasSize(1);
    }
    assertThat(drained.get(0).at("/data/sessionId").asText())
        .isEqualTo(drained.get(0).get("source").asText().substring("/sessions/".length()));
    return drained.get(0);
  }

  private static Predicate<List<JsonNode>> has(String type) {
    return got -> got.stream().anyMatch(e -> type.equals(e.get("type").asText()));
  }

  private static List<String> distinctIds(List<JsonNode> events) {
    return events.stream().map(e -> e.get("id").asText()).distinct().toList();
  }

  private static long bytesSent(String path, String query) {
    return origin.requests().stream()
        .filter(r -> r.path().equals(path) && query.equals(r.query()))
        .mapToLong(Origin.RequestRecord::bytesSent)
        .sum();
  }
}
