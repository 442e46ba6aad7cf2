package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.chaos.ChaosCluster.CHECKPOINT_INTERVAL;
import static transfer.deploy.chaos.ChaosCluster.LEASE_TTL;
import static transfer.deploy.chaos.ChaosCluster.REAPER_INTERVAL;
import static transfer.deploy.chaos.ChaosCluster.eventually;
import static transfer.deploy.chaos.ChaosCluster.rangeStart;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import transfer.deploy.ApiClient.Answer;
import transfer.deploy.chaos.ChaosCluster.Worker;
import transfer.deploy.chaos.ChaosLedger.Row;
import transfer.testkit.Origin;
import transfer.testkit.ResumableTarget;

/**
 * Faults 1, 2, 3 and 14 of docs/TESTING.md: a worker killed, frozen, killed right after its claim,
 * and stopped gracefully while it transfers. Each test checks every criterion of its fault and
 * reports all that fail at once (soft assertions), since one cause (a late takeover, say) often
 * hides the others.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class WorkerCrashChaosIT extends ChaosTest {

  /**
   * Added to bounds built from the cluster's timings: Kafka delivery of the new doorbell, the claim
   * statement and this test's own polling. Not part of the catalogue's criteria.
   */
  private static final Duration SLACK = Duration.ofSeconds(1);

  /** How long a test waits for a takeover at all, so that a late one is measured, not a hang. */
  private static final Duration TAKEOVER_WAIT = Duration.ofSeconds(75);

  /** Fault 1. */
  @Test
  void resumesFromTheLastCheckpointOnAnotherWorkerAfterKill9() throws Exception {
    long size = 64 * MIB;
    long rate = 8 * MIB; // eight seconds in all; one checkpoint interval is worth 8 MiB
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    LogWatch logs = cluster.watchLogs();
    String tid =
        cluster.submit(
            sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed + "&rate=" + rate));

    await("half of the download")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> cluster.ledger().row(tid).bytesTransferred() >= size / 2);
    Worker victim = cluster.ownerOf(tid);
    victim.kill();
    Instant killedAt = Instant.now();
    Row atKill = cluster.ledger().row(tid);

    boolean tookOver = eventually(TAKEOVER_WAIT, () -> cluster.originRequests(seed).size() >= 2);
    Instant takeoverSeenAt = Instant.now();
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
    List<Origin.RequestRecord> requests = cluster.originRequests(seed);
    long served = requests.stream().mapToLong(Origin.RequestRecord::bytesSent).sum();
    long checkpointWorth = rate * CHECKPOINT_INTERVAL.toMillis() / 1000;
    String story = logs.mentioning(tid);

    Origin.RequestRecord takeover = requests.size() >= 2 ? requests.get(1) : null;
    Instant takeoverAt = takeover != null ? takeover.at() : takeoverSeenAt;
    ChaosCluster.figures(
        "fault 1: kill -9 to takeover %s (bound %s), resumed at %s (checkpoint %d), origin served"
            + " %d of %d bytes (bound %d)",
        Duration.between(killedAt, takeoverAt),
        LEASE_TTL.plus(REAPER_INTERVAL).plus(SLACK),
        takeover != null ? takeover.range() : null,
        atKill.bytesDurable(),
        served,
        size,
        size + 2 * checkpointWorth);

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(tookOver)
        .as("another worker asked the origin again within %s of the kill", TAKEOVER_WAIT)
        .isTrue();
    soft.assertThat(Duration.between(killedAt, takeoverAt))
        .as(
            "kill -9 of %s to the takeover request (criterion: lease %s + reaper %s; slack %s)."
                + " Logs:%n%s",
            victim, LEASE_TTL, REAPER_INTERVAL, SLACK, story)
        .isLessThanOrEqualTo(LEASE_TTL.plus(REAPER_INTERVAL).plus(SLACK));
    soft.assertThat(atKill.bytesDurable())
        .as(
            "a checkpoint was recorded before the kill (bytes transferred %d)",
            atKill.bytesTransferred())
        .isPositive();
    if (takeover != null) {
      soft.assertThat(rangeStart(takeover.range()))
          .as(
              "start N of the takeover's Range (header %s) vs. the last checkpoint %d",
              takeover.range(), atKill.bytesDurable())
          .isPositive()
          .isGreaterThanOrEqualTo(atKill.bytesDurable());
      soft.assertThat(takeover.ifRange())
          .as("If-Range of the takeover")
          .isEqualTo(Origin.etag(size, seed, 1));
      soft.assertThat(takeover.status()).as("status of the takeover request").isEqualTo(206);
    }
    soft.assertThat(served)
        .as(
            "bytes the origin served in all, over %d requests (criterion: the file plus two"
                + " checkpoints' worth, %d bytes each)",
            requests.size(), checkpointWorth)
        .isLessThanOrEqualTo(size + 2 * checkpointWorth);
    cluster.assertCompletedWithTheRightBytes(soft, sid, tid, task, size, seed);
    cluster.events().assertOneCompletionEach(soft, sid, List.of(tid), Duration.ofSeconds(30));
    soft.assertAll();
  }

  /** Fault 2. */
  @Test
  void aFrozenWorkerIsFencedOutWhileAnotherTakesOverAndStopsByItselfWhenThawed() throws Exception {
    long size = 48 * MIB;
    long rate = 4 * MIB; // twelve seconds in all
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String tid =
        cluster.submit(
            sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed + "&rate=" + rate));
    await("the transfer runs")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> cluster.ledger().row(tid).bytesTransferred() >= 4 * MIB);

    Row before = cluster.ledger().row(tid);
    Worker frozen = cluster.worker(before.owner());
    LogWatch logs = cluster.watchLogs();
    SoftAssertions soft = new SoftAssertions();
    JsonNode task;
    Instant takenOverAt;
    Row takeover;
    try (Sampler<Row> rows =
        new Sampler<>("row-sampler", Duration.ofMillis(20), () -> cluster.ledger().row(tid))) {
      frozen.freeze();
      Instant frozenAt = Instant.now();
      boolean tookOver =
          eventually(
              TAKEOVER_WAIT,
              () -> {
                Row r = cluster.ledger().row(tid);
                return r.epoch() > before.epoch() && r.owner() != null;
              });
      takenOverAt = Instant.now();
      takeover = cluster.ledger().row(tid);
      frozen.thaw();
      ChaosCluster.figures(
          "fault 2: SIGSTOP to takeover %s (bound %s)",
          Duration.between(frozenAt, takenOverAt), LEASE_TTL.plus(REAPER_INTERVAL).plus(SLACK));

      soft.assertThat(tookOver)
          .as("another worker claimed the task while %s was frozen", frozen)
          .isTrue();
      soft.assertThat(Duration.between(frozenAt, takenOverAt))
          .as(
              "SIGSTOP of %s to the takeover claim (criterion: lease %s + reaper %s; slack %s)",
              frozen, LEASE_TTL, REAPER_INTERVAL, SLACK)
          .isLessThanOrEqualTo(LEASE_TTL.plus(REAPER_INTERVAL).plus(SLACK));
      soft.assertThat(takeover.owner()).as("owner after the takeover").isNotEqualTo(frozen.id);

      // It stops by itself: says so, and its request to the origin goes quiet before the end.
      Pattern stopped =
          Pattern.compile(
              "task " + tid + ":.*epoch " + before.epoch() + ".*(stopped|superseded|fenced)");
      soft.assertThat(
              eventually(
                  LEASE_TTL.plusSeconds(6), () -> !logs.matching(frozen.id, stopped).isEmpty()))
          .as(
              "the thawed worker logs that epoch %d stopped; its log:%n%s",
              before.epoch(), logs.mentioning(tid))
          .isTrue();
      Origin.RequestRecord first = cluster.originRequests(seed).get(0);
      long[] last = {-1};
      boolean quiet;
      try {
        await()
            .atMost(Duration.ofSeconds(15))
            .during(Duration.ofMillis(1500))
            .pollInterval(Duration.ofMillis(100))
            .until(
                () -> {
                  long now = bytesSentOf(seed, first);
                  boolean same = now == last[0];
                  last[0] = now;
                  return same;
                });
        quiet = true;
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        quiet = false;
      }
      soft.assertThat(quiet).as("the frozen worker's request to the origin stopped").isTrue();
      soft.assertThat(bytesSentOf(seed, first))
          .as("bytes the origin sent to the frozen worker")
          .isLessThan(size);

      task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(90));
      rows.close();
      List<Row> afterTakeover =
          rows.samples().stream()
              .filter(s -> s.at().isAfter(takenOverAt))
              .map(Sampler.Sample::value)
              .toList();
      soft.assertThat(afterTakeover)
          .as("ledger rows after the takeover: never owned by the frozen worker again")
          .noneMatch(r -> frozen.id.equals(r.owner()));
      soft.assertThat(afterTakeover)
          .as("ledger rows after the takeover: the epoch never goes back")
          .allMatch(r -> r.epoch() >= takeover.epoch());
      soft.assertThat(afterTakeover)
          .as("ledger rows after the takeover: no failure written by a fenced attempt")
          .noneMatch(r -> r.state().equals("failed"));
    }
    cluster.assertCompletedWithTheRightBytes(soft, sid, tid, task, size, seed);
    String location = task.path("location").asText("");
    soft.assertThat(location)
        .as("the stored object is not the frozen attempt's (epoch %d)", before.epoch())
        .doesNotEndWith(".e" + before.epoch());
    soft.assertThat(eventually(Duration.ofSeconds(10), () -> cluster.temporariesOf(tid).isEmpty()))
        .as("no temporary object of the task is left: %s", cluster.temporariesOf(tid))
        .isTrue();
    cluster.events().assertOneCompletionEach(soft, sid, List.of(tid), Duration.ofSeconds(30));
    soft.assertAll();
  }

  /** Fault 3. */
  @Test
  void aWorkerKilledBetweenClaimAndFirstHeartbeatLosesTheTaskOnlyWhenItsLeaseExpires()
      throws Exception {
    long size = 4 * MIB;
    long seed = ChaosCluster.newSeed();
    // The origin takes 3 s to answer: until then the claim is all that happened, and the first
    // heartbeat is due HEARTBEAT_INTERVAL after it. The test kills the claimer within
    // milliseconds of the claim's log line.
    cluster.proxy.cue(seed, new MeddlingProxy.DelayAnswer(Duration.ofSeconds(3)));
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    LogWatch logs = cluster.watchLogs();
    SoftAssertions soft = new SoftAssertions();
    try (Sampler<Long> leaseless =
        new Sampler<>(
            "leaseless-sampler",
            Duration.ofMillis(20),
            () ->
                cluster
                    .ledger()
                    .count(
                        "select count(*) from tasks where state = 'running'"
                            + " and (lease_expires_at is null or lease_owner is null)"))) {
      String tid = cluster.submit(sid, cluster.proxy.url("/bytes/" + size + "?seed=" + seed));
      Pattern claimed = Pattern.compile("task " + tid + ": claimed by ([^,\\s]+), epoch (\\d+)");
      Map.Entry<String, Matcher> claim =
          await("the claim's log line")
              .atMost(Duration.ofSeconds(30))
              .pollInterval(Duration.ofMillis(5))
              .until(() -> logs.find(claimed), Optional::isPresent)
              .get();
      Worker victim = cluster.worker(claim.getValue().group(1));
      victim.kill();
      Instant killedAt = Instant.now();
      Row atKill = cluster.ledger().row(tid);

      boolean reclaimed =
          eventually(TAKEOVER_WAIT, () -> cluster.ledger().row(tid).epoch() > atKill.epoch());
      Instant reclaimedAt = Instant.now();
      JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
      leaseless.close();
      ChaosCluster.figures(
          "fault 3: lease expiry to the new claim %s (bound %s), %d samples of the ledger",
          atKill.leaseExpiresAt() != null
              ? Duration.between(atKill.leaseExpiresAt(), reclaimedAt)
              : null,
          REAPER_INTERVAL.plus(SLACK),
          leaseless.samples().size());

      soft.assertThat(atKill.state()).as("state right after the kill").isEqualTo("running");
      soft.assertThat(atKill.owner()).as("owner right after the kill").isEqualTo(victim.id);
      soft.assertThat(atKill.leaseExpiresAt()).as("lease right after the kill").isNotNull();
      soft.assertThat(atKill.bytesTransferred()).as("bytes before the kill").isZero();
      soft.assertThat(reclaimed).as("claimed again within %s", TAKEOVER_WAIT).isTrue();
      if (atKill.leaseExpiresAt() != null) {
        soft.assertThat(reclaimedAt)
            .as("claimed again only after the lease expired (at %s)", atKill.leaseExpiresAt())
            .isAfterOrEqualTo(atKill.leaseExpiresAt().minusMillis(100));
        soft.assertThat(Duration.between(atKill.leaseExpiresAt(), reclaimedAt))
            .as(
                "lease expiry to the new claim (criterion: one reaper interval %s; slack %s)."
                    + " Killed %s at %s. Logs:%n%s",
                REAPER_INTERVAL, SLACK, victim, killedAt, logs.mentioning(tid))
            .isLessThanOrEqualTo(REAPER_INTERVAL.plus(SLACK));
      }
      cluster.assertCompletedWithTheRightBytes(soft, sid, tid, task, size, seed);
      soft.assertThat(leaseless.samples()).as("samples of the ledger").isNotEmpty();
      soft.assertThat(leaseless.samples())
          .as("no row was ever running without a lease owner and expiry")
          .allMatch(s -> s.value() == 0L);
      cluster.events().assertOneCompletionEach(soft, sid, List.of(tid), Duration.ofSeconds(30));
    }
    soft.assertAll();
  }

  /** Fault 14. */
  @Test
  void sigtermHandsRunningTasksBackAndAnotherWorkerContinuesAtOnce() throws Exception {
    long size = 32 * MIB;
    long rate = 4 * MIB; // eight seconds each
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (int i = 0; i < 3; i++) {
      long seed = ChaosCluster.newSeed();
      seeds.put(
          cluster.submit(
              sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed + "&rate=" + rate)),
          seed);
    }
    await("every transfer runs")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                seeds.keySet().stream()
                    .allMatch(t -> cluster.ledger().row(t).bytesTransferred() >= 2 * MIB));
    String first = seeds.keySet().iterator().next();
    Worker victim = cluster.ownerOf(first);
    Map<String, Row> held = new LinkedHashMap<>();
    for (String t : seeds.keySet()) {
      Row r = cluster.ledger().row(t);
      if (victim.id.equals(r.owner())) {
        held.put(t, r);
      }
    }
    LogWatch logs = cluster.watchLogs();
    CompletableFuture<Void> stopping = victim.terminateAsync();
    Instant termAt = Instant.now();

    Map<String, Instant> continuedAt = new LinkedHashMap<>();
    for (Map.Entry<String, Row> h : held.entrySet()) {
      if (eventually(
          TAKEOVER_WAIT,
          () -> {
            Row r = cluster.ledger().row(h.getKey());
            return r.epoch() > h.getValue().epoch() && r.owner() != null
                || r.state().equals("completed");
          })) {
        continuedAt.put(h.getKey(), Instant.now());
      }
    }
    stopping.get(60, TimeUnit.SECONDS);
    List<JsonNode> finals = new ArrayList<>();
    for (String t : seeds.keySet()) {
      finals.add(cluster.awaitFinal(sid, t, Duration.ofSeconds(90)));
    }

    ChaosCluster.figures(
        "fault 14: SIGTERM to the new claims %s (bound %s)",
        continuedAt.values().stream().map(t -> Duration.between(termAt, t)).toList(),
        LEASE_TTL.dividedBy(2).plus(SLACK));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(continuedAt.keySet())
        .as("tasks of %s that another worker continued", victim)
        .containsExactlyInAnyOrderElementsOf(held.keySet());
    for (Map.Entry<String, Instant> c : continuedAt.entrySet()) {
      Row before = held.get(c.getKey());
      soft.assertThat(Duration.between(termAt, c.getValue()))
          .as(
              "SIGTERM to the new claim of %s (at once: within half the lease %s; slack %s)."
                  + " Logs:%n%s",
              c.getKey(), LEASE_TTL, SLACK, logs.mentioning(c.getKey()))
          .isLessThanOrEqualTo(LEASE_TTL.dividedBy(2).plus(SLACK));
      soft.assertThat(c.getValue())
          .as("claimed again before the old lease would have expired")
          .isBefore(before.leaseExpiresAt());
    }
    soft.assertThat(logs.matching(victim.id, Pattern.compile("handing back")))
        .as("the stopping worker says it hands tasks back")
        .isNotEmpty();
    int i = 0;
    for (Map.Entry<String, Long> t : seeds.entrySet()) {
      JsonNode task = finals.get(i++);
      cluster.assertCompletedWithTheRightBytes(soft, sid, t.getKey(), task, size, t.getValue());
      if (held.containsKey(t.getKey())) {
        soft.assertThat(task.path("attempt").asInt())
            .as("attempts of handed-back task %s (a hand-back does not count)", t.getKey())
            .isEqualTo(1);
      }
    }
    cluster.events().assertOneCompletionEach(soft, sid, seeds.keySet(), Duration.ofSeconds(30));
    soft.assertAll();
  }

  /**
   * Fault 1 for a resumable upload (tus 1.0): another worker asks the target for its offset and
   * sends only the rest, to the resource the first one created.
   */
  @Test
  void aResumableUploadContinuesOnAnotherWorkerAfterKill9() throws Exception {
    long size = 48 * MIB;
    long rate = 8 * MIB; // six seconds in all
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String source = cluster.submit(sid, cluster.origin.url("/bytes/" + size + "?seed=" + seed));
    JsonNode downloaded = cluster.awaitFinal(sid, source, Duration.ofSeconds(60));
    assertThat(downloaded.get("state").asText()).as("source %s", downloaded).isEqualTo("completed");
    String created = "/files/" + seed + "?rate=" + rate;
    LogWatch logs = cluster.watchLogs();
    Answer a =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"upload\",\"resumable\":\"tus\",\"url\":\""
                + cluster.resumable.url(created)
                + "\",\"source\":{\"task\":\""
                + source
                + "\"}}");
    assertThat(a.status()).as("POST upload: %s", a.body()).isEqualTo(201);
    String tid = a.body().get("id").asText();

    await("half of the upload at the target")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                cluster.resumable.createdAt(created).stream()
                    .anyMatch(u -> u.offset() >= size / 2));
    Worker victim = cluster.ownerOf(tid);
    victim.kill();
    long heldAtKill = cluster.resumable.createdAt(created).get(0).offset();

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(90));
    List<ResumableTarget.Upload> uploads = cluster.resumable.createdAt(created);
    ChaosCluster.figures(
        "fault 1, resumable upload: killed with %d of %d bytes at the target; PATCHes from %s",
        heldAtKill, size, uploads.isEmpty() ? null : uploads.get(0).patchOffsets());

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(task.get("state").asText())
        .as("task %s; logs:%n%s", task, logs.mentioning(tid))
        .isEqualTo("completed");
    soft.assertThat(uploads).as("one upload resource, created once").hasSize(1);
    if (uploads.size() == 1) {
      ResumableTarget.Upload up = uploads.get(0);
      soft.assertThat(up.sha256())
          .as("what the target holds")
          .isEqualTo(Origin.sha256Hex(size, seed));
      soft.assertThat(up.patchOffsets()).as("where each PATCH started").hasSize(2);
      if (up.patchOffsets().size() == 2) {
        soft.assertThat(up.patchOffsets().get(1))
            .as("the continuation starts at what the target held (%d at the kill)", heldAtKill)
            .isGreaterThanOrEqualTo(heldAtKill);
      }
      soft.assertThat(up.heads()).as("HEADs asking for the offset").isEqualTo(1);
    }
    List<JsonNode> resumed =
        cluster.events().replay(sid).stream()
            .filter(e -> e.get("type").asText().equals("transfer.task.resumed"))
            .filter(e -> tid.equals(e.path("subject").asText(null)))
            .toList();
    soft.assertThat(resumed).as("resumed events").hasSize(1);
    cluster
        .events()
        .assertOneCompletionEach(soft, sid, List.of(source, tid), Duration.ofSeconds(30));
    soft.assertAll();
  }

  // ------------------------------------------------------------------ helpers

  private static long bytesSentOf(long seed, Origin.RequestRecord which) {
    return cluster.originRequests(seed).stream()
        .filter(
            r -> r.at().equals(which.at()) && java.util.Objects.equals(r.range(), which.range()))
        .mapToLong(Origin.RequestRecord::bytesSent)
        .findFirst()
        .orElse(-1);
  }
}
