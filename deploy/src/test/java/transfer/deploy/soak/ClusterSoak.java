package transfer.deploy.soak;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import transfer.deploy.ApiClient;
import transfer.deploy.ServiceProcess;
import transfer.testkit.EventLog;
import transfer.testkit.Origin;
import transfer.testkit.TestFiles;
import transfer.testkit.TestInfra;

/**
 * The soak: many downloads while workers are killed with SIGKILL at random and the Kafka broker is
 * restarted once. It prints the figures the reliability section of the README reports: tasks
 * submitted, completed, failed, duplicate completions, bytes fetched again after resumes, and the
 * recovery time after each fault. Not part of {@code mvn verify} (its name ends in neither Test nor
 * IT); run it with {@code bench/soak}, which passes the sizes as system properties.
 */
class ClusterSoak {
  private static final int TASKS = Integer.getInteger("soak.tasks", 500);
  private static final int WORKERS = Integer.getInteger("soak.workers", 3);
  private static final int KILL_EVERY_SECONDS = Integer.getInteger("soak.killEverySeconds", 12);
  private static final long FILE_BYTES = Long.getLong("soak.fileBytes", 16L << 20);
  private static final long RATE = Long.getLong("soak.rateBytesPerSecond", 4L << 20);
  private static final int SLOTS = Integer.getInteger("soak.slots", 4);
  private static final int DISTINCT_FILES = 8;
  private static final String KEY = "soak-key";

  private final List<String> faults = new ArrayList<>();

  /**
   * The storage the soak runs on ({@code soak.storage}: file or s3): it runs in the test JVM whose
   * cluster storage is that one (-Dit.test runs it in both the default and the s3 execution).
   */
  private static final String STORAGE = System.getProperty("soak.storage", "file");

  @Test
  void everyTaskEndsExactlyOnceThroughWorkerKillsAndABrokerRestart() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        STORAGE.equals(transfer.deploy.ClusterStorage.S3 ? "s3" : "file"),
        "soak.storage=" + STORAGE + " runs in the other test JVM");
    TestInfra infra = TestInfra.shared();
    Path root = Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath();
    Path dir = Files.createTempDirectory("transfer-soak");
    Map<String, String> common = new HashMap<>();
    common.put("QUARKUS_DATASOURCE_JDBC_URL", infra.jdbcUrl());
    common.put("QUARKUS_DATASOURCE_USERNAME", infra.dbUser());
    common.put("QUARKUS_DATASOURCE_PASSWORD", infra.dbPassword());
    common.put("KAFKA_BOOTSTRAP_SERVERS", infra.kafkaBootstrap());
    common.put("TRANSFER_STORAGE_ROOT", dir.resolve("objects").toString());
    transfer.deploy.ClusterStorage stored =
        transfer.deploy.ClusterStorage.start(dir, dir.resolve("objects"));
    common.putAll(stored.env());
    common.put("TRANSFER_WORKER_LEASE_TTL", "4s");
    common.put("TRANSFER_WORKER_HEARTBEAT_INTERVAL", "500ms");
    common.put("TRANSFER_WORKER_CHECKPOINT_INTERVAL", "1s");
    common.put("TRANSFER_REAPER_INTERVAL", "1s");
    common.put("TRANSFER_REAPER_REANNOUNCE_AFTER", "10s");
    common.put("TRANSFER_WORKER_SLOTS", String.valueOf(SLOTS));
    // The origin's one port is the only destination the cluster may reach.
    int originPort = freePort();
    common.put("TRANSFER_FETCH_ALLOWED_DESTINATIONS", "127.0.0.1:" + originPort);
    // Tests submit hundreds of tasks at once; the per-tenant request rate is QuotaIT's subject.
    common.put("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000");
    common.put("TRANSFER_QUOTA_BURST", "100000");

    int apiPort = freePort();
    Map<String, String> apiEnv = new HashMap<>(common);
    apiEnv.put("QUARKUS_HTTP_PORT", String.valueOf(apiPort));
    apiEnv.put("TRANSFER_API_BOOTSTRAP_KEY", KEY);
    ServiceProcess api =
        ServiceProcess.start(
            "api",
            root.resolve("api-service/target/quarkus-app/quarkus-run.jar"),
            apiEnv,
            List.of("-Xmx256m"),
            dir.resolve("api.log"));
    api.awaitReady(apiPort, Duration.ofSeconds(90));
    ServiceProcess[] workers = new ServiceProcess[WORKERS];
    int[] workerPorts = new int[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
      workerPorts[i] = freePort();
      workers[i] = startWorker(root, dir, common, i, workerPorts[i]);
    }
    try (Origin origin = Origin.start(originPort)) {
      String sid = "soak-" + System.currentTimeMillis();
      call(
          "PUT",
          apiPort,
          "/v1/sessions/" + sid,
          "{\"retry\":{\"maxAttempts\":10,"
              + "\"initialBackoff\":\"PT0.5S\",\"maxBackoff\":\"PT2S\"},\"requestTimeout\":\"PT5S\","
              + "\"maxConnectionsPerHost\":64}");
      Map<String, String> expectedSha = new HashMap<>();
      List<String> ids = new ArrayList<>();
      Instant start = Instant.now();
      for (int i = 0; i < TASKS; i++) {
        int seed = i % DISTINCT_FILES;
        String url = origin.url("/bytes/" + FILE_BYTES + "?seed=" + seed + "&rate=" + RATE);
        JsonNode t =
            call(
                "POST",
                apiPort,
                "/v1/sessions/" + sid + "/tasks",
                "{\"type\":\"download\",\"url\":\"" + url + "\"}");
        ids.add(t.get("id").asText());
        expectedSha.put(t.get("id").asText(), Origin.sha256Hex(FILE_BYTES, seed));
      }
      System.out.printf(
          "soak: submitted %d tasks in %s%n", TASKS, Duration.between(start, Instant.now()));

      Random random = new Random(42);
      boolean brokerRestarted = false;
      Instant nextKill = Instant.now().plusSeconds(KILL_EVERY_SECONDS);
      Instant deadline =
          Instant.now().plus(Duration.ofMinutes(Integer.getInteger("soak.maxMinutes", 15)));
      int done = 0;
      while (Instant.now().isBefore(deadline)) {
        done = countFinal(apiPort, sid, ids);
        if (done == ids.size()) {
          break;
        }
        if (Instant.now().isAfter(nextKill)) {
          int w = random.nextInt(WORKERS);
          Instant at = Instant.now();
          workers[w].kill();
          workers[w] = startWorker(root, dir, common, w, workerPorts[w]);
          recordRecovery("kill -9 worker-" + (w + 1), at, apiPort, sid, ids, done);
          nextKill = Instant.now().plusSeconds(KILL_EVERY_SECONDS);
        } else if (!brokerRestarted && done >= ids.size() / 2) {
          Instant at = Instant.now();
          infra.kafkaSwitch().stop();
          infra.kafkaSwitch().start();
          brokerRestarted = true;
          recordRecovery("Kafka broker restart", at, apiPort, sid, ids, done);
        }
        Thread.sleep(500);
      }
      Duration took = Duration.between(start, Instant.now());

      int completed = 0;
      int failed = 0;
      int wrongDigest = 0;
      for (String id : ids) {
        JsonNode t = call("GET", apiPort, "/v1/sessions/" + sid + "/tasks/" + id, null);
        switch (t.get("state").asText()) {
          case "completed" -> {
            completed++;
            if (!expectedSha.get(id).equals(t.get("sha256").asText())) {
              wrongDigest++;
            }
          }
          case "failed" -> failed++;
          default -> {}
        }
      }
      int finalCount = completed + failed;
      List<JsonNode> events =
          EventLog.readSession(
              infra.kafkaBootstrap(),
              "transfer-events",
              sid,
              got -> distinctCompleted(got).size() >= finalCount,
              Duration.ofSeconds(60));
      Map<String, Set<String>> completionIdsPerTask = new HashMap<>();
      int completionRecords = 0;
      for (JsonNode e : events) {
        if (e.get("type").asText().equals("transfer.task.completed")) {
          completionRecords++;
          completionIdsPerTask
              .computeIfAbsent(e.get("subject").asText(), k -> new HashSet<>())
              .add(e.get("id").asText());
        }
      }
      long duplicateIds = completionIdsPerTask.values().stream().mapToLong(s -> s.size() - 1).sum();
      long served = origin.requests().stream().mapToLong(Origin.RequestRecord::bytesSent).sum();
      long refetched = served - (long) completed * FILE_BYTES;
      long resumed = origin.requests().stream().filter(r -> r.range() != null).count();

      StringBuilder report = new StringBuilder();
      report.append(String.format("%n## Soak %s%n%n", Instant.now()));
      report.append(
          String.format(
              "%d tasks of %d MiB (origin at %d MiB/s each), %d workers of %d slots, a SIGKILL"
                  + " about every %d s, one broker restart; %s storage; all final after %s%n%n",
              TASKS,
              FILE_BYTES >> 20,
              RATE >> 20,
              WORKERS,
              SLOTS,
              KILL_EVERY_SECONDS,
              STORAGE,
              took));
      report.append("| figure | value |\n|---|---:|\n");
      report.append(row("tasks submitted", TASKS));
      report.append(row("completed", completed));
      report.append(row("failed", failed));
      report.append(row("not final at the end", TASKS - completed - failed));
      report.append(row("completed with a wrong SHA-256", wrongDigest));
      report.append(row("completion event ids per task beyond one", duplicateIds));
      report.append(
          row(
              "completion records on the topic beyond one per task (redelivery, same id)",
              completionRecords - completionIdsPerTask.size()));
      report.append(row("requests resumed with Range", resumed));
      report.append(row("bytes fetched again (MiB)", refetched >> 20));
      report.append(row("faults injected", faults.size()));
      report.append("\nRecovery after each fault (until the next task completed):\n\n");
      faults.forEach(f -> report.append("- ").append(f).append('\n'));
      System.out.println(report);
      Path out = Path.of(System.getProperty("soak.report", dir.resolve("soak.md").toString()));
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(
          out,
          report.toString(),
          java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);

      assertThat(TASKS - completed - failed).as("tasks not final").isZero();
      assertThat(duplicateIds).as("tasks with more than one completion id").isZero();
      assertThat(wrongDigest).as("completed with a wrong digest").isZero();
    } finally {
      for (ServiceProcess w : workers) {
        w.stop(Duration.ofSeconds(20));
      }
      api.stop(Duration.ofSeconds(20));
      stored.close();
      TestFiles.deleteTree(dir.resolve("objects"));
    }
  }

  /** Waits (bounded) until one more task is final than before the fault, and notes how long. */
  private void recordRecovery(
      String fault, Instant at, int apiPort, String sid, List<String> ids, int doneBefore)
      throws Exception {
    Instant limit = at.plusSeconds(60);
    while (Instant.now().isBefore(limit)) {
      if (countFinal(apiPort, sid, ids) > doneBefore || doneBefore == ids.size()) {
        faults.add(
            String.format(
                "%s: %.1f s", fault, Duration.between(at, Instant.now()).toMillis() / 1000.0));
        return;
      }
      Thread.sleep(200);
    }
    faults.add(fault + ": no task completed within 60 s");
  }

  private int countFinal(int apiPort, String sid, List<String> ids) throws Exception {
    // The replay API is the cheap way to count: one completion event per final task.
    long seq = 0;
    Set<String> finals = new HashSet<>();
    while (true) {
      JsonNode page =
          call(
              "GET", apiPort, "/v1/sessions/" + sid + "/events?after=" + seq + "&limit=1000", null);
      for (JsonNode e : page.get("events")) {
        if (e.get("type").asText().equals("transfer.task.completed")) {
          finals.add(e.get("subject").asText());
        }
      }
      long last = page.get("last").asLong();
      if (last == seq) {
        break;
      }
      seq = last;
    }
    return finals.size();
  }

  private static Set<String> distinctCompleted(List<JsonNode> events) {
    Set<String> ids = new HashSet<>();
    for (JsonNode e : events) {
      if (e.get("type").asText().equals("transfer.task.completed")) {
        ids.add(e.get("id").asText());
      }
    }
    return ids;
  }

  private static String row(String name, long value) {
    return "| " + name + " | " + value + " |\n";
  }

  private ServiceProcess startWorker(
      Path root, Path dir, Map<String, String> common, int i, int port) throws Exception {
    Map<String, String> env = new HashMap<>(common);
    env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
    env.put("TRANSFER_WORKER_ID", "soak-worker-" + (i + 1) + "-" + System.nanoTime() % 10000);
    ServiceProcess w =
        ServiceProcess.start(
            "worker-" + (i + 1),
            root.resolve("worker-service/target/quarkus-app/quarkus-run.jar"),
            env,
            List.of("-Xmx128m"),
            dir.resolve("worker-" + (i + 1) + ".log"));
    w.awaitReady(port, Duration.ofSeconds(90));
    return w;
  }

  /** One client (and connection pool) per API port for the whole soak. */
  private final Map<Integer, ApiClient> clients = new java.util.concurrent.ConcurrentHashMap<>();

  /** A call that must succeed; the soak's figures are meaningless after a failed one. */
  private JsonNode call(String method, int port, String path, String body) throws Exception {
    ApiClient.Answer a =
        clients.computeIfAbsent(port, p -> new ApiClient(p, KEY)).call(method, path, body);
    if (a.status() >= 300) {
      throw new IllegalStateException(
          method + " " + path + " answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  private static int freePort() throws Exception {
    return ApiClient.freePort();
  }
}
