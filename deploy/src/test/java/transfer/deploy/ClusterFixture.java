package transfer.deploy;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import transfer.testkit.EventLog;
import transfer.testkit.ForwardProxy;
import transfer.testkit.LocalCa;
import transfer.testkit.OtlpCollector;
import transfer.testkit.PrometheusText;
import transfer.testkit.TestFiles;
import transfer.testkit.TestInfra;

/**
 * The cluster as the tests see it: the api-service and workers as separate JVMs (as in production)
 * on the shared Kafka broker and PostgreSQL of this test JVM. Started once per JVM.
 */
final class ClusterFixture {
  static final String API_KEY = "it-key-" + Long.toHexString(System.nanoTime());

  /** The admin key, for tests that make tenants of their own. */
  static final String ADMIN_KEY = "it-admin-" + Long.toHexString(System.nanoTime());

  private static ClusterFixture instance;

  /** Whether this test JVM's cluster stores bytes in S3 ({@link ClusterStorage#S3}). */
  static final boolean S3 = ClusterStorage.S3;

  final TestInfra infra;
  final Path dataDir;

  /** Where the file backend keeps stored bytes (on S3: where the api-service spools staging). */
  final Path storageRoot;

  /** The stored bytes of this cluster, on the file system or in S3, as the tests look at them. */
  final ClusterStorage stored;

  final int apiPort;

  /**
   * The one port test origins listen on (127.0.0.1): the only destination the cluster may reach
   * ({@code transfer.fetch.allowed-destinations}), so every other loopback address and port stays
   * refused, as in production.
   */
  final int originPort;

  /**
   * The one port HTTPS test origins listen on (127.0.0.1), allowed as {@link #originPort} is; the
   * workers trust {@link #originCa} besides the JVM's authorities ({@code
   * TRANSFER_FETCH_TRUSTED_CA}).
   */
  final int tlsOriginPort;

  /**
   * The one port resumable upload targets listen on (127.0.0.1, {@link
   * transfer.testkit.ResumableTarget}), allowed as {@link #originPort} is.
   */
  final int resumablePort;

  /** The private authority of the HTTPS test origins' certificates. */
  final LocalCa originCa;

  /**
   * The workers' client certificates ({@code TRANSFER_FETCH_CLIENT_CERTIFICATES}): a test puts
   * {@code <tenant>/<name>/tls.crt} and {@code tls.key} here for a session to name.
   */
  final Path clientCertificates;

  /**
   * The workers' name service ({@code jdk.net.hosts.file}): {@link #ORIGIN_NAME} is the origin's
   * address under a name, {@link #PRIVATE_NAME} a public-looking name for 127.0.0.2.
   */
  final Path hostsFile;

  static final String ORIGIN_NAME = "origin.transfer.test";
  static final String PRIVATE_NAME = "files.public-looking.example";

  /**
   * A name of the origins (127.0.0.1) that no_proxy does not list: the workers reach URLs with this
   * host through {@link #proxy}, every other test URL directly.
   */
  static final String PROXIED_NAME = "files.proxied.example";

  /** A name for 127.0.0.2 that no_proxy does not list: refused by the rules, proxy or not. */
  static final String PROXIED_PRIVATE_NAME = "internal.proxied.example";

  /** The credentials the workers give {@link #proxy} (in their https_proxy and http_proxy). */
  static final String PROXY_USER = "transfer-worker";

  static final String PROXY_PASSWORD = "proxy-" + Long.toHexString(System.nanoTime());

  /**
   * The workers' outbound proxy ({@code https_proxy}, {@code http_proxy}), with {@code no_proxy}
   * listing every name the tests use but {@link #PROXIED_NAME}.
   */
  final ForwardProxy proxy;

  final ServiceProcess api;
  final List<ServiceProcess> workers = new ArrayList<>();

  /** The workers' HTTP ports (health and metrics), in the order of {@link #workers}. */
  final List<Integer> workerPorts = new ArrayList<>();

  final ApiClient client;

  /**
   * Where every service of this cluster exports its spans (OTLP over loopback): the services run
   * with {@code OTEL_EXPORTER_OTLP_ENDPOINT} set, as an operator would set it, and JSON logs, as in
   * k8s/ and compose ({@code TraceClusterIT} reads both).
   */
  final OtlpCollector collector;

  private ClusterFixture() throws Exception {
    infra = TestInfra.shared();
    collector = OtlpCollector.start();
    dataDir = Files.createTempDirectory("transfer-cluster-it");
    storageRoot = dataDir.resolve("objects");
    stored = ClusterStorage.start(dataDir, storageRoot);
    Path root = Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath();
    apiPort = freePort();
    originPort = freePort();
    tlsOriginPort = freePort();
    resumablePort = freePort();
    originCa = LocalCa.openOrCreate(dataDir.resolve("origin-ca"), "transfer test origins CA");
    clientCertificates = Files.createDirectories(dataDir.resolve("client-certificates"));
    hostsFile = dataDir.resolve("hosts");
    Files.writeString(
        hostsFile,
        String.join(
            "\n",
            "127.0.0.1 localhost",
            "127.0.0.1 " + java.net.InetAddress.getLocalHost().getHostName(),
            "127.0.0.1 " + ORIGIN_NAME,
            "127.0.0.2 " + PRIVATE_NAME,
            "127.0.0.1 " + PROXIED_NAME,
            "127.0.0.2 " + PROXIED_PRIVATE_NAME,
            ""));
    proxy = ForwardProxy.start(Map.of(PROXIED_NAME, "127.0.0.1"), PROXY_USER, PROXY_PASSWORD);
    client = new ApiClient(apiPort, API_KEY);
    api =
        ServiceProcess.start(
            "api",
            root.resolve("api-service/target/quarkus-app/quarkus-run.jar"),
            env(
                "api",
                Map.of(
                    "QUARKUS_HTTP_PORT",
                    String.valueOf(apiPort),
                    "TRANSFER_API_BOOTSTRAP_KEY",
                    API_KEY,
                    "TRANSFER_ADMIN_KEY",
                    ADMIN_KEY,
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
                  "worker-" + i,
                  Map.of(
                      "QUARKUS_HTTP_PORT",
                      String.valueOf(port),
                      "TRANSFER_WORKER_ID",
                      "it-worker-" + i,
                      // Checkpoints every second (5 s by default), so that a test of cancel,
                      // suspend or a mid-body failure has a durable prefix after a few seconds.
                      "TRANSFER_WORKER_CHECKPOINT_INTERVAL",
                      "1s",
                      "TRANSFER_FETCH_TRUSTED_CA",
                      originCa.certificatePem().toString(),
                      "TRANSFER_FETCH_CLIENT_CERTIFICATES",
                      clientCertificates.toString(),
                      // Lower case, the name that wins over an upper-case one this JVM may hold.
                      "https_proxy",
                      proxy.url(PROXY_USER, PROXY_PASSWORD),
                      "http_proxy",
                      proxy.url(PROXY_USER, PROXY_PASSWORD),
                      "no_proxy",
                      "localhost,127.0.0.1,::1,.transfer.test,.public-looking.example")),
              List.of(
                  "-Xmx128m", "-XX:+ExitOnOutOfMemoryError", "-Djdk.net.hosts.file=" + hostsFile),
              dataDir.resolve("worker-" + i + ".log"));
      w.awaitReady(port, Duration.ofSeconds(90));
      workers.add(w);
      workerPorts.add(port);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(this::stop));
  }

  /**
   * The JSON log of a service of this cluster (beside its plain-text console log, which other tests
   * read): one object per line with the MDC fields at the top level, the format k8s/ and compose
   * give the console ({@code quarkus-logging-json}).
   */
  Path jsonLog(ServiceProcess service) {
    return dataDir.resolve(service.name() + ".json.log");
  }

  /** The environment of service {@code name}: the shared one, plus {@code extra}. */
  private Map<String, String> env(String name, Map<String, String> extra) {
    Map<String, String> env = env(extra);
    env.put("QUARKUS_LOG_FILE_ENABLED", "true");
    env.put("QUARKUS_LOG_FILE_PATH", dataDir.resolve(name + ".json.log").toString());
    env.put("QUARKUS_LOG_FILE_JSON_ENABLED", "true");
    env.put("QUARKUS_LOG_FILE_JSON_MDC_FLAT_FIELDS", "true");
    return env;
  }

  /** The environment shared by every service process, plus {@code extra}. */
  private Map<String, String> env(Map<String, String> extra) {
    Map<String, String> env = new java.util.HashMap<>(extra);
    env.put("QUARKUS_DATASOURCE_JDBC_URL", infra.jdbcUrl());
    env.put("QUARKUS_DATASOURCE_USERNAME", infra.dbUser());
    env.put("QUARKUS_DATASOURCE_PASSWORD", infra.dbPassword());
    env.put("KAFKA_BOOTSTRAP_SERVERS", infra.kafkaBootstrap());
    env.put("TRANSFER_STORAGE_ROOT", storageRoot.toString());
    env.putAll(stored.env());
    env.put(
        "TRANSFER_FETCH_ALLOWED_DESTINATIONS",
        "127.0.0.1:" + originPort + ",127.0.0.1:" + tlsOriginPort + ",127.0.0.1:" + resumablePort);
    // Tests submit hundreds of tasks at once; the per-tenant request rate is QuotaIT's subject.
    env.put("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000");
    env.put("TRANSFER_QUOTA_BURST", "100000");
    // Traces to the collector, batched for 100 ms (5 s by default) so a test need not wait long.
    env.put("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint());
    env.put("OTEL_BSP_SCHEDULE_DELAY", "100");
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
    collector.close();
    proxy.close();
    stored.close();
    // The logs stay (they are the evidence when a test failed); the stored bytes, hundreds of
    // MiB per run, need not.
    try {
      TestFiles.deleteTree(storageRoot);
    } catch (RuntimeException e) {
      // best effort at exit
    }
  }

  // ------------------------------------------------------------------ API

  /** The Java client ({@code client/}) on this cluster's API, with the tests' key. */
  transfer.client.TransferClient transferClient() {
    return transfer.client.TransferClient.builder()
        .baseUri("http://127.0.0.1:" + apiPort)
        .apiKey(API_KEY)
        .build();
  }

  /** A plain GET of a service's {@code /q/metrics} (no key), parsed. */
  static PrometheusText metrics(int port) throws Exception {
    java.net.http.HttpResponse<String> r =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + port + "/q/metrics"))
                    .timeout(Duration.ofSeconds(10))
                    .GET()
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalStateException("/q/metrics on port " + port + " answered " + r.statusCode());
    }
    return PrometheusText.parse(r.body());
  }

  ApiClient.Answer call(String method, String path, String jsonBody) throws Exception {
    return client.call(method, path, jsonBody);
  }

  ApiClient.Content content(String sid, String tid) throws Exception {
    return client.content(sid, tid);
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * A JSON object from name/value pairs, values as Jackson writes them (a String for instants):
   * {@code json("type", "download", "priority", 0.9)}.
   */
  static String json(Object... namesAndValues) {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      m.put((String) namesAndValues[i], namesAndValues[i + 1]);
    }
    try {
      return JSON.writeValueAsString(m);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** The events of one task (CloudEvent subject), in the order given. */
  static List<JsonNode> ofTask(List<JsonNode> events, String tid) {
    return events.stream().filter(e -> tid.equals(e.path("subject").asText(null))).toList();
  }

  /** The events of one type, in the order given. */
  static List<JsonNode> ofType(List<JsonNode> events, String type) {
    return events.stream().filter(e -> type.equals(e.get("type").asText())).toList();
  }

  /** A new session with this configuration (JSON); its id starts with {@code prefix}. */
  String newSession(String prefix, String configJson) throws Exception {
    String sid = prefix + "-" + UUID.randomUUID();
    ApiClient.Answer a = call("PUT", "/v1/sessions/" + sid, configJson);
    if (a.status() != 201) {
      throw new IllegalStateException(
          "PUT session " + sid + " answered " + a.status() + ": " + a.body());
    }
    return sid;
  }

  /** Submits a task (the JSON body) and answers the 201's task; anything else throws. */
  JsonNode submit(String sid, String taskJson) throws Exception {
    ApiClient.Answer a = call("POST", "/v1/sessions/" + sid + "/tasks", taskJson);
    if (a.status() != 201) {
      throw new IllegalStateException("POST task answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  JsonNode task(String sid, String tid) throws Exception {
    ApiClient.Answer a = call("GET", "/v1/sessions/" + sid + "/tasks/" + tid, null);
    if (a.status() != 200) {
      throw new IllegalStateException("GET task answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  /** Polls the task until {@code until} accepts it; answers that view. */
  JsonNode awaitTask(String sid, String tid, Duration timeout, Predicate<JsonNode> until) {
    AtomicReference<JsonNode> last = new AtomicReference<>();
    try {
      await()
          .atMost(timeout)
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                last.set(task(sid, tid));
                return until.test(last.get());
              });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(
          "task " + tid + " not as expected within " + timeout + "; last seen: " + last.get(), e);
    }
    return last.get();
  }

  /** Polls the task until it is completed, failed or canceled. */
  JsonNode awaitFinal(String sid, String tid, Duration timeout) {
    return awaitTask(sid, tid, timeout, t -> FINAL_STATES.contains(t.get("state").asText()));
  }

  static final Set<String> FINAL_STATES = Set.of("completed", "failed", "canceled");

  /** Every stored event of the session, in sequence order, through the replay endpoint. */
  List<JsonNode> replay(String sid) throws Exception {
    return client.replay(sid);
  }

  /** The session's events on the results topic, read until {@code until} accepts them. */
  List<JsonNode> topicEvents(String sid, Predicate<List<JsonNode>> until, Duration timeout) {
    return EventLog.readSession(
        infra.kafkaBootstrap(), TestInfra.EVENTS_TOPIC, sid, until, timeout);
  }

  /**
   * A few columns of a task's ledger row that the API does not show (lease, durable bytes), read
   * straight from PostgreSQL. Read only: the tests never write the ledger behind the API's back.
   */
  Map<String, Object> ledgerRow(String tid) throws Exception {
    try (Connection c =
            DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
        PreparedStatement ps =
            c.prepareStatement(
                "select state, lease_owner, lease_expires_at, lease_epoch, bytes_durable,"
                    + " durable_epoch, attempt from tasks where id = ?")) {
      ps.setString(1, tid);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("no ledger row for task " + tid);
        }
        Map<String, Object> row = new HashMap<>();
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
          row.put(rs.getMetaData().getColumnName(i), rs.getObject(i));
        }
        return row;
      }
    }
  }

  static int freePort() throws IOException {
    return ApiClient.freePort();
  }
}
