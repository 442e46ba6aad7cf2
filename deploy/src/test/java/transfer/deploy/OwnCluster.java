package transfer.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.assertj.core.api.SoftAssertions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import transfer.testkit.EmbeddedKafka;
import transfer.testkit.EventLog;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * A cluster of its own for a test that does something to the whole of it (switches its database
 * over, runs another release's worker): its own broker (so no other cluster's workers share its
 * consumer group), origin and file storage, an api-service and workers as processes, on a database
 * the test gives it. Other tests' clusters are never touched.
 */
final class OwnCluster implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OwnCluster.class);
  static final Path ROOT =
      Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath().normalize();
  static final Path API_JAR = ROOT.resolve("api-service/target/quarkus-app/quarkus-run.jar");
  static final Path WORKER_JAR = ROOT.resolve("worker-service/target/quarkus-app/quarkus-run.jar");

  final Path dir;
  final EmbeddedKafka kafka;
  final Origin origin;
  final ApiClient client;
  private final String jdbcUrl;
  private final String dbUser;
  private final String dbPassword;
  private final String key = "own-cluster-key-" + Long.toHexString(System.nanoTime());
  private final int apiPort;
  private ServiceProcess api;
  private final List<ServiceProcess> workers = new ArrayList<>();
  private final Map<ServiceProcess, Integer> workerPorts = new HashMap<>();

  /** Starts the broker and the origin; the services start with {@link #startApi} and so on. */
  OwnCluster(Path dir, String jdbcUrl, String dbUser, String dbPassword) throws IOException {
    this.dir = dir;
    this.jdbcUrl = jdbcUrl;
    this.dbUser = dbUser;
    this.dbPassword = dbPassword;
    kafka = EmbeddedKafka.start(dir.resolve("kafka"), 0);
    try {
      kafka.createTopics(
          Map.of(
              TestInfra.TASKS_TOPIC, TestInfra.TOPIC_PARTITIONS,
              TestInfra.EVENTS_TOPIC, TestInfra.TOPIC_PARTITIONS,
              TestInfra.DEAD_LETTERS_TOPIC, 1));
      origin = Origin.start();
    } catch (RuntimeException e) {
      kafka.close();
      throw e;
    }
    apiPort = ApiClient.freePort();
    client = new ApiClient(apiPort, key);
  }

  /** Starts the api-service (this build's) and waits until it is ready; it migrates the ledger. */
  ServiceProcess startApi() {
    Map<String, String> env = env();
    env.put("QUARKUS_HTTP_PORT", String.valueOf(apiPort));
    env.put("TRANSFER_API_BOOTSTRAP_KEY", key);
    env.put("TRANSFER_REAPER_INTERVAL", "1s");
    api = ServiceProcess.start("api", API_JAR, env, List.of("-Xmx256m"), dir.resolve("api.log"));
    api.awaitReady(apiPort, Duration.ofSeconds(120));
    return api;
  }

  /**
   * Starts a worker from {@code jar} (this build's {@link #WORKER_JAR}, or another release's) with
   * 8 slots and checkpoints every second, and waits until it is ready.
   */
  ServiceProcess startWorker(String id, Path jar) throws IOException {
    int port = ApiClient.freePort();
    Map<String, String> env = env();
    env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
    env.put("TRANSFER_WORKER_ID", id);
    env.put("TRANSFER_WORKER_SLOTS", "8");
    env.put("TRANSFER_WORKER_CHECKPOINT_INTERVAL", "1s");
    ServiceProcess w =
        ServiceProcess.start(
            id,
            jar,
            env,
            List.of("-Xmx128m", "-XX:+ExitOnOutOfMemoryError"),
            dir.resolve(id + ".log"));
    workers.add(w); // stopped at close even if it never becomes ready
    workerPorts.put(w, port);
    w.awaitReady(port, Duration.ofSeconds(120));
    return w;
  }

  int apiPort() {
    return apiPort;
  }

  int portOf(ServiceProcess worker) {
    return workerPorts.get(worker);
  }

  private Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put("QUARKUS_DATASOURCE_JDBC_URL", jdbcUrl);
    env.put("QUARKUS_DATASOURCE_USERNAME", dbUser);
    env.put("QUARKUS_DATASOURCE_PASSWORD", dbPassword);
    env.put("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
    env.put("TRANSFER_STORAGE_ROOT", dir.resolve("objects").toString());
    env.put("TRANSFER_FETCH_ALLOWED_DESTINATIONS", "127.0.0.1:" + origin.port());
    env.put("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000");
    env.put("TRANSFER_QUOTA_BURST", "100000");
    return env;
  }

  /** A new session with this configuration (JSON); answers its id. */
  String newSession(String prefix, String configJson) throws Exception {
    String sid = prefix + "-" + Long.toHexString(System.nanoTime());
    ApiClient.Answer a = client.call("PUT", "/v1/sessions/" + sid, configJson);
    if (a.status() != 201) {
      throw new IllegalStateException("PUT session answered " + a.status() + ": " + a.body());
    }
    return sid;
  }

  /** Submits a download of {@code url}; answers the task's id, or throws unless 201. */
  String download(String sid, String url) throws Exception {
    ApiClient.Answer a =
        client.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + url + "\"}");
    if (a.status() != 201) {
      throw new IllegalStateException("POST task answered " + a.status() + ": " + a.body());
    }
    return a.body().get("id").asText();
  }

  /**
   * Soft-asserts that the session's events are in order: in the ledger numbered 1..n without a gap,
   * with one completion per task; on the topic the same events, each new one numbered one past the
   * last (a record sent again may repeat an earlier one; none comes out of order). Answers the
   * tasks that completed.
   */
  Set<String> assertEventsInOrder(String sid, SoftAssertions soft) throws Exception {
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
        "session {}: {} tasks completed, {} events in the ledger, {} records on the topic ({}"
            + " repeated)",
        sid,
        completed.size(),
        stored.size(),
        topic.size(),
        repeated);
    return completed;
  }

  /** What a download fetches from the origin: {@code /bytes/<size>?seed=<seed>}. */
  record Body(long size, long seed) {}

  /**
   * Submits {@code count} downloads of {@code size} bytes with seeds from {@code firstSeed} on, at
   * {@code rate} bytes a second (0: at once); answers each task's body, in submit order.
   */
  Map<String, Body> downloads(String sid, int count, long firstSeed, long size, long rate)
      throws Exception {
    Map<String, Body> bodies = new java.util.LinkedHashMap<>();
    for (int i = 0; i < count; i++) {
      long seed = firstSeed + i;
      String path = "/bytes/" + size + "?seed=" + seed + (rate > 0 ? "&rate=" + rate : "");
      bodies.put(download(sid, origin.url(path)), new Body(size, seed));
    }
    return bodies;
  }

  /** Soft-asserts that each task completes within {@code timeout} with its body's bytes. */
  void assertCompleted(
      String sid, Map<String, Body> bodies, Duration timeout, SoftAssertions soft) {
    for (Map.Entry<String, Body> e : bodies.entrySet()) {
      JsonNode done = client.awaitFinal(sid, e.getKey(), timeout);
      soft.assertThat(done.path("state").asText()).as("%s", done).isEqualTo("completed");
      soft.assertThat(done.path("sha256").asText())
          .as("%s", e.getKey())
          .isEqualTo(Origin.sha256Hex(e.getValue().size(), e.getValue().seed()));
    }
  }

  /** Stops the services (SIGTERM, then SIGKILL after 20 s), the origin and the broker. */
  @Override
  public void close() throws Exception {
    for (ServiceProcess w : workers) {
      w.stop(Duration.ofSeconds(20));
    }
    if (api != null) {
      api.stop(Duration.ofSeconds(20));
    }
    origin.close();
    kafka.close();
  }

  /** Removes a test's directory and everything under it. */
  static void deleteTree(Path root) throws IOException {
    if (root == null || !Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
