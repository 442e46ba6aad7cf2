package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.assertj.core.api.Assumptions;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import transfer.testkit.LocalPostgres;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * Second catalogue, fault 12: mixed versions, as in a rolling upgrade. This build's api-service
 * migrates the ledger and writes the rows; the previous release's worker ({@link PreviousRelease},
 * built from this repository's history) claims and runs tasks against them; this build's worker
 * starts beside it, the old one is stopped (SIGTERM) in the middle of its transfers, and the new
 * one continues them from the old one's checkpoints. Every task completes with the origin's bytes,
 * and the session's events stay in order.
 *
 * <p>A clone without the previous release's commit (a shallow clone) skips this test, saying so.
 */
class MixedVersionIT {
  private static final Logger LOG = LoggerFactory.getLogger(MixedVersionIT.class);
  // 32 s a transfer: the old worker stops mid-way, even when the new one takes many seconds to
  // start (startWorker waits until it is ready) on a loaded machine.
  private static final long SIZE = 4L << 20;
  private static final long RATE = 128L << 10;
  private static final Duration FINISH = Duration.ofSeconds(120);

  private static Path dir;
  private static LocalPostgres postgres;
  private static OwnCluster cluster;
  private static PreviousRelease previous;
  private static Path previousJar;

  @BeforeAll
  static void start() throws Exception {
    previous = PreviousRelease.named();
    Assumptions.assumeThat(previous.inHistory())
        .as(
            "the previous release's commit %s is not in this clone (a shallow clone?): `git fetch"
                + " --unshallow` brings it",
            previous.commit)
        .isTrue();
    previousJar = previous.workerJar();
    dir = Files.createTempDirectory("transfer-mixed-version-it");
    postgres = LocalPostgres.start(dir.resolve("postgres"), 0, false);
    postgres.createDatabaseIfMissing(TestInfra.DATABASE);
    cluster =
        new OwnCluster(
            dir, postgres.jdbcUrl(TestInfra.DATABASE), postgres.user(), postgres.password());
    cluster.startApi();
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
    if (postgres != null) {
      postgres.close();
    }
    OwnCluster.deleteTree(dir);
  }

  @Test
  void thePreviousReleasesWorkerRunsTheNewRowsAndHandsOverToTheNewOne() throws Exception {
    ServiceProcess old = cluster.startWorker("previous-worker", previousJar);
    Origin origin = cluster.origin;
    String sid = cluster.newSession("mixed", "{}");
    Map<String, OwnCluster.Body> quick = cluster.downloads(sid, 4, 9300, 100_000, 0);
    Map<String, OwnCluster.Body> slow = cluster.downloads(sid, 4, 9400, SIZE, RATE);
    Map<String, OwnCluster.Body> bodies = new HashMap<>(quick);
    bodies.putAll(slow);
    // The new worker starts beside it (the slow ones are the old one's already), while the old
    // worker finishes the quick ones and checkpoints the slow ones.
    ServiceProcess current = cluster.startWorker("current-worker", OwnCluster.WORKER_JAR);
    for (String tid : quick.keySet()) {
      assertThat(cluster.client.awaitFinal(sid, tid, FINISH).path("state").asText())
          .isEqualTo("completed");
    }
    for (String tid : slow.keySet()) {
      awaitStored(sid, tid, 3 * RATE);
    }

    // The rolling upgrade: the old worker is stopped and hands back to the new one.
    old.stop(Duration.ofSeconds(30));
    assertThat(old.exitCode()).as("the old worker stopped gracefully").isIn(0, 143);
    bodies.putAll(cluster.downloads(sid, 4, 9500, 100_000, 0));

    SoftAssertions soft = new SoftAssertions();
    cluster.assertCompleted(sid, bodies, FINISH, soft);
    String oldLog = Files.readString(old.logFile());
    String newLog = Files.readString(current.logFile());
    for (String tid : quick.keySet()) {
      soft.assertThat(oldLog).as("the old worker completed %s", tid).contains(tid + ": completed");
    }
    int resumed = 0;
    for (String tid : slow.keySet()) {
      soft.assertThat(newLog).as("the new worker completed %s", tid).contains(tid + ": completed");
      long seed = bodies.get(tid).seed();
      boolean continued =
          origin.requests().stream()
              .filter(r -> r.query() != null && r.query().contains("seed=" + seed + "&"))
              .anyMatch(
                  r -> r.range() != null && r.range().startsWith("bytes=") && r.status() == 206);
      soft.assertThat(continued)
          .as("the new worker continued %s from the old one's checkpoint (Range, 206)", tid)
          .isTrue();
      resumed += continued ? 1 : 0;
    }
    soft.assertThat(cluster.assertEventsInOrder(sid, soft))
        .containsExactlyInAnyOrderElementsOf(bodies.keySet());
    LOG.info(
        "previous release {}: the old worker completed {} tasks; the new one continued {} of its"
            + " {} transfers from their checkpoints and ran {} more",
        previous.commit,
        quick.size(),
        resumed,
        slow.size(),
        bodies.size() - quick.size() - slow.size());
    soft.assertAll();
  }

  /** Waits until the task has at least {@code bytes} stored (a checkpoint). */
  private static void awaitStored(String sid, String tid, long bytes) throws Exception {
    long deadline = System.nanoTime() + FINISH.toNanos();
    while (System.nanoTime() < deadline) {
      ApiClient.Answer a =
          cluster.client.call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null);
      if (a.status() == 200 && a.body().path("bytesTransferred").asLong() >= bytes) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("task " + tid + " did not store " + bytes + " bytes in " + FINISH);
  }
}
