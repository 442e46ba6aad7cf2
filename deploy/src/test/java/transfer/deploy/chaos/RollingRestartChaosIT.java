package transfer.deploy.chaos;

import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import transfer.deploy.chaos.ChaosCluster.Worker;
import transfer.testkit.Origin;

/**
 * Fault 13 of docs/TESTING.md: every worker is restarted, one after the other (SIGTERM, start,
 * ready, next), while 500 short downloads run. Every task must end once: completed, with its own
 * bytes, and exactly one completion event.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RollingRestartChaosIT extends ChaosTest {
  private static final int TASKS = 500;
  private static final long SIZE = 96 << 10;
  private static final long RATE = 64 << 10; // one and a half seconds each

  @Test
  void aRollingRestartOfEveryWorkerDuring500TasksEndsEachTaskExactlyOnce() throws Exception {
    String sid = cluster.newSession(ChaosCluster.FAST_RETRY);
    LogWatch logs = cluster.watchLogs();
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (int i = 0; i < TASKS; i++) {
      long seed = ChaosCluster.newSeed();
      seeds.put(
          cluster.submit(
              sid, cluster.origin.url("/bytes/" + SIZE + "?seed=" + seed + "&rate=" + RATE)),
          seed);
    }
    await("the cluster is busy")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> cluster.ledger().statesOf(sid).getOrDefault("running", 0L) >= ChaosCluster.SLOTS);

    Map<String, Long> runningAtStop = new HashMap<>();
    Instant restartStarted = Instant.now();
    for (Worker w : cluster.workers) {
      runningAtStop.put(
          w.id,
          cluster
              .ledger()
              .count(
                  "select count(*) from tasks where session_id = ? and lease_owner = ?",
                  sid,
                  w.id));
      w.process.stop(Duration.ofSeconds(25));
      cluster.restartWorker(w);
      cluster.awaitGroupSettled(Duration.ofSeconds(90));
    }
    Duration restartTook = Duration.between(restartStarted, Instant.now());

    await("every task final")
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              Map<String, Long> states = cluster.ledger().statesOf(sid);
              return states.getOrDefault("completed", 0L) + states.getOrDefault("failed", 0L)
                  == TASKS;
            });
    Map<String, Long> states = cluster.ledger().statesOf(sid);
    ChaosCluster.figures(
        "fault 13: rolling restart of %d workers took %s; tasks each held when stopped %s;"
            + " all %d final %s after the first stop",
        cluster.workers.size(),
        restartTook,
        runningAtStop,
        TASKS,
        Duration.between(restartStarted, Instant.now()));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(states)
        .as("states of the %d tasks (rolling restart took %s)", TASKS, restartTook)
        .isEqualTo(Map.of("completed", (long) TASKS));
    soft.assertThat(runningAtStop.values())
        .as("tasks each worker held when it was stopped: %s", runningAtStop)
        .anyMatch(n -> n > 0);
    soft.assertThat(
            logs.lines().stream()
                .anyMatch(l -> Pattern.compile("handing back").matcher(l[1]).find()))
        .as("a stopping worker handed running tasks back")
        .isTrue();
    List<String> wrong = wrongDigests(sid, seeds);
    soft.assertThat(wrong).as("completed tasks with a wrong SHA-256").isEmpty();
    cluster.events().assertOneCompletionEach(soft, sid, seeds.keySet(), Duration.ofSeconds(60));
    soft.assertAll();
  }

  private static List<String> wrongDigests(String sid, Map<String, Long> seeds) throws Exception {
    Map<String, String> recorded = new HashMap<>();
    try (Connection c = cluster.ledger().db();
        PreparedStatement ps =
            c.prepareStatement(
                "select id, sha256 from tasks where session_id = ? and state = 'completed'")) {
      ps.setString(1, sid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          recorded.put(rs.getString(1), rs.getString(2));
        }
      }
    }
    return recorded.entrySet().stream()
        .filter(e -> !Origin.sha256Hex(SIZE, seeds.get(e.getKey())).equals(e.getValue()))
        .map(Map.Entry::getKey)
        .toList();
  }
}
