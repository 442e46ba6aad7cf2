package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.chaos.ChaosCluster.REANNOUNCE_AFTER;
import static transfer.deploy.chaos.ChaosCluster.REAPER_INTERVAL;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * Faults 4 and 5 of docs/TESTING.md: the doorbell topic. A long transfer must not hold its consumer
 * or its partition; doorbells delivered several times, replayed from offset 0, or never delivered
 * at all must each lead to exactly one fetch per attempt and one completion.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DoorbellChaosIT extends ChaosTest {

  /**
   * Fault 4. The workers' {@code max.poll.interval.ms} is Kafka's default (5 minutes) and the
   * worker offers no setting for it, so a transfer that literally outlasts it would take this test
   * over five minutes. What the criterion is about is checked instead while a transfer runs for ten
   * seconds: the doorbell's offset is committed at the claim (not at the end), the consumer keeps
   * its membership (no member leaves or rejoins), and doorbells behind it on the same partition are
   * claimed and completed while it still runs.
   */
  @Test
  void aLongTransferNeitherEvictsItsConsumerNorHoldsUpItsPartition() throws Exception {
    long size = 40 * MIB;
    long rate = 4 * MIB; // ten seconds
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    Set<String> membersBefore = cluster.doorbells().groupMemberIds();
    String slow =
        cluster.submit(
            sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed + "&rate=" + rate));
    int partition = DoorbellTopic.partitionOf(slow);
    await("the long transfer runs")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> cluster.ledger().row(slow).bytesTransferred() > 0);

    // Small tasks until three of them ring on the long transfer's partition.
    Map<String, Long> sameSeeds = new LinkedHashMap<>();
    Map<String, Instant> submittedAt = new HashMap<>();
    Map<String, Long> allSeeds = new HashMap<>();
    for (int i = 0; i < 120 && sameSeeds.size() < 3; i++) {
      long s = ChaosCluster.newSeed();
      Instant at = Instant.now();
      String t = cluster.submit(sid, cluster.origin.url("/bytes/" + 64 * KIB + "?seed=" + s));
      allSeeds.put(t, s);
      if (DoorbellTopic.partitionOf(t) == partition) {
        sameSeeds.put(t, s);
        submittedAt.put(t, at);
      }
    }
    assertThat(sameSeeds).as("small tasks on partition %d", partition).hasSize(3);

    Map<String, Instant> doneAt = new HashMap<>();
    await("small tasks on the long transfer's partition complete")
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              for (String t : sameSeeds.keySet()) {
                if (!doneAt.containsKey(t) && cluster.ledger().row(t).state().equals("completed")) {
                  doneAt.put(t, Instant.now());
                }
              }
              return doneAt.size() == sameSeeds.size();
            });
    ChaosLedger.Row slowMeanwhile = cluster.ledger().row(slow);
    Map<TopicPartition, OffsetAndMetadata> committed = cluster.doorbells().committedOffsets();
    long slowOffset = doorbellOffset(slow, partition);
    JsonNode slowTask = cluster.awaitFinal(sid, slow, Duration.ofSeconds(60));
    Set<String> membersAfter = cluster.doorbells().groupMemberIds();

    ChaosCluster.figures(
        "fault 4: submit to completion behind the long transfer on partition %d: %s",
        partition,
        sameSeeds.keySet().stream()
            .map(t -> Duration.between(submittedAt.get(t), doneAt.get(t)))
            .toList());

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(slowMeanwhile.state())
        .as("the long transfer still ran when the small ones on its partition were done")
        .isEqualTo("running");
    for (String t : sameSeeds.keySet()) {
      soft.assertThat(Duration.between(submittedAt.get(t), doneAt.get(t)))
          .as("submit to completion of %s behind the long transfer on partition %d", t, partition)
          .isLessThan(Duration.ofSeconds(5));
    }
    OffsetAndMetadata c = committed.get(new TopicPartition(TestInfra.TASKS_TOPIC, partition));
    soft.assertThat(c).as("committed offset of partition %d", partition).isNotNull();
    if (c != null) {
      soft.assertThat(c.offset())
          .as(
              "committed offset of partition %d while the long transfer (doorbell at offset %d)"
                  + " still ran",
              partition, slowOffset)
          .isGreaterThan(slowOffset);
    }
    soft.assertThat(membersAfter)
        .as("group members after the long transfer (no consumer evicted or rejoined)")
        .isEqualTo(membersBefore);
    soft.assertThat(slowTask.path("state").asText()).isEqualTo("completed");
    soft.assertThat(slowTask.path("sha256").asText()).isEqualTo(Origin.sha256Hex(size, seed));
    List<String> all = new ArrayList<>(allSeeds.keySet());
    all.add(slow);
    cluster.events().assertOneCompletionEach(soft, sid, all, Duration.ofSeconds(30));
    soft.assertAll();
  }

  /** Fault 5, first half: the same doorbell three more times, while it runs and after it ended. */
  @Test
  void duplicateDoorbellsFetchTheOriginOncePerAttemptAndCompleteOnce() throws Exception {
    long size = 8 * MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String tid =
        cluster.submit(
            sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed + "&rate=" + 4 * MIB));
    ProducerRecord<String, String> bell = cluster.doorbells().doorbell(sid, tid);
    cluster.doorbells().ring(List.of(bell, bell, bell));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
    cluster.doorbells().ring(List.of(bell, bell, bell));
    // Long enough for every worker to have read them (they poll every 100 ms).
    await("no further fetch after three more doorbells")
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .until(() -> cluster.originRequests(seed).size() == 1);

    assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.path("attempt").asInt()).isEqualTo(1);
    assertThat(task.path("sha256").asText()).isEqualTo(Origin.sha256Hex(size, seed));
    assertThat(cluster.originRequests(seed)).hasSize(1);
    assertThat(cluster.ledger().row(tid).epoch()).as("claims of the task").isEqualTo(1);
    cluster.events().assertOneCompletionEach(sid, List.of(tid), Duration.ofSeconds(30));
  }

  /** Fault 5, second half: every doorbell ever rung, rung again from offset 0. */
  @Test
  void replayingTheDoorbellTopicFromOffsetZeroFetchesNothingAgain() throws Exception {
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (int i = 0; i < 3; i++) {
      long seed = ChaosCluster.newSeed();
      seeds.put(cluster.submit(sid, cluster.origin.url("/bytes/" + MIB + "?seed=" + seed)), seed);
    }
    for (String t : seeds.keySet()) {
      cluster.awaitFinal(sid, t, Duration.ofSeconds(30));
    }
    // Every task final by now (this test's and earlier tests'): none may start again.
    Map<String, String> finalUrls = finalTaskUrls();
    String[] finalIds = finalUrls.keySet().toArray(String[]::new);
    String eventsOfFinalTasks = "select count(*) from events where task_id = any(?)";
    long eventsBefore = cluster.ledger().count(eventsOfFinalTasks, (Object) finalIds);
    Map<String, Long> fetchesBefore = fetchesOf(finalUrls.values());

    List<ConsumerRecord<String, String>> history = cluster.doorbells().all();
    assertThat(history).as("doorbells on the topic").hasSizeGreaterThanOrEqualTo(3);
    cluster
        .doorbells()
        .ring(
            history.stream()
                .map(r -> new ProducerRecord<>(TestInfra.TASKS_TOPIC, r.key(), r.value()))
                .toList());
    await("the replayed doorbells are consumed")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(() -> consumedToEnd(cluster.doorbells().committedOffsets()));
    await("nothing fetched again")
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .until(() -> fetchesOf(finalUrls.values()).equals(fetchesBefore));

    for (Map.Entry<String, Long> t : seeds.entrySet()) {
      JsonNode task = cluster.task(sid, t.getKey());
      assertThat(task.path("state").asText()).isEqualTo("completed");
      assertThat(task.path("attempt").asInt()).isEqualTo(1);
      assertThat(cluster.originRequests(t.getValue())).hasSize(1);
    }
    assertThat(finalTaskUrls().keySet())
        .as("tasks still final after the replay")
        .containsAll(finalUrls.keySet());
    assertThat(cluster.ledger().count(eventsOfFinalTasks, (Object) finalIds))
        .as("events of final tasks in the ledger after the replay (none new)")
        .isEqualTo(eventsBefore);
    cluster.events().assertOneCompletionEach(sid, seeds.keySet(), Duration.ofSeconds(30));
  }

  /**
   * Fault 5, the lost doorbell: a task that became {@code queued} without any doorbell (made
   * waiting by {@code earliestBeginAt}, which rings nothing, then queued by hand in the ledger) is
   * announced again by the reaper after {@code reannounce-after}, and runs once.
   */
  @Test
  void aQueuedTaskWhoseDoorbellNeverArrivedIsAnnouncedAgainByTheReaper() throws Exception {
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    LogWatch logs = cluster.watchLogs();
    String tid =
        cluster.submit(
            sid,
            cluster.origin.url("/bytes/" + MIB + "?seed=" + seed),
            "\"earliestBeginAt\":\"" + Instant.now().plus(Duration.ofHours(1)) + "\"");
    assertThat(cluster.ledger().row(tid).state()).isEqualTo("waiting");
    assertThat(
            cluster
                .ledger()
                .count(
                    "select count(*) from outbox where topic = ? and msg_key = ?",
                    TestInfra.TASKS_TOPIC,
                    tid))
        .as("doorbells of a waiting task in the outbox")
        .isZero();
    int changed =
        cluster
            .ledger()
            .update(
                "update tasks set state = 'queued', next_attempt_at = null, announced_at = now()"
                    + " where id = ? and state = 'waiting'",
                tid);
    assertThat(changed).isEqualTo(1);
    Instant queuedAt = Instant.now();

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
    List<Origin.RequestRecord> fetches = cluster.originRequests(seed);
    assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(fetches).hasSize(1);
    Duration untilFetched = Duration.between(queuedAt, fetches.get(0).at());
    ChaosCluster.figures(
        "fault 5: queued without a doorbell to the fetch %s (reannounce-after %s)",
        untilFetched, REANNOUNCE_AFTER);
    assertThat(untilFetched)
        .as("queued without a doorbell to the fetch: announced again after %s", REANNOUNCE_AFTER)
        .isGreaterThanOrEqualTo(REANNOUNCE_AFTER.minusMillis(500))
        .isLessThanOrEqualTo(REANNOUNCE_AFTER.plus(REAPER_INTERVAL).plusSeconds(3));
    assertThat(logs.matching("api", Pattern.compile("re-announced")))
        .as("the api-service's reaper says it re-announced")
        .isNotEmpty();
    cluster.events().assertOneCompletionEach(sid, List.of(tid), Duration.ofSeconds(30));
  }

  // ------------------------------------------------------------------ helpers

  /** Offset of the (first) doorbell of this task on its partition. */
  private static long doorbellOffset(String tid, int partition) {
    return cluster.doorbells().all().stream()
        .filter(r -> r.partition() == partition && tid.equals(r.key()))
        .mapToLong(ConsumerRecord::offset)
        .min()
        .orElseThrow(() -> new AssertionError("no doorbell for " + tid));
  }

  private static boolean consumedToEnd(Map<TopicPartition, OffsetAndMetadata> committed) {
    Map<Integer, Long> end = new HashMap<>();
    for (ConsumerRecord<String, String> r : cluster.doorbells().all()) {
      end.merge(r.partition(), r.offset() + 1, Math::max);
    }
    return end.entrySet().stream()
        .allMatch(
            e -> {
              OffsetAndMetadata c =
                  committed.get(new TopicPartition(TestInfra.TASKS_TOPIC, e.getKey()));
              return c != null && c.offset() >= e.getValue();
            });
  }

  /** Task id to URL (path and query) of every final task in the ledger. */
  private static Map<String, String> finalTaskUrls() throws Exception {
    Map<String, String> urls = new HashMap<>();
    try (var c = cluster.ledger().db();
        var ps =
            c.prepareStatement(
                "select id, url from tasks where state in ('completed', 'failed', 'canceled')");
        var rs = ps.executeQuery()) {
      while (rs.next()) {
        java.net.URI u = java.net.URI.create(rs.getString(2));
        urls.put(
            rs.getString(1),
            u.getRawPath() + (u.getRawQuery() != null ? "?" + u.getRawQuery() : ""));
      }
    }
    return urls;
  }

  /** How often the origin was asked for each of these paths-and-queries. */
  private static Map<String, Long> fetchesOf(java.util.Collection<String> pathsAndQueries) {
    Set<String> wanted = Set.copyOf(pathsAndQueries);
    return cluster.origin.requests().stream()
        .map(r -> r.path() + (r.query() != null ? "?" + r.query() : ""))
        .filter(wanted::contains)
        .collect(Collectors.groupingBy(s -> s, Collectors.counting()));
  }
}
