package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import transfer.testkit.EmbeddedKafka;
import transfer.testkit.EventLog;
import transfer.testkit.Origin;
import transfer.testkit.ReplicatedPostgres;
import transfer.testkit.TestInfra;

/**
 * Second catalogue, fault 11: a PostgreSQL switchover to a promoted replica, on real servers. The
 * services reach the database through one address (a TCP proxy, as a Kubernetes Service in front of
 * the primary); the primary stops, the standby is promoted and the address moves to it, while
 * transfers run and a client submits. The same api-service and worker processes (no restart) serve
 * again, every task the API acknowledged completes, and each session's events keep their order on
 * the topic.
 *
 * <p>This cluster has its own database pair, broker, origin and storage, so that the switchover
 * touches no other test's cluster.
 */
class DatabaseSwitchoverIT {
  private static final Logger LOG = LoggerFactory.getLogger(DatabaseSwitchoverIT.class);
  private static final String KEY = "switchover-key-" + Long.toHexString(System.nanoTime());
  private static final long SIZE = 1L << 20;
  private static final long RATE = 256L << 10; // 4 s a transfer: running through the switchover
  private static final Duration FINISH = Duration.ofSeconds(120);

  private static Path dir;
  private static ReplicatedPostgres postgres;
  private static EmbeddedKafka kafka;
  private static CuttingProxy databaseAddress;
  private static Origin origin;
  private static ServiceProcess api;
  private static ServiceProcess worker;
  private static int apiPort;
  private static int workerPort;
  private static ApiClient client;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("transfer-switchover-it");
    postgres = ReplicatedPostgres.start(dir.resolve("postgres"), List.of(TestInfra.DATABASE));
    databaseAddress = new CuttingProxy(postgres.primaryPort());
    kafka = EmbeddedKafka.start(dir.resolve("kafka"), 0);
    kafka.createTopics(
        Map.of(
            TestInfra.TASKS_TOPIC, TestInfra.TOPIC_PARTITIONS,
            TestInfra.EVENTS_TOPIC, TestInfra.TOPIC_PARTITIONS,
            TestInfra.DEAD_LETTERS_TOPIC, 1));
    origin = Origin.start();
    Path root = Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath();
    apiPort = ApiClient.freePort();
    workerPort = ApiClient.freePort();
    client = new ApiClient(apiPort, KEY);
    Map<String, String> apiEnv = env();
    apiEnv.put("QUARKUS_HTTP_PORT", String.valueOf(apiPort));
    apiEnv.put("TRANSFER_API_BOOTSTRAP_KEY", KEY);
    apiEnv.put("TRANSFER_REAPER_INTERVAL", "1s");
    api =
        ServiceProcess.start(
            "switchover-api",
            root.resolve("api-service/target/quarkus-app/quarkus-run.jar"),
            apiEnv,
            List.of("-Xmx256m"),
            dir.resolve("api.log"));
    api.awaitReady(apiPort, Duration.ofSeconds(120));
    Map<String, String> workerEnv = env();
    workerEnv.put("QUARKUS_HTTP_PORT", String.valueOf(workerPort));
    workerEnv.put("TRANSFER_WORKER_ID", "switchover-worker");
    workerEnv.put("TRANSFER_WORKER_SLOTS", "8");
    workerEnv.put("TRANSFER_WORKER_CHECKPOINT_INTERVAL", "1s");
    worker =
        ServiceProcess.start(
            "switchover-worker",
            root.resolve("worker-service/target/quarkus-app/quarkus-run.jar"),
            workerEnv,
            List.of("-Xmx128m", "-XX:+ExitOnOutOfMemoryError"),
            dir.resolve("worker.log"));
    worker.awaitReady(workerPort, Duration.ofSeconds(120));
  }

  private static Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put(
        "QUARKUS_DATASOURCE_JDBC_URL",
        postgres.jdbcUrl(databaseAddress.port(), TestInfra.DATABASE));
    env.put("QUARKUS_DATASOURCE_USERNAME", postgres.user());
    env.put("QUARKUS_DATASOURCE_PASSWORD", postgres.password());
    env.put("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
    env.put("TRANSFER_STORAGE_ROOT", dir.resolve("objects").toString());
    env.put("TRANSFER_FETCH_ALLOWED_DESTINATIONS", "127.0.0.1:" + origin.port());
    env.put("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000");
    env.put("TRANSFER_QUOTA_BURST", "100000");
    return env;
  }

  @AfterAll
  static void stop() throws Exception {
    for (ServiceProcess p : new ServiceProcess[] {worker, api}) {
      if (p != null) {
        p.stop(Duration.ofSeconds(20));
      }
    }
    for (AutoCloseable c : new AutoCloseable[] {origin, kafka, databaseAddress, postgres}) {
      if (c != null) {
        c.close();
      }
    }
    if (dir != null && !Boolean.getBoolean("switchover.keep")) {
      try (var paths = Files.walk(dir)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Test
  void theServicesFollowThePromotedReplicaWithoutARestartAndEventsKeepTheirOrder()
      throws Exception {
    long apiPid = api.pid();
    long workerPid = worker.pid();
    String sid = "switchover-" + Long.toHexString(System.nanoTime());
    assertThat(client.call("PUT", "/v1/sessions/" + sid, "{}").status()).isEqualTo(201);

    // Transfers that run through the switchover: 4 s each, 12 of them on 8 slots.
    // What each task fetches: its size and seed.
    Map<String, long[]> bodies = new ConcurrentHashMap<>();
    List<String> acknowledged = new CopyOnWriteArrayList<>();
    for (int i = 0; i < 12; i++) {
      long seed = 9100 + i;
      String tid = submit(sid, origin.url("/bytes/" + SIZE + "?seed=" + seed + "&rate=" + RATE));
      bodies.put(tid, new long[] {SIZE, seed});
      acknowledged.add(tid);
    }

    // A client that goes on submitting through the switchover, as services do.
    Map<Integer, Integer> answers = new ConcurrentHashMap<>();
    AtomicLong firstAcceptedAfterPromotion = new AtomicLong();
    AtomicLong promotedAt = new AtomicLong(Long.MAX_VALUE);
    AtomicBoolean submitting = new AtomicBoolean(true);
    Thread submitter =
        new Thread(
            () -> {
              long seed = 9200;
              while (submitting.get()) {
                long s = seed++;
                try {
                  ApiClient.Answer a =
                      client.call(
                          "POST",
                          "/v1/sessions/" + sid + "/tasks",
                          "{\"type\":\"download\",\"url\":\""
                              + origin.url("/bytes/65536?seed=" + s)
                              + "\"}");
                  answers.merge(a.status(), 1, Integer::sum);
                  if (a.status() == 201) {
                    String tid = a.body().get("id").asText();
                    bodies.put(tid, new long[] {65536, s});
                    acknowledged.add(tid);
                    long now = System.nanoTime();
                    if (now > promotedAt.get()) {
                      firstAcceptedAfterPromotion.compareAndSet(0, now);
                    }
                  } else if (a.status() >= 500) {
                    LOG.info("submit during the switchover: {} {}", a.status(), a.body());
                  }
                  Thread.sleep(100);
                } catch (InterruptedException e) {
                  return;
                } catch (Exception e) {
                  answers.merge(-1, 1, Integer::sum);
                  LOG.info("submit during the switchover failed: {}", e.toString());
                }
              }
            },
            "switchover-submitter");
    submitter.start();

    // Bytes are moving, then the switchover: the primary stops, the address refuses for a second
    // (a Service's endpoint moves after the promotion), the standby is promoted and the address
    // moves to it.
    Thread.sleep(2000);
    long stoppedAt = System.nanoTime();
    postgres.stopPrimary();
    Thread.sleep(1000);
    postgres.promoteStandby();
    databaseAddress.retarget(postgres.standbyPort());
    promotedAt.set(System.nanoTime());
    assertThat(postgres.inRecovery(postgres.standbyPort()))
        .as("the standby was promoted")
        .isFalse();
    LOG.info(
        "switchover: primary stopped, standby promoted and the address moved in {} ms",
        (promotedAt.get() - stoppedAt) / 1_000_000);

    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (firstAcceptedAfterPromotion.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    Thread.sleep(2000);
    submitting.set(false);
    submitter.join(10_000);

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(firstAcceptedAfterPromotion.get())
        .as("a submit accepted after the promotion")
        .isPositive();
    LOG.info(
        "first submit accepted {} ms after the promotion; answers during the run: {}",
        (firstAcceptedAfterPromotion.get() - promotedAt.get()) / 1_000_000,
        answers);
    soft.assertThat(answers.keySet())
        .as("every answer a 201 or a 503 (never a 500), by status: %s", answers)
        .isSubsetOf(201, 503);

    // Every acknowledged task completes with the origin's bytes.
    for (String tid : acknowledged) {
      JsonNode done = client.awaitFinal(sid, tid, FINISH);
      soft.assertThat(done.path("state").asText()).as("%s", done).isEqualTo("completed");
      long[] body = bodies.get(tid);
      soft.assertThat(done.path("sha256").asText())
          .as("%s", tid)
          .isEqualTo(Origin.sha256Hex(body[0], body[1]));
    }

    // The same processes serve, and are ready.
    soft.assertThat(api.isAlive() && api.pid() == apiPid).as("the api-service was not restarted");
    soft.assertThat(worker.isAlive() && worker.pid() == workerPid)
        .as("the worker was not restarted");
    soft.assertThat(api.isAlive()).isTrue();
    soft.assertThat(worker.isAlive()).isTrue();
    api.awaitReady(apiPort, Duration.ofSeconds(30));
    worker.awaitReady(workerPort, Duration.ofSeconds(30));

    // The ledger's events: numbered 1..n without a gap; one completion per task.
    List<JsonNode> stored = client.replay(sid);
    for (int i = 0; i < stored.size(); i++) {
      soft.assertThat(stored.get(i).get("sequence").asLong())
          .as("stored event %d of %d", i, stored.size())
          .isEqualTo(i + 1L);
    }
    Set<String> completed = new HashSet<>();
    for (JsonNode e : stored) {
      if (e.get("type").asText().equals("transfer.task.completed")) {
        soft.assertThat(completed.add(e.path("subject").asText()))
            .as("one completion each: %s", e)
            .isTrue();
      }
    }
    soft.assertThat(completed).containsExactlyInAnyOrderElementsOf(acknowledged);

    // The topic: the same events, each new one numbered one past the last (a record sent again
    // after the switchover may repeat an earlier one; none comes out of order).
    long last = stored.isEmpty() ? 0 : stored.get(stored.size() - 1).get("sequence").asLong();
    List<JsonNode> topic =
        EventLog.readSession(
            kafka.bootstrapServers(),
            TestInfra.EVENTS_TOPIC,
            sid,
            got -> got.stream().anyMatch(e -> e.path("sequence").asLong() == last),
            Duration.ofSeconds(60));
    Map<String, Long> seen = new HashMap<>();
    long highest = 0;
    List<String> outOfOrder = new ArrayList<>();
    int repeated = 0;
    for (JsonNode e : topic) {
      String id = e.get("id").asText();
      long seq = e.get("sequence").asLong();
      if (seen.containsKey(id)) {
        repeated++;
        continue;
      }
      seen.put(id, seq);
      if (seq != highest + 1) {
        outOfOrder.add(highest + " then " + seq);
      }
      highest = Math.max(highest, seq);
    }
    soft.assertThat(outOfOrder).as("events out of order on the topic").isEmpty();
    Map<String, Long> ledger = new HashMap<>();
    stored.forEach(e -> ledger.put(e.get("id").asText(), e.get("sequence").asLong()));
    soft.assertThat(seen).as("events on the topic vs. in the ledger").isEqualTo(ledger);
    LOG.info(
        "{} tasks, {} events in the ledger, {} records on the topic ({} repeated)",
        acknowledged.size(),
        stored.size(),
        topic.size(),
        repeated);
    soft.assertAll();
  }

  private static String submit(String sid, String url) throws Exception {
    ApiClient.Answer a =
        client.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + url + "\"}");
    assertThat(a.status()).as("%s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }
}
