package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.deploy.ClusterFixture.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * Fault 1 of the second catalogue: one tenant's tarpit downloads (64 bytes a second, far from their
 * end) hold every worker slot of the cluster and more wait behind them, and another tenant's tasks
 * still start within seconds, with the default settings: the workers hand the first tenant's
 * transfers above its fair share back at once (queued with their checkpoints, their attempts not
 * counted), and the claim's fair order gives the freed slots to the tenant that waited.
 */
class FairShareClusterIT extends ClusterTest {
  /** Both workers' slots (16 each, the default). */
  private static final int SLOTS = 32;

  private static final int MODEST_TASKS = 8;

  /** The other tenant's time to first byte must stay within seconds. */
  private static final Duration TTFB_BOUND = Duration.ofSeconds(10);

  @Test
  void anotherTenantsTasksStartWithinSecondsWhileOneTenantsTarpitsHoldEverySlot() throws Exception {
    ApiClient greedy = tenant("greedy");
    ApiClient modest = tenant("modest");
    // The greedy tenant lets its session open up to 100 connections to the one origin.
    String greedySession = session(greedy, json("maxConnectionsPerHost", 100));
    String modestSession = session(modest, "{}");
    List<String> tarpits = new ArrayList<>();
    for (int i = 0; i < SLOTS + 8; i++) {
      tarpits.add(submit(greedy, greedySession, "/bytes/1048576?seed=" + (7000 + i) + "&rate=64"));
    }
    try {
      // Every slot of the cluster runs a tarpit and eight more are queued behind them.
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> runningInCluster() >= SLOTS && queued(greedySession) > 0);
      // A few seconds of trickle: the transfers handed back have bytes to resume from.
      Thread.sleep(3_000);

      Map<String, Instant> submitted = new HashMap<>();
      Map<String, String> seedOf = new HashMap<>();
      for (int i = 0; i < MODEST_TASKS; i++) {
        String seed = "seed=" + (7100 + i);
        String tid = submit(modest, modestSession, "/bytes/65536?" + seed);
        submitted.put(tid, Instant.now());
        seedOf.put(tid, seed);
      }
      List<Duration> ttfb = new ArrayList<>();
      for (String tid : submitted.keySet()) {
        JsonNode done = modest.awaitFinal(modestSession, tid, Duration.ofSeconds(60));
        assertThat(done.get("state").asText()).as("task %s", done).isEqualTo("completed");
        Instant asked =
            origin.requests().stream()
                .filter(r -> r.path().equals("/bytes/65536") && seedOf.get(tid).equals(r.query()))
                .map(Origin.RequestRecord::at)
                .findFirst()
                .orElseThrow();
        ttfb.add(Duration.between(submitted.get(tid), asked));
      }
      ttfb.sort(null);
      System.out.printf(
          "fair shares: %d tasks of another tenant while %d tarpits held %d slots; time to first"
              + " request: median %d ms, max (p99 of %d) %d ms%n",
          MODEST_TASKS,
          tarpits.size(),
          SLOTS,
          ttfb.get(ttfb.size() / 2).toMillis(),
          ttfb.size(),
          ttfb.get(ttfb.size() - 1).toMillis());
      assertThat(ttfb.get(ttfb.size() - 1)).isLessThan(TTFB_BOUND);

      // The transfers handed back cost no attempt, and resumed where their checkpoint was.
      for (String tid : tarpits) {
        assertThat(((Number) cluster.ledgerRow(tid).get("attempt")).intValue())
            .as("attempts of tarpit %s", tid)
            .isLessThanOrEqualTo(1);
      }
      // Once the other tenant's tasks are done, the tarpits handed back run again (the oldest
      // first), from their checkpoints (on S3 a checkpoint is a whole part, which a tarpit does
      // not reach).
      if (ClusterStorage.S3) {
        return;
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(
                          origin.requests().stream()
                              .filter(r -> r.path().equals("/bytes/1048576") && r.range() != null))
                      .as("tarpits resumed with a range after their hand-back")
                      .isNotEmpty());
    } finally {
      greedy.call("DELETE", "/v1/sessions/" + greedySession, null);
      modest.call("DELETE", "/v1/sessions/" + modestSession, null);
    }
  }

  /** A new tenant with a key of its own, through the admin API; its client. */
  private static ApiClient tenant(String prefix) throws Exception {
    ApiClient admin = new ApiClient(cluster.apiPort, ClusterFixture.ADMIN_KEY);
    String id = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    ApiClient.Answer a = admin.call("POST", "/v1/admin/tenants", json("id", id, "name", prefix));
    assertThat(a.status()).as("create tenant: %s", a.body()).isEqualTo(201);
    return new ApiClient(cluster.apiPort, a.body().get("key").get("secret").asText());
  }

  private static String session(ApiClient client, String config) throws Exception {
    String sid = "fair-" + UUID.randomUUID();
    ApiClient.Answer a = client.call("PUT", "/v1/sessions/" + sid, config);
    assertThat(a.status()).as("PUT session: %s", a.body()).isEqualTo(201);
    return sid;
  }

  private static String submit(ApiClient client, String sid, String path) throws Exception {
    ApiClient.Answer a =
        client.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            json("type", "download", "url", origin.url(path)));
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }

  private static int runningInCluster() throws Exception {
    return count("select count(*) from tasks where state = 'running'", null);
  }

  private static int queued(String sid) throws Exception {
    return count("select count(*) from tasks where state = 'queued' and session_id = ?", sid);
  }

  /** A count read straight from the ledger (read only). */
  private static int count(String sql, String arg) throws Exception {
    try (Connection c =
            DriverManager.getConnection(
                cluster.infra.jdbcUrl(), cluster.infra.dbUser(), cluster.infra.dbPassword());
        PreparedStatement ps = c.prepareStatement(sql)) {
      if (arg != null) {
        ps.setString(1, arg);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }
}
