package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.GroupState;
import org.junit.jupiter.api.Assumptions;
import transfer.deploy.ApiClient;
import transfer.deploy.ApiClient.Answer;
import transfer.deploy.ApiClient.Content;
import transfer.deploy.ServiceProcess;
import transfer.testkit.Origin;
import transfer.testkit.ResumableTarget;
import transfer.testkit.Switchable;
import transfer.testkit.TestFiles;
import transfer.testkit.TestInfra;

/**
 * The cluster the fault-injection tests break and mend: the api-service and {@value #WORKERS}
 * workers as separate JVMs on this test JVM's Kafka broker and PostgreSQL, with short leases,
 * heartbeats, checkpoints and reaper intervals so that every fault plays out in seconds. Started
 * once per test JVM and shared by every {@code *ChaosIT} class; each test works in its own session
 * and calls {@link #restore()} afterwards, so the next test finds every service running and the
 * consumer group settled.
 *
 * <p>The chaos classes run in a failsafe execution of their own (a separate test JVM, see
 * deploy/pom.xml): this cluster's workers join the consumer group {@code transfer-workers}, and in
 * the JVM of {@code DownloadClusterIT} they would compete with that cluster's workers for
 * doorbells. The execution sets {@code transfer.chaos=true}; anywhere else the chaos classes are
 * skipped (so that {@code -Dit.test=*ChaosIT} does not run them twice).
 */
final class ChaosCluster {
  /**
   * Eight seconds against a Kafka session of six. A dead worker's doorbells (re-announced with the
   * task id as key, so on the same partition) reach the others only after its session expired and
   * the group rebalanced, which takes up to one consumer heartbeat more (the worker heartbeats
   * every third of its session). A takeover within a lease therefore needs session plus a third of
   * it no longer than the lease, as in production (10 s + 3.3 s against 30 s); six seconds is the
   * broker's minimum session ({@code group.min.session.timeout.ms}).
   */
  static final Duration LEASE_TTL = Duration.ofSeconds(8);

  static final Duration KAFKA_SESSION_TIMEOUT = Duration.ofSeconds(6);
  static final Duration HEARTBEAT_INTERVAL = Duration.ofMillis(500);
  static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
  static final Duration REAPER_INTERVAL = Duration.ofSeconds(1);
  static final Duration REANNOUNCE_AFTER = Duration.ofSeconds(5);
  static final int WORKERS = 3;
  static final int SLOTS = 8;
  static final String WORKER_GROUP = "transfer-workers";
  static final String API_KEY = "chaos-key-" + Long.toHexString(System.nanoTime());

  /** Short backoff, a few attempts and a short stall limit: what most chaos sessions use. */
  /**
   * Fast retries, and no per-host cap below the workers' slots: every task of these tests goes to
   * the one loopback origin, and the faults need many of them running at once.
   */
  static final String FAST_RETRY =
      "{\"retry\":{\"maxAttempts\":5,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT1S\"},"
          + "\"requestTimeout\":\"PT3S\",\"maxConnectionsPerHost\":64}";

  private static ChaosCluster instance;

  final TestInfra infra;
  final Path dataDir;
  final Path storageRoot;

  /** The stored bytes, on the file system or (-Dtransfer.storage=s3) in S3. */
  final transfer.deploy.ClusterStorage stored;

  final Path root;
  final int apiPort;
  final Origin origin;
  final MeddlingProxy proxy;

  /** Where resumable uploads go (tus 1.0 and the IETF's protocol). */
  final ResumableTarget resumable;

  final List<Worker> workers = new ArrayList<>();
  private final Path apiLog;
  private volatile ServiceProcess api;
  private final ApiClient client;
  private final ChaosLedger ledger;
  private final DoorbellTopic doorbells;
  private final SessionEvents events;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  final ObjectMapper json = new ObjectMapper();

  /** One worker slot: its name, port and log survive restarts; the process does not. */
  static final class Worker {
    final int index;
    final String id;
    final int port;
    final Path log;
    volatile ServiceProcess process;
    volatile boolean frozen;

    Worker(int index, String id, int port, Path log) {
      this.index = index;
      this.id = id;
      this.port = port;
      this.log = log;
    }

    boolean isAlive() {
      return process != null && process.isAlive();
    }

    /** kill -9, and wait until it is gone. */
    void kill() {
      process.kill();
    }

    void freeze() {
      process.signal("STOP");
      frozen = true;
    }

    void thaw() {
      if (process != null && process.isAlive()) {
        process.signal("CONT");
      }
      frozen = false;
    }

    /** SIGTERM in the background: a graceful stop takes seconds, and the test watches it. */
    CompletableFuture<Void> terminateAsync() {
      ServiceProcess p = process;
      return CompletableFuture.runAsync(() -> p.stop(Duration.ofSeconds(25)));
    }

    @Override
    public String toString() {
      return id + (process != null ? " (pid " + process.pid() + ")" : "");
    }
  }

  private ChaosCluster() throws Exception {
    infra = TestInfra.shared();
    dataDir = Files.createTempDirectory("transfer-chaos-it");
    storageRoot = dataDir.resolve("objects");
    stored = transfer.deploy.ClusterStorage.start(dataDir, storageRoot);
    root = Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath().normalize();
    origin = Origin.start();
    proxy = MeddlingProxy.start(origin);
    resumable = ResumableTarget.start();
    apiPort = freePort();
    client = new ApiClient(apiPort, API_KEY);
    ledger = new ChaosLedger(infra);
    doorbells = new DoorbellTopic(infra.kafkaBootstrap());
    events = new SessionEvents(infra.kafkaBootstrap(), client);
    apiLog = dataDir.resolve("api.log");
    for (int i = 1; i <= WORKERS; i++) {
      workers.add(
          new Worker(i, "chaos-worker-" + i, freePort(), dataDir.resolve("worker-" + i + ".log")));
    }
    Runtime.getRuntime().addShutdownHook(new Thread(this::stopAll, "chaos-cluster-stop"));
    api = startApi();
    // Side by side: four Quarkus starts one after another would cost half a minute on 2 cores.
    for (Worker w : workers) {
      w.process = startWorkerProcess(w);
    }
    api.awaitReady(apiPort, Duration.ofSeconds(120));
    for (Worker w : workers) {
      w.process.awaitReady(w.port, Duration.ofSeconds(120));
    }
    awaitGroupSettled(Duration.ofSeconds(90));
  }

  /** The shared cluster; skips the calling class outside the chaos failsafe execution. */
  static synchronized ChaosCluster get() throws Exception {
    Assumptions.assumeTrue(
        Boolean.getBoolean("transfer.chaos"),
        "chaos tests run in their own failsafe execution (transfer.chaos=true), see deploy/pom.xml");
    if (instance == null) {
      instance = new ChaosCluster();
    }
    return instance;
  }

  // ------------------------------------------------------------------ processes

  private ServiceProcess startApi() {
    Map<String, String> env = env();
    env.put("QUARKUS_HTTP_PORT", String.valueOf(apiPort));
    env.put("TRANSFER_API_BOOTSTRAP_KEY", API_KEY);
    env.put("TRANSFER_REAPER_INTERVAL", millis(REAPER_INTERVAL));
    env.put("TRANSFER_REAPER_REANNOUNCE_AFTER", millis(REANNOUNCE_AFTER));
    return ServiceProcess.start(
        "api",
        root.resolve("api-service/target/quarkus-app/quarkus-run.jar"),
        env,
        List.of("-Xmx256m"),
        apiLog);
  }

  private ServiceProcess startWorkerProcess(Worker w) {
    Map<String, String> env = env();
    env.put("QUARKUS_HTTP_PORT", String.valueOf(w.port));
    env.put("TRANSFER_WORKER_ID", w.id);
    env.put("TRANSFER_WORKER_SLOTS", String.valueOf(SLOTS));
    env.put("TRANSFER_WORKER_LEASE_TTL", millis(LEASE_TTL));
    env.put("TRANSFER_WORKER_HEARTBEAT_INTERVAL", millis(HEARTBEAT_INTERVAL));
    env.put("TRANSFER_WORKER_CHECKPOINT_INTERVAL", millis(CHECKPOINT_INTERVAL));
    env.put("TRANSFER_WORKER_KAFKA_SESSION_TIMEOUT", millis(KAFKA_SESSION_TIMEOUT));
    // Claims only by doorbell, so that the doorbell faults measure the doorbell paths (the idle
    // poll is InfrastructureChaosIT's, on a worker of its own).
    env.put("TRANSFER_WORKER_IDLE_POLL", "1h");
    return ServiceProcess.start(
        w.id,
        root.resolve("worker-service/target/quarkus-app/quarkus-run.jar"),
        env,
        List.of("-Xmx128m", "-XX:+ExitOnOutOfMemoryError"),
        w.log);
  }

  /** What every service of this cluster is started with: the database, broker and storage. */
  Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put("QUARKUS_DATASOURCE_JDBC_URL", infra.jdbcUrl());
    env.put("QUARKUS_DATASOURCE_USERNAME", infra.dbUser());
    env.put("QUARKUS_DATASOURCE_PASSWORD", infra.dbPassword());
    env.put("KAFKA_BOOTSTRAP_SERVERS", infra.kafkaBootstrap());
    env.put("TRANSFER_STORAGE_ROOT", storageRoot.toString());
    env.putAll(stored.env());
    // Tasks reach the origin directly or through the proxy, the resumable target, and nothing
    // else.
    env.put(
        "TRANSFER_FETCH_ALLOWED_DESTINATIONS",
        "127.0.0.1:"
            + origin.port()
            + ",127.0.0.1:"
            + proxy.port()
            + ",127.0.0.1:"
            + resumable.port());
    // Hundreds of tasks are submitted at once; the per-tenant request rate is QuotaIT's subject.
    env.put("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000");
    env.put("TRANSFER_QUOTA_BURST", "100000");
    return env;
  }

  private static String millis(Duration d) {
    return d.toMillis() + "ms";
  }

  ServiceProcess api() {
    return api;
  }

  /** kill -9 of the api-service. */
  void killApi() {
    api.kill();
  }

  /** Starts the api-service again (same port, same key) and waits until it is ready. */
  void restartApi() {
    if (!api.isAlive()) {
      api = startApi();
    }
    api.awaitReady(apiPort, Duration.ofSeconds(120));
  }

  /** Starts a worker that is not running (killed or stopped) and waits until it is ready. */
  void restartWorker(Worker w) {
    if (!w.isAlive()) {
      w.process = startWorkerProcess(w);
      w.frozen = false;
    }
    w.process.awaitReady(w.port, Duration.ofSeconds(120));
  }

  Worker worker(String id) {
    return workers.stream()
        .filter(w -> w.id.equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no worker of this cluster is called " + id));
  }

  /** The worker that holds the task's lease now. */
  Worker ownerOf(String taskId) {
    return worker(
        Objects.requireNonNull(ledger.row(taskId).owner(), "task " + taskId + " has no owner"));
  }

  /**
   * Mends whatever a test broke: thaws frozen workers, brings the broker and the database back,
   * restarts dead services, and waits until the consumer group holds exactly the live workers again
   * (a killed worker stays a member until its session times out; a rebalance started before that
   * would hold every doorbell until then, so the next test must not start earlier).
   */
  void restore() {
    for (Worker w : workers) {
      if (w.frozen || w.isAlive()) {
        w.thaw();
      }
    }
    infra.kafkaSwitch().ensureRunning();
    infra.postgresSwitch().ensureRunning();
    if (!api.isAlive()) {
      api = startApi();
    }
    for (Worker w : workers) {
      if (!w.isAlive()) {
        w.process = startWorkerProcess(w);
      }
    }
    api.awaitReady(apiPort, Duration.ofSeconds(120));
    for (Worker w : workers) {
      w.process.awaitReady(w.port, Duration.ofSeconds(120));
    }
    awaitGroupSettled(Duration.ofSeconds(120));
  }

  private void stopAll() {
    for (Worker w : workers) {
      if (w.process != null) {
        w.process.stop(Duration.ofSeconds(20));
      }
    }
    if (api != null) {
      api.stop(Duration.ofSeconds(20));
    }
    proxy.close();
    origin.close();
    resumable.close();
    // The logs stay (they are the evidence when a test failed); the downloaded bytes need not.
    try {
      stored.close();
      TestFiles.deleteTree(storageRoot);
    } catch (RuntimeException e) {
      // best effort at exit
    }
  }

  // ------------------------------------------------------------------ Kafka

  /** Waits until the worker group is stable with exactly the live workers as members. */
  void awaitGroupSettled(Duration timeout) {
    Set<String> live =
        workers.stream()
            .filter(Worker::isAlive)
            .map(w -> w.id)
            .collect(Collectors.toCollection(TreeSet::new));
    await("consumer group " + WORKER_GROUP + " stable with members " + live)
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(
            () -> {
              ConsumerGroupDescription d = doorbells.describeGroup();
              Set<String> members =
                  d.members().stream()
                      .map(MemberDescription::clientId)
                      .collect(Collectors.toCollection(TreeSet::new));
              int assigned =
                  d.members().stream().mapToInt(m -> m.assignment().topicPartitions().size()).sum();
              return d.groupState() == GroupState.STABLE
                  && members.equals(live)
                  && assigned == TestInfra.TOPIC_PARTITIONS;
            });
  }

  // ------------------------------------------------------------------ PostgreSQL

  /** The database server, to stop and start on the same data (embedded or in a container). */
  Switchable postgres() {
    return infra.postgresSwitch();
  }

  /** The broker, as {@link #postgres()}. */
  Switchable kafka() {
    return infra.kafkaSwitch();
  }

  /** The ledger as the tests read it: task rows, counts, one-off statements. */
  ChaosLedger ledger() {
    return ledger;
  }

  /** The sessions' events, on the topic and in the replay, and the assertions about them. */
  SessionEvents events() {
    return events;
  }

  /** The worker group and the doorbells topic, as the tests read and ring them. */
  DoorbellTopic doorbells() {
    return doorbells;
  }

  // ------------------------------------------------------------------ API

  Answer call(String method, String path, String jsonBody) throws Exception {
    return client.call(method, path, jsonBody);
  }

  Answer call(String method, String path, String jsonBody, Map<String, String> headers)
      throws Exception {
    return client.call(method, path, jsonBody, headers);
  }

  /** A fresh session with this configuration (JSON); answers its id. */
  String newSession(String config) throws Exception {
    String sid = "chaos-" + java.util.UUID.randomUUID();
    Answer a = call("PUT", "/v1/sessions/" + sid, config);
    assertThat(a.status()).as("PUT session: %s", a.body()).isEqualTo(201);
    return sid;
  }

  /** The body of a download task for this URL; {@code extra} is more JSON members, or null. */
  static String downloadBody(String url, String extra) {
    return "{\"type\":\"download\",\"url\":\""
        + url
        + "\""
        + (extra != null ? "," + extra : "")
        + "}";
  }

  String submit(String sid, String url) throws Exception {
    return submit(sid, url, null);
  }

  String submit(String sid, String url, String extra) throws Exception {
    Answer a = call("POST", "/v1/sessions/" + sid + "/tasks", downloadBody(url, extra));
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }

  JsonNode task(String sid, String tid) throws Exception {
    Answer a = call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null);
    assertThat(a.status()).as("GET task: %s", a.body()).isEqualTo(200);
    return a.body();
  }

  static boolean isFinal(JsonNode task) {
    String state = task.get("state").asText();
    return state.equals("completed") || state.equals("failed") || state.equals("canceled");
  }

  JsonNode awaitFinal(String sid, String tid, Duration timeout) {
    return client.awaitFinal(sid, tid, timeout);
  }

  /**
   * Like {@link #awaitFinal}, but answers the task as last seen when the timeout passes, so that a
   * test can report the state it got stuck in next to its other findings.
   */
  JsonNode awaitFinalOrLast(String sid, String tid, Duration timeout) throws Exception {
    try {
      return awaitFinal(sid, tid, timeout);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      return task(sid, tid);
    }
  }

  Content content(String sid, String tid) throws Exception {
    return client.content(sid, tid);
  }

  /** Completed, with the origin's bytes recorded and stored, streamed back by the API. */
  void assertCompletedWithTheRightBytes(
      org.assertj.core.api.SoftAssertions soft,
      String sid,
      String tid,
      JsonNode task,
      long size,
      long seed)
      throws Exception {
    String expected = Origin.sha256Hex(size, seed);
    soft.assertThat(task.path("state").asText())
        .as("state of %s: %s", tid, task)
        .isEqualTo("completed");
    soft.assertThat(task.path("sha256").asText())
        .as("recorded SHA-256 of %s", tid)
        .isEqualTo(expected);
    soft.assertThat(task.path("bytesTransferred").asLong()).as("bytes of %s", tid).isEqualTo(size);
    if (task.path("state").asText().equals("completed")) {
      Content c = content(sid, tid);
      soft.assertThat(c.status()).as("content status of %s", tid).isEqualTo(200);
      soft.assertThat(c.size()).as("stored size of %s", tid).isEqualTo(size);
      soft.assertThat(c.sha256()).as("SHA-256 of the stored bytes of %s", tid).isEqualTo(expected);
    }
  }

  // ------------------------------------------------------------------ origin and storage

  /** A seed no other test uses, so that the origin's log of one test's URLs is its own. */
  static long newSeed() {
    return ThreadLocalRandom.current().nextLong(1_000_000, Long.MAX_VALUE / 2);
  }

  /** The origin's requests for URLs with this seed, in arrival order. */
  List<Origin.RequestRecord> originRequests(long seed) {
    return origin.requests().stream().filter(r -> seedOf(r.query()) == seed).toList();
  }

  static long seedOf(String query) {
    if (query == null) {
      return -1;
    }
    for (String kv : query.split("&")) {
      if (kv.startsWith("seed=")) {
        try {
          return Long.parseLong(kv.substring(5));
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  /** The start offset N of a {@code Range: bytes=N-} header, or -1. */
  static long rangeStart(String range) {
    if (range == null) {
      return -1;
    }
    Matcher m = Pattern.compile("bytes=(\\d+)-").matcher(range.trim());
    return m.lookingAt() ? Long.parseLong(m.group(1)) : -1;
  }

  /** What storage holds (objects, temporaries, uploads) whose name starts with the task id. */
  List<String> storedFilesOf(String tid) throws IOException {
    return stored.namesStartingWith(tid);
  }

  /** A task's temporary objects ({@code .partial/}) or multipart uploads in progress. */
  List<String> temporariesOf(String tid) throws IOException {
    return stored.temporariesOf(tid);
  }

  /**
   * One line of figures for the build log ({@code [chaos] ...}): how close a run came to a bound.
   */
  static void figures(String format, Object... args) {
    System.out.println("[chaos] " + String.format(format, args));
  }

  /** Like Awaitility's {@code until}, but answers false instead of throwing at the timeout. */
  static boolean eventually(Duration atMost, java.util.concurrent.Callable<Boolean> condition) {
    try {
      await().atMost(atMost).pollInterval(Duration.ofMillis(100)).until(condition);
      return true;
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      return false;
    }
  }

  static int freePort() throws IOException {
    return ApiClient.freePort();
  }

  // ------------------------------------------------------------------ logs

  /** Reads what the services log from now on. */
  LogWatch watchLogs() {
    Map<String, Path> logs = new LinkedHashMap<>();
    logs.put("api", apiLog);
    for (Worker w : workers) {
      logs.put(w.id, w.log);
    }
    return new LogWatch(logs);
  }
}
