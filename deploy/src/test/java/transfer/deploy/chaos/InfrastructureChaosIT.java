package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.chaos.ChaosCluster.eventually;
import static transfer.deploy.chaos.SessionEvents.assertExactlyOneCompletionEach;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import transfer.deploy.ApiClient;
import transfer.testkit.Origin;
import transfer.testkit.Switchable;
import transfer.testkit.TestInfra;

/**
 * Faults 6 and 7 of docs/TESTING.md: the broker and the database go away mid-run, and the
 * api-service dies between its commit and the Kafka send. Every task the API accepted must complete
 * exactly once, and nothing may appear on the results topic that the ledger did not record.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class InfrastructureChaosIT extends ChaosTest {

  /** Fault 6, the broker. */
  @Test
  void everyAcceptedTaskCompletesOnceAfterTheBrokerWasDownMidRun() throws Exception {
    Switchable kafka = cluster.kafka();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    long size = 8 * MIB;
    Map<String, Long> running = submit(sid, 6, size, 2 * MIB); // four seconds each
    await("the first tasks run")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                running.keySet().stream()
                    .allMatch(t -> cluster.ledger().row(t).bytesTransferred() > 0));

    kafka.stop();
    Map<String, Long> all = new LinkedHashMap<>(running);
    boolean finishedWhileDown;
    boolean replayedWhileDown;
    try {
      // Submitting needs only the ledger: the doorbells wait in the outbox.
      all.putAll(submit(sid, 3, size, 0));
      // A running transfer needs only the ledger and the origin, so the broker stays down until
      // the first tasks have finished without it.
      finishedWhileDown =
          eventually(
              Duration.ofSeconds(20),
              () ->
                  running.keySet().stream()
                      .allMatch(t -> cluster.ledger().row(t).state().equals("completed")));
      // Replay serves the stored events: numbered without the broker, which the relay's publish
      // to the unreachable broker (up to 30 s a try) must not hold back.
      replayedWhileDown =
          eventually(
              Duration.ofSeconds(10),
              () ->
                  SessionEvents.completedTasks(cluster.events().replay(sid))
                      .containsAll(running.keySet()));
    } finally {
      kafka.start();
    }

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(finishedWhileDown)
        .as("transfers that were running finished while the broker was down")
        .isTrue();
    soft.assertThat(replayedWhileDown)
        .as("their completion events were in the replay while the broker was down")
        .isTrue();
    assertAllCompleteOnce(soft, sid, all, size, Duration.ofSeconds(90));
    soft.assertAll();
  }

  /**
   * Second catalogue, fault 10: Kafka unreachable. Tasks submitted while the broker is down reach
   * no worker by doorbell; a worker with free slots that has not claimed for {@code
   * transfer.worker.idle-poll} asks the ledger by itself and runs them, and the broker's return
   * only delivers their events. The cluster's own workers claim only by doorbell (their idle poll
   * is an hour, see ChaosCluster), so the tasks complete only through the idle poll of a worker
   * started here.
   */
  @Test
  void tasksSubmittedWhileTheBrokerIsDownStartOnAWorkerThatPollsTheLedger() throws Exception {
    Switchable kafka = cluster.kafka();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    int port = ChaosCluster.freePort();
    java.nio.file.Path log = cluster.dataDir.resolve("idle-poller.log");
    Map<String, String> env = cluster.env();
    env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
    env.put("TRANSFER_WORKER_ID", "chaos-idle-poller");
    env.put("TRANSFER_WORKER_SLOTS", "4");
    env.put("TRANSFER_WORKER_IDLE_POLL", "1s");
    transfer.deploy.ServiceProcess poller =
        transfer.deploy.ServiceProcess.start(
            "chaos-idle-poller",
            cluster.root.resolve("worker-service/target/quarkus-app/quarkus-run.jar"),
            env,
            List.of("-Xmx128m", "-XX:+ExitOnOutOfMemoryError"),
            log);
    Map<String, Long> all;
    boolean finishedWhileDown;
    Duration untilCompleted;
    try {
      poller.awaitReady(port, Duration.ofSeconds(120));
      kafka.stop();
      try {
        Instant submitted = Instant.now();
        all = submit(sid, 3, MIB, 0);
        finishedWhileDown =
            eventually(
                Duration.ofSeconds(60),
                () ->
                    all.keySet().stream()
                        .allMatch(t -> cluster.ledger().row(t).state().equals("completed")));
        untilCompleted = Duration.between(submitted, Instant.now());
      } finally {
        kafka.start();
      }
    } finally {
      poller.stop(Duration.ofSeconds(25));
    }
    ChaosCluster.figures(
        "second catalogue, fault 10: 3 tasks submitted with the broker down completed in %s"
            + " (idle poll 1 s)",
        untilCompleted);

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(finishedWhileDown)
        .as("tasks submitted while the broker was down completed before it came back")
        .isTrue();
    soft.assertThat(java.nio.file.Files.readString(log))
        .as("the worker says it claimed without a doorbell")
        .contains("idle poll: claimed");
    assertAllCompleteOnce(soft, sid, all, MIB, Duration.ofSeconds(90));
    soft.assertAll();
  }

  /** Fault 6, the database. */
  @Test
  void everyAcceptedTaskCompletesOnceAfterPostgresWasDownMidRun() throws Exception {
    Switchable postgres = cluster.postgres();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    long size = 8 * MIB;
    Map<String, Long> accepted = submit(sid, 6, size, 2 * MIB); // four seconds each
    await("the tasks run")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                accepted.keySet().stream()
                    .allMatch(t -> cluster.ledger().row(t).bytesTransferred() > 0));

    List<Integer> refused = new ArrayList<>();
    postgres.stop();
    Instant downAt = Instant.now();
    try {
      // Submits while the ledger is down: whatever the API answers, only a 201 is a promise.
      for (int i = 0; i < 2; i++) {
        long seed = ChaosCluster.newSeed();
        ApiClient.Answer a =
            cluster.call(
                "POST",
                "/v1/sessions/" + sid + "/tasks",
                ChaosCluster.downloadBody(
                    cluster.origin.url("/bytes/" + size + "?seed=" + seed), null));
        if (a.status() == 201) {
          accepted.put(a.body().get("id").asText(), seed);
        } else {
          refused.add(a.status());
        }
      }
      // Down for longer than a lease: every worker loses its leases and must fence itself.
      await("the database stays down for more than a lease")
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  Duration.between(downAt, Instant.now())
                          .compareTo(ChaosCluster.LEASE_TTL.plusSeconds(1))
                      > 0);
    } finally {
      postgres.start();
    }

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(refused)
        .as("submits while the database was down were refused with a 5xx")
        .allMatch(s -> s >= 500);
    assertAllCompleteOnce(soft, sid, accepted, size, Duration.ofSeconds(120));
    soft.assertAll();
  }

  /**
   * Fault 7, the crash: the broker is down, so the relay cannot publish; the task is committed (its
   * doorbell is in the outbox) when the api-service is killed. Restarted, the relay publishes it,
   * and the client's retry with the same {@code Idempotency-Key} finds the same task.
   */
  @Test
  void aTaskCommittedJustBeforeTheApiCrashedStillReachesTheWorkers() throws Exception {
    Switchable kafka = cluster.kafka();
    long size = MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String body =
        ChaosCluster.downloadBody(cluster.origin.url("/bytes/" + size + "?seed=" + seed), null);
    Map<String, String> key = Map.of("Idempotency-Key", "chaos-" + UUID.randomUUID());

    String tid;
    long doorbellsWaiting;
    kafka.stop();
    try {
      ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body, key);
      assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
      tid = a.body().get("id").asText();
      doorbellsWaiting =
          cluster
              .ledger()
              .count(
                  "select count(*) from outbox where topic = ? and msg_key = ?",
                  TestInfra.TASKS_TOPIC,
                  tid);
      cluster.killApi();
    } finally {
      kafka.start();
    }
    cluster.restartApi();
    // The client saw the connection drop (as far as it knows) and tries again, same key.
    ApiClient.Answer retry = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body, key);
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(doorbellsWaiting)
        .as("the task's doorbell was committed to the outbox but not yet sent at the crash")
        .isEqualTo(1);
    soft.assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("completed");
    soft.assertThat(task.path("sha256").asText()).isEqualTo(Origin.sha256Hex(size, seed));
    soft.assertThat(retry.status())
        .as("the retry with the same Idempotency-Key: %s", retry.body())
        .isIn(200, 201);
    soft.assertThat(retry.body() != null ? retry.body().path("id").asText() : null)
        .as("the retry with the same Idempotency-Key answers the same task")
        .isEqualTo(tid);
    soft.assertThat(cluster.ledger().count("select count(*) from tasks where session_id = ?", sid))
        .as("tasks in the session")
        .isEqualTo(1);
    soft.assertThat(cluster.originRequests(seed)).as("fetches of the task's URL").hasSize(1);
    cluster.events().assertOneCompletionEach(soft, sid, List.of(tid), Duration.ofSeconds(30));
    soft.assertAll();
  }

  /** Fault 7, the idempotency contract by itself. */
  @Test
  void theSameIdempotencyKeyAnswersTheSameTaskAndADifferentBodyIs422() throws Exception {
    long seed = ChaosCluster.newSeed();
    long otherSeed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String path = "/v1/sessions/" + sid + "/tasks";
    String body =
        ChaosCluster.downloadBody(cluster.origin.url("/bytes/" + MIB + "?seed=" + seed), null);
    String otherBody =
        ChaosCluster.downloadBody(cluster.origin.url("/bytes/" + MIB + "?seed=" + otherSeed), null);
    Map<String, String> key = Map.of("Idempotency-Key", "chaos-" + UUID.randomUUID());

    ApiClient.Answer first = cluster.call("POST", path, body, key);
    ApiClient.Answer again = cluster.call("POST", path, body, key);
    ApiClient.Answer other = cluster.call("POST", path, otherBody, key);
    assertThat(first.status()).as("first POST: %s", first.body()).isEqualTo(201);
    String tid = first.body().get("id").asText();
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(again.status()).as("same key, same body: %s", again.body()).isIn(200, 201);
    soft.assertThat(again.body() != null ? again.body().path("id").asText() : null)
        .as("same key, same body answers the same task")
        .isEqualTo(tid);
    soft.assertThat(other.status()).as("same key, other body: %s", other.body()).isEqualTo(422);
    soft.assertThat(other.contentType()).startsWith("application/problem+json");
    soft.assertThat(cluster.ledger().count("select count(*) from tasks where session_id = ?", sid))
        .as("tasks in the session")
        .isEqualTo(1);
    soft.assertThat(task.path("state").asText()).isEqualTo("completed");
    soft.assertThat(cluster.originRequests(seed)).as("fetches of the task's URL").hasSize(1);
    soft.assertThat(cluster.originRequests(otherSeed)).as("fetches of the refused URL").isEmpty();
    cluster.events().assertOneCompletionEach(soft, sid, List.of(tid), Duration.ofSeconds(30));
    soft.assertAll();
  }

  // ------------------------------------------------------------------ helpers

  /** Submits {@code n} downloads ({@code rate} 0 = unlimited); task id to seed. */
  private static Map<String, Long> submit(String sid, int n, long size, long rate)
      throws Exception {
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      long seed = ChaosCluster.newSeed();
      String url =
          cluster.origin.url(
              "/bytes/" + size + "?seed=" + seed + (rate > 0 ? "&rate=" + rate : ""));
      seeds.put(cluster.submit(sid, url), seed);
    }
    return seeds;
  }

  private static void assertAllCompleteOnce(
      SoftAssertions soft, String sid, Map<String, Long> tasks, long size, Duration timeout)
      throws Exception {
    for (Map.Entry<String, Long> t : tasks.entrySet()) {
      JsonNode task;
      try {
        task = cluster.awaitFinal(sid, t.getKey(), timeout);
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        soft.fail("task %s did not end: %s", t.getKey(), cluster.task(sid, t.getKey()));
        continue;
      }
      soft.assertThat(task.path("state").asText())
          .as("task %s: %s", t.getKey(), task)
          .isEqualTo("completed");
      soft.assertThat(task.path("sha256").asText())
          .as("SHA-256 of %s", t.getKey())
          .isEqualTo(Origin.sha256Hex(size, t.getValue()));
    }
    List<JsonNode> events =
        cluster.events().eventsUntilCompleted(sid, tasks.keySet(), Duration.ofSeconds(60));
    soft.assertThatCode(() -> assertExactlyOneCompletionEach(events, tasks.keySet()))
        .doesNotThrowAnyException();
    soft.assertThatCode(() -> cluster.events().assertTopicMatchesLedger(sid, events))
        .as("no phantom events, none lost")
        .doesNotThrowAnyException();
  }
}
