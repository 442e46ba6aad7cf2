package transfer.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import transfer.testkit.TestInfra;

/**
 * The cluster as the tests see it: the api-service and workers as separate JVMs (as in production)
 * on the shared Kafka broker and PostgreSQL of this test JVM. Started once per JVM.
 */
final class ClusterFixture {
  static final String API_KEY = "it-key-" + Long.toHexString(System.nanoTime());
  private static ClusterFixture instance;

  final TestInfra infra;
  final Path dataDir;
  final Path storageRoot;
  final int apiPort;
  final ServiceProcess api;
  final List<ServiceProcess> workers = new ArrayList<>();
  final ApiClient client;

  private ClusterFixture() throws Exception {
    infra = TestInfra.shared();
    dataDir = Files.createTempDirectory("transfer-cluster-it");
    storageRoot = dataDir.resolve("objects");
    Path root = Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath();
    apiPort = freePort();
    client = new ApiClient(apiPort, API_KEY);
    api =
        ServiceProcess.start(
            "api",
            root.resolve("api-service/target/quarkus-app/quarkus-run.jar"),
            env(
                Map.of(
                    "QUARKUS_HTTP_PORT",
                    String.valueOf(apiPort),
                    "TRANSFER_API_BOOTSTRAP_KEY",
                    API_KEY,
                    "TRANSFER_REAPER_INTERVAL",
                    "1s")),
            List.of("-Xmx256m"),
            dataDir.resolve("api.log"));
    api.awaitReady(apiPort, Duration.ofSeconds(90));
    // Every worker runs with a small heap: transfers must stream, never buffer a body.
    for (int i = 1; i <= 2; i++) {
      int port = freePort();
      ServiceProcess w =
          ServiceProcess.start(
              "worker-" + i,
              root.resolve("worker-service/target/quarkus-app/quarkus-run.jar"),
              env(
                  Map.of(
                      "QUARKUS_HTTP_PORT",
                      String.valueOf(port),
                      "TRANSFER_WORKER_ID",
                      "it-worker-" + i)),
              List.of("-Xmx128m", "-XX:+ExitOnOutOfMemoryError"),
              dataDir.resolve("worker-" + i + ".log"));
      w.awaitReady(port, Duration.ofSeconds(90));
      workers.add(w);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(this::stop));
  }

  /** The environment shared by every service process, plus {@code extra}. */
  private Map<String, String> env(Map<String, String> extra) {
    Map<String, String> env = new java.util.HashMap<>(extra);
    env.put("QUARKUS_DATASOURCE_JDBC_URL", infra.jdbcUrl());
    env.put("QUARKUS_DATASOURCE_USERNAME", infra.dbUser());
    env.put("QUARKUS_DATASOURCE_PASSWORD", infra.dbPassword());
    env.put("KAFKA_BOOTSTRAP_SERVERS", infra.kafkaBootstrap());
    env.put("TRANSFER_STORAGE_ROOT", storageRoot.toString());
    return env;
  }

  static synchronized ClusterFixture get() throws Exception {
    if (instance == null) {
      instance = new ClusterFixture();
    }
    return instance;
  }

  private void stop() {
    for (ServiceProcess w : workers) {
      w.stop(Duration.ofSeconds(20));
    }
    api.stop(Duration.ofSeconds(20));
  }

  // ------------------------------------------------------------------ API

  ApiClient.Answer call(String method, String path, String jsonBody) throws Exception {
    return client.call(method, path, jsonBody);
  }

  ApiClient.Content content(String sid, String tid) throws Exception {
    return client.content(sid, tid);
  }

  static int freePort() throws IOException {
    return ApiClient.freePort();
  }
}
