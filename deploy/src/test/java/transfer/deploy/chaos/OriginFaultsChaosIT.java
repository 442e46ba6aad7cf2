package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.chaos.ChaosCluster.rangeStart;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import transfer.deploy.ApiClient;
import transfer.deploy.chaos.MeddlingProxy.Answer;
import transfer.deploy.chaos.MeddlingProxy.FlipByteAt;
import transfer.deploy.chaos.MeddlingProxy.StallAfter;
import transfer.testkit.Origin;

/**
 * Faults 8 to 12 of docs/TESTING.md: origins that misbehave. Faults that must happen once, between
 * two attempts, are staged by the {@link MeddlingProxy} in front of the origin (cut the running
 * body after a checkpoint, answer 429 then 503, stall once, flip a byte in the resumed range,
 * change the content); faults that are the origin's nature (404, always stalling, ignoring Range)
 * by the origin's own URL parameters.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OriginFaultsChaosIT extends ChaosTest {

  /** Fault 8. */
  @Test
  void anOriginThatIgnoresRangeOnResumeRestartsFromZeroAndNeverAppends() throws Exception {
    long size = 16 * MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String tid =
        cluster.submit(
            sid,
            cluster.proxy.url(
                "/bytes/" + size + "?seed=" + seed + "&rate=" + 4 * MIB + "&ignoreRange=true"));
    cutAfterACheckpoint(tid, seed);
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    List<Origin.RequestRecord> requests = cluster.originRequests(seed);
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(requests).as("requests to the origin").hasSizeGreaterThanOrEqualTo(2);
    if (requests.size() >= 2) {
      Origin.RequestRecord resume = requests.get(1);
      soft.assertThat(rangeStart(resume.range()))
          .as("the second attempt asked to resume (Range %s)", resume.range())
          .isPositive();
      soft.assertThat(resume.status()).as("the origin ignored the Range").isEqualTo(200);
    }
    cluster.assertCompletedWithTheRightBytes(soft, sid, tid, task, size, seed);
    soft.assertThatCode(() -> oneCompletion(sid, tid)).doesNotThrowAnyException();
    soft.assertAll();
  }

  /** Fault 9: version 1 until a checkpoint, then version 2 under the same URL. */
  @Test
  void contentThatChangesBetweenAttemptsIsNeverMixed() throws Exception {
    long size = 16 * MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    cluster.proxy.serveVersion(seed, 1);
    String tid =
        cluster.submit(
            sid, cluster.proxy.url("/bytes/" + size + "?seed=" + seed + "&rate=" + 4 * MIB));
    await("a checkpoint of version 1")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> cluster.ledger().row(tid).bytesDurable() > 0);
    cluster.proxy.serveVersion(seed, 2);
    cluster.proxy.cutNow(seed);
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    List<Origin.RequestRecord> requests = cluster.originRequests(seed);
    String v1 = Origin.sha256Hex(size, seed, 1);
    String v2 = Origin.sha256Hex(size, seed, 2);
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(requests).as("requests to the origin").hasSizeGreaterThanOrEqualTo(2);
    for (Origin.RequestRecord r : requests) {
      if (r.range() != null) {
        soft.assertThat(r.ifRange())
            .as("a Range request (%s) carries If-Range", r.range())
            .isNotNull();
      }
    }
    if (requests.size() >= 2) {
      Origin.RequestRecord resume = requests.get(1);
      soft.assertThat(rangeStart(resume.range()))
          .as("the second attempt asked to resume (Range %s)", resume.range())
          .isPositive();
      soft.assertThat(resume.ifRange())
          .as("it named version 1 in If-Range")
          .isEqualTo(Origin.etag(size, seed, 1));
      soft.assertThat(resume.status())
          .as("the origin answered the whole of version 2")
          .isEqualTo(200);
    }
    String state = task.path("state").asText();
    soft.assertThat(state).as("task %s", task).isIn("completed", "failed");
    if (state.equals("completed")) {
      soft.assertThat(task.path("sha256").asText())
          .as("a clean restart stores version 2 (v1 would be %s)", v1)
          .isEqualTo(v2);
      ApiClient.Content c = cluster.content(sid, tid);
      soft.assertThat(c.size()).isEqualTo(size);
      soft.assertThat(c.sha256()).as("stored bytes: all version 2").isEqualTo(v2);
    } else {
      soft.assertThat(task.path("error").path("code").asText())
          .as("a refusal is source_changed")
          .isEqualTo("source_changed");
      soft.assertThat(cluster.content(sid, tid).status()).isEqualTo(409);
    }
    soft.assertThatCode(() -> oneCompletion(sid, tid)).doesNotThrowAnyException();
    soft.assertAll();
  }

  /** Fault 10, the flipped byte: inverted in every answer to a resume. */
  @Test
  void aFlippedByteInAResumedRangeEndsInChecksumMismatchNeverSuccess() throws Exception {
    long size = 16 * MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    cluster.proxy.onRangeRequests(seed, new FlipByteAt(1000));
    String tid =
        cluster.submit(
            sid,
            cluster.proxy.url("/bytes/" + size + "?seed=" + seed + "&rate=" + 4 * MIB),
            "\"sha256\":\"" + Origin.sha256Hex(size, seed) + "\"");
    cutAfterACheckpoint(tid, seed);
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    List<Origin.RequestRecord> requests = cluster.originRequests(seed);
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(requests.stream().anyMatch(r -> rangeStart(r.range()) > 0 && r.status() == 206))
        .as("an attempt resumed with a Range and got 206: %s", requests)
        .isTrue();
    soft.assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("failed");
    soft.assertThat(task.path("error").path("code").asText()).isEqualTo("checksum_mismatch");
    soft.assertThat(cluster.content(sid, tid).status()).as("no content").isEqualTo(409);
    soft.assertThatCode(() -> oneCompletion(sid, tid)).doesNotThrowAnyException();
    soft.assertAll();
  }

  /** Fault 10, the wrong expectation. */
  @Test
  void aWrongExpectedSha256FailsWithChecksumMismatchAndIsNotRetried() throws Exception {
    long size = MIB;
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String tid =
        cluster.submit(
            sid,
            cluster.origin.url("/bytes/" + size + "?seed=" + seed),
            "\"sha256\":\"" + Origin.sha256Hex(size, seed + 1) + "\"");
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("failed");
    assertThat(task.path("error").path("code").asText()).isEqualTo("checksum_mismatch");
    assertThat(task.path("error").path("retryable").asBoolean()).isFalse();
    assertThat(task.path("attempt").asInt()).isEqualTo(1);
    assertThat(cluster.originRequests(seed)).hasSize(1);
    assertThat(cluster.content(sid, tid).status()).isEqualTo(409);
    assertThat(cluster.storedFilesOf(tid)).as("nothing stored").isEmpty();
    oneCompletion(sid, tid);
  }

  /** Fault 11, 429 and 503: each retry waits at least the origin's Retry-After. */
  @Test
  void retryAfterOn429And503IsWaitedOutBeforeTheNextAttempt() throws Exception {
    long size = MIB;
    long seed = ChaosCluster.newSeed();
    // The session's own backoff (0.1 to 0.2 s) is far shorter than the origin asks for.
    String sid =
        cluster.newSession(
            "{\"retry\":{\"maxAttempts\":5,\"initialBackoff\":\"PT0.2S\","
                + "\"maxBackoff\":\"PT0.2S\"}}");
    cluster.proxy.cue(seed, new Answer(429, "1"), new Answer(503, "2"));
    String tid = cluster.submit(sid, cluster.proxy.url("/bytes/" + size + "?seed=" + seed));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));

    List<MeddlingProxy.Seen> seen = cluster.proxy.seen(seed);
    assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.path("attempt").asInt()).isEqualTo(3);
    assertThat(task.path("sha256").asText()).isEqualTo(Origin.sha256Hex(size, seed));
    assertThat(seen).as("requests the proxy saw").hasSize(3);
    assertThat(Duration.between(seen.get(0).at(), seen.get(1).at()))
        .as("429 with Retry-After: 1 to the next attempt")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(Duration.between(seen.get(1).at(), seen.get(2).at()))
        .as("503 with Retry-After: 2 to the next attempt")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
    oneCompletion(sid, tid);
  }

  /** Fault 11, 404: final at once. */
  @Test
  void a404IsFinalAtOnceAndNeverRetried() throws Exception {
    long seed = ChaosCluster.newSeed();
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    String tid =
        cluster.submit(sid, cluster.origin.url("/bytes/" + MIB + "?seed=" + seed + "&status=404"));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
    // Longer than any backoff of this session: a retry would have come by now.
    await("no second request")
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(4))
        .until(() -> cluster.originRequests(seed).size() == 1);

    assertThat(task.path("state").asText()).as("task %s", task).isEqualTo("failed");
    assertThat(task.path("error").path("code").asText()).isEqualTo("http_status");
    assertThat(task.path("error").path("httpStatus").asInt()).isEqualTo(404);
    assertThat(task.path("error").path("retryable").asBoolean()).isFalse();
    assertThat(task.path("attempt").asInt()).isEqualTo(1);
    oneCompletion(sid, tid);
  }

  /** Fault 12: a source that stalls once; the attempt ends as stalled, the next one completes. */
  @Test
  void aStalledSourceEndsTheAttemptAsStalledAndIsRetried() throws Exception {
    long size = 2 * MIB;
    long seed = ChaosCluster.newSeed();
    Duration requestTimeout = Duration.ofSeconds(2);
    String sid =
        cluster.newSession(
            "{\"retry\":{\"maxAttempts\":3,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT1S\"},"
                + "\"requestTimeout\":\""
                + requestTimeout
                + "\"}");
    cluster.proxy.cue(seed, new StallAfter(256 * KIB));
    LogWatch logs = cluster.watchLogs();
    String tid = cluster.submit(sid, cluster.proxy.url("/bytes/" + size + "?seed=" + seed));
    // Expected in about requestTimeout plus a backoff and a fast second attempt.
    JsonNode task = cluster.awaitFinalOrLast(sid, tid, Duration.ofSeconds(20));

    List<MeddlingProxy.Seen> seen = cluster.proxy.seen(seed);
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(seen)
        .as("requests (a stalled one, then a retry), 20 s after the submit; task %s", task)
        .hasSize(2);
    if (seen.size() >= 2) {
      soft.assertThat(Duration.between(seen.get(0).at(), seen.get(1).at()))
          .as("the stalled attempt ended only after requestTimeout %s", requestTimeout)
          .isGreaterThanOrEqualTo(requestTimeout);
    }
    soft.assertThat(logs.mentioning(tid))
        .as("the worker says attempt 1 ended as stalled")
        .containsPattern(Pattern.compile("attempt 1 failed \\(stalled"));
    cluster.assertCompletedWithTheRightBytes(soft, sid, tid, task, size, seed);
    soft.assertThat(task.path("attempt").asInt()).as("attempts").isEqualTo(2);
    if (ChaosCluster.isFinal(task)) {
      soft.assertThatCode(() -> oneCompletion(sid, tid)).doesNotThrowAnyException();
    }
    soft.assertAll();
  }

  /** Fault 12, a source that always stalls: retried, then failed naming the stall. */
  @Test
  void aSourceThatAlwaysStallsIsRetriedThenFailsNamingTheStall() throws Exception {
    long seed = ChaosCluster.newSeed();
    String sid =
        cluster.newSession(
            "{\"retry\":{\"maxAttempts\":2,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT0.2S\"},"
                + "\"requestTimeout\":\"PT1S\",\"waitsForConnectivity\":false}");
    String tid =
        cluster.submit(
            sid, cluster.origin.url("/bytes/" + MIB + "?seed=" + seed + "&stallAfter=1000"));
    // Expected in about two requestTimeouts and a backoff.
    JsonNode task = cluster.awaitFinalOrLast(sid, tid, Duration.ofSeconds(20));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(task.path("state").asText())
        .as("20 s after the submit: task %s", task)
        .isEqualTo("failed");
    soft.assertThat(task.path("error").path("code").asText()).isEqualTo("attempts_exhausted");
    soft.assertThat(task.path("error").path("message").asText()).contains("stalled");
    soft.assertThat(task.path("attempt").asInt()).isEqualTo(2);
    soft.assertThat(cluster.originRequests(seed)).as("requests to the origin").hasSize(2);
    soft.assertThat(cluster.content(sid, tid).status()).isEqualTo(409);
    if (ChaosCluster.isFinal(task)) {
      soft.assertThatCode(() -> oneCompletion(sid, tid)).doesNotThrowAnyException();
    }
    soft.assertAll();
  }

  // ------------------------------------------------------------------ helpers

  /** Waits for the first checkpoint in the ledger, then cuts the body the proxy is relaying. */
  private static void cutAfterACheckpoint(String tid, long seed) {
    await("a checkpoint")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> cluster.ledger().row(tid).bytesDurable() > 0);
    cluster.proxy.cutNow(seed);
  }

  private static void oneCompletion(String sid, String tid) {
    cluster.events().assertOneCompletionEach(sid, List.of(tid), Duration.ofSeconds(30));
  }
}
