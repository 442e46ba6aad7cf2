package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.DockerClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.output.Slf4jLogConsumer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;
import transfer.deploy.ApiClient;
import transfer.deploy.ApiClient.Answer;
import transfer.testkit.ContainerSwitch;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * The Kubernetes shape on one machine: the api-service, three workers, Kafka and PostgreSQL, each a
 * container of the images {@code deploy/images/build} makes, on networks of their own. PostgreSQL
 * is on a network of its own ("db") with the services, so that one worker can be cut off from it
 * alone. Under load, one worker's container is killed, another is cut off from PostgreSQL (it must
 * fence itself and stop writing), and the broker's container is restarted; every task completes
 * exactly once with the right bytes.
 *
 * <p>Runs where a container engine answers and has the images (CI sets podman up); skipped
 * elsewhere. The origin runs in this JVM, on the address of the containers' network bridge on this
 * machine, since containers cannot reach this JVM's loopback.
 */
@Tag("chaos")
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ContainerClusterChaosIT {
  private static final long MIB = 1 << 20;
  private static final String KEY = "container-key-" + Long.toHexString(System.nanoTime());
  private static final String DB_PASSWORD = "pw-" + Long.toHexString(System.nanoTime());
  private static final String VERSION =
      System.getProperty("transfer.project.version", "0.1.0-SNAPSHOT");
  private static final Duration LEASE_TTL = ChaosCluster.LEASE_TTL;
  private static final int WORKERS = 3;

  private static Network app;
  private static Network db;
  private static Origin origin;

  /** This machine's address on the services' network, where the origin listens. */
  private static String bridge;

  private static Path objects;
  private static PostgreSQLContainer postgres;
  private static KafkaContainer kafka;
  private static GenericContainer<?> api;
  private static final List<GenericContainer<?>> workers = new ArrayList<>();
  private static ApiClient client;

  @BeforeAll
  static void startCluster() throws Exception {
    Assumptions.assumeTrue(
        "containers".equals(TestInfra.shared().mode()),
        "needs a container engine with the images of deploy/images/build (TestInfra is embedded)");
    for (String image : List.of(apiImage(), workerImage())) {
      Assumptions.assumeTrue(
          TestInfra.imagePresent(image), image + " is missing: run deploy/images/build");
    }
    app = Network.newNetwork();
    db = Network.newNetwork();
    objects = Files.createTempDirectory("transfer-container-objects");
    // The services run as user 10001 and write here; the end of the test deletes what it can.
    Files.setPosixFilePermissions(objects, PosixFilePermissions.fromString("rwxrwxrwx"));

    postgres =
        new PostgreSQLContainer(
                DockerImageName.parse(
                        System.getProperty(
                            "transfer.test.postgres-image", "localhost/transfer-postgres:15"))
                    .asCompatibleSubstituteFor("postgres"))
            .withDatabaseName("transfer")
            .withPassword(DB_PASSWORD)
            .withNetwork(db)
            .withNetworkAliases("postgres")
            .withCreateContainerCmdModifier(TestInfra::loopbackOnly);
    kafka =
        TestInfra.asTheEmbeddedBroker(
                new KafkaContainer(
                    DockerImageName.parse(
                            System.getProperty(
                                "transfer.test.kafka-image", "localhost/transfer-kafka:4.2.1"))
                        .asCompatibleSubstituteFor("apache/kafka")))
            .withNetwork(app)
            .withNetworkAliases("kafka")
            .withListener("kafka:19092")
            .withCreateContainerCmdModifier(TestInfra::loopbackOnly);
    Stream.of(postgres, kafka).parallel().forEach(GenericContainer::start);
    TestInfra.createTopics(kafka.getBootstrapServers());
    // The bridge's address exists on this machine once a container is on the network (podman).
    bridge = gateway(app);
    origin = Origin.start(bridge, 0);

    api =
        service(apiImage(), "api", 8080)
            .withEnv("TRANSFER_API_BOOTSTRAP_KEY", KEY)
            .withEnv("TRANSFER_REAPER_INTERVAL", "1000ms")
            .withEnv("TRANSFER_REAPER_REANNOUNCE_AFTER", "5000ms");
    api.start();
    client = new ApiClient(api.getMappedPort(8080), KEY);
    for (int i = 1; i <= WORKERS; i++) {
      workers.add(
          service(workerImage(), "worker-" + i, 8081)
              .withEnv("TRANSFER_WORKER_ID", "worker-" + i)
              .withEnv("TRANSFER_WORKER_SLOTS", "8")
              .withEnv("TRANSFER_WORKER_LEASE_TTL", LEASE_TTL.toMillis() + "ms")
              .withEnv("TRANSFER_WORKER_HEARTBEAT_INTERVAL", "500ms")
              .withEnv("TRANSFER_WORKER_CHECKPOINT_INTERVAL", "1000ms")
              .withEnv("TRANSFER_WORKER_KAFKA_SESSION_TIMEOUT", "6000ms")
              .withEnv("JAVA_TOOL_OPTIONS", "-Xmn32m -XX:+UseSerialGC -Xmx128m"));
    }
    workers.parallelStream().forEach(GenericContainer::start);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    List<GenericContainer<?>> all = new ArrayList<>(workers);
    Stream.of(api, kafka, postgres).filter(c -> c != null).forEach(all::add);
    all.parallelStream().forEach(GenericContainer::stop);
    Stream.of(app, db).filter(n -> n != null).forEach(Network::close);
    if (origin != null) {
      origin.close();
    }
    if (objects != null) {
      // The services wrote as user 10001: a test JVM that is not root may not delete all of it.
      try (Stream<Path> files = Files.walk(objects)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          try {
            Files.deleteIfExists(p);
          } catch (IOException e) {
            LoggerFactory.getLogger(ContainerClusterChaosIT.class)
                .warn("left behind: {} ({})", p, e.toString());
          }
        }
      }
    }
  }

  @Test
  void
      everyTaskCompletesOnceWithTheRightBytesThroughAKilledWorkerAWorkerCutOffFromTheDatabaseAndABrokerRestart()
          throws Exception {
    String sid = "containers-" + java.util.UUID.randomUUID();
    Answer session =
        client.call(
            "PUT",
            "/v1/sessions/" + sid,
            "{\"retry\":{\"maxAttempts\":8,\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT1S\"},"
                + "\"maxConnectionsPerHost\":64}");
    assertThat(session.status()).as("PUT session: %s", session.body()).isEqualTo(201);
    long size = 96 * MIB;
    // 3 MiB/s: half a minute each, so that every fault strikes mid-transfer, and a worker cut off
    // from the database is still downloading when it must have fenced itself.
    Map<String, Long> seeds = submit(sid, 9, size, 3 * MIB, 1);
    await("every task runs")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> seeds.keySet().stream().allMatch(t -> row(t).bytes() > 0));

    // 1. kill -9 one worker's container.
    String killed = ownerOfSomeTask(seeds.keySet(), Set.of());
    GenericContainer<?> killedWorker = worker(killed);
    docker().killContainerCmd(killedWorker.getContainerId()).exec();
    Instant killedAt = Instant.now();

    // 2. Cut another worker off from PostgreSQL (only: Kafka and the origin stay reachable).
    String cut = ownerOfSomeTask(seeds.keySet(), Set.of(killed));
    GenericContainer<?> cutWorker = worker(cut);
    // Its tasks that have written bytes (a task it claimed a moment ago may have no file yet).
    List<Row> cutTasks =
        seeds.keySet().stream()
            .map(this::row)
            .filter(r -> cut.equals(r.owner()) && r.bytes() > 0)
            .toList();
    docker()
        .disconnectFromNetworkCmd()
        .withContainerId(cutWorker.getContainerId())
        .withNetworkId(db.getId())
        .withForce(true)
        .exec();
    Instant cutAt = Instant.now();

    // It must fence itself: within the self-fence time (0.8 of the lease) and a heartbeat, its
    // downloads stop, while the tasks go on elsewhere. Seen at the origin: the requests it had
    // open at the cut (the ones that began before it; a later attempt's are new requests) take
    // no more bytes. Its partial files are no witness: the next attempt takes them over.
    Duration selfFence = LEASE_TTL.multipliedBy(8).dividedBy(10).plusSeconds(2);
    await("the self-fencing time of the worker cut off from the database")
        .atMost(selfFence.plusSeconds(10))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> Duration.between(cutAt, Instant.now()).compareTo(selfFence) > 0);
    Set<Long> cutSeeds =
        cutTasks.stream().map(r -> seeds.get(r.id())).collect(java.util.stream.Collectors.toSet());
    Map<String, Long> before = openedBefore(cutAt, cutSeeds);
    TimeUnit.SECONDS.sleep(3); // no byte in three seconds is what "stopped" means
    Map<String, Long> after = openedBefore(cutAt, cutSeeds);
    SoftAssertions soft = new SoftAssertions();
    // Not vacuous: those downloads were cut short, they did not simply end.
    soft.assertThat(before.values())
        .as("bytes sent on %s's requests, mid-transfer when it stopped", cut)
        .isNotEmpty()
        .allSatisfy(n -> assertThat(n).isPositive().isLessThan(size));
    soft.assertThat(after)
        .as(
            "bytes sent on %s's requests (cut off at %s) three seconds apart, %s after the cut",
            cut, cutAt, selfFence)
        .isEqualTo(before);

    // 3. Restart the broker's container (doorbells and events wait in the outbox meanwhile).
    ContainerSwitch broker =
        ContainerSwitch.kafka(kafka, () -> TestInfra.brokerServes(kafka.getBootstrapServers()));
    broker.stop();
    Map<String, Long> more = submit(sid, 3, 4 * MIB, 0, 100);
    broker.start();
    seeds.putAll(more);

    for (String tid : seeds.keySet()) {
      JsonNode task = client.awaitFinal(sid, tid, Duration.ofMinutes(4));
      long expectedSize = more.containsKey(tid) ? 4 * MIB : size;
      soft.assertThat(task.path("state").asText())
          .as("task %s: %s", tid, task)
          .isEqualTo("completed");
      soft.assertThat(task.path("sha256").asText())
          .as("task %s digest", tid)
          .isEqualTo(Origin.sha256Hex(expectedSize, seeds.get(tid)));
      ApiClient.Content content = client.content(sid, tid);
      soft.assertThat(content.sha256())
          .as("task %s stored bytes", tid)
          .isEqualTo(Origin.sha256Hex(expectedSize, seeds.get(tid)));
    }
    // The replay serves events once numbered, a moment after their transaction.
    List<JsonNode> events = new ArrayList<>();
    try {
      await("every completion event in the replay")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () -> {
                events.clear();
                events.addAll(client.replay(sid));
                return SessionEvents.completedTasks(events).containsAll(seeds.keySet());
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "completion events missing from the replay: "
              + seeds.keySet().stream()
                  .filter(t -> !SessionEvents.completedTasks(events).contains(t))
                  .toList()
              + "; database sessions: "
              + databaseActivity(),
          e);
    }
    soft.assertThatCode(() -> SessionEvents.assertExactlyOneCompletionEach(events, seeds.keySet()))
        .doesNotThrowAnyException();
    // The workers' logs are JSON lines; those about a task carry its ids as fields.
    Set<String> loggedTasks = new java.util.HashSet<>();
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    for (GenericContainer<?> w : workers) {
      for (String line : w.getLogs().split("\n")) {
        if (!line.startsWith("{")) {
          continue; // the JVM's own lines before logging starts
        }
        JsonNode entry = json.readTree(line);
        if (sid.equals(entry.path("sessionId").asText())
            && "default".equals(entry.path("tenant").asText())) {
          loggedTasks.add(entry.path("taskId").asText());
        }
      }
    }
    soft.assertThat(loggedTasks)
        .as("tasks named by taskId, sessionId and tenant fields in the workers' JSON logs")
        .containsAll(seeds.keySet());
    System.out.printf(
        "[chaos] containers: %d tasks completed once each; %s killed at %s, %s cut off from"
            + " PostgreSQL at %s, broker restarted%n",
        seeds.size(), killed, killedAt, cut, cutAt);
    soft.assertAll();
  }

  // ------------------------------------------------------------------ the cluster

  private static GenericContainer<?> service(String image, String name, int port) {
    GenericContainer<?> c =
        new ServiceContainer(image)
            .withNetwork(app)
            .withNetworkAliases(name)
            .withExposedPorts(port)
            .withEnv("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://postgres:5432/transfer")
            .withEnv("QUARKUS_DATASOURCE_USERNAME", postgres.getUsername())
            .withEnv("QUARKUS_DATASOURCE_PASSWORD", DB_PASSWORD)
            .withEnv("KAFKA_BOOTSTRAP_SERVERS", "kafka:19092")
            .withEnv("TRANSFER_FETCH_ALLOWED_DESTINATIONS", bridge + ":" + origin.port())
            .withEnv("TRANSFER_QUOTA_REQUESTS_PER_SECOND", "100000")
            .withEnv("TRANSFER_QUOTA_BURST", "100000")
            // As in k8s/ and compose: JSON lines, which the test reads back below.
            .withEnv("QUARKUS_LOG_CONSOLE_JSON_ENABLED", "true")
            .withFileSystemBind(objects.toString(), "/data", BindMode.READ_WRITE)
            .withLogConsumer(
                new Slf4jLogConsumer(LoggerFactory.getLogger("container." + name)).withPrefix(name))
            .waitingFor(
                Wait.forHttp("/q/health/ready")
                    .forPort(port)
                    .forStatusCode(200)
                    .withStartupTimeout(Duration.ofMinutes(2)))
            .withCreateContainerCmdModifier(TestInfra::loopbackOnly);
    return c;
  }

  /** A service's container, joined to PostgreSQL's network too before it starts. */
  private static final class ServiceContainer extends GenericContainer<ServiceContainer> {
    ServiceContainer(String image) {
      super(DockerImageName.parse(image));
    }

    @Override
    protected void containerIsCreated(String containerId) {
      // The service needs the database at once, and a fault below cuts this network alone.
      docker().connectToNetworkCmd().withContainerId(containerId).withNetworkId(db.getId()).exec();
    }
  }

  private static String apiImage() {
    return "localhost/transfer-api-service:" + VERSION;
  }

  private static String workerImage() {
    return "localhost/transfer-worker-service:" + VERSION;
  }

  private static DockerClient docker() {
    return DockerClientFactory.instance().client();
  }

  /** The address of this machine on the network's bridge, which its containers can reach. */
  private static String gateway(Network network) {
    return docker()
        .inspectNetworkCmd()
        .withNetworkId(network.getId())
        .exec()
        .getIpam()
        .getConfig()
        .get(0)
        .getGateway();
  }

  private static GenericContainer<?> worker(String id) {
    return workers.get(Integer.parseInt(id.substring("worker-".length())) - 1);
  }

  // ------------------------------------------------------------------ tasks and the ledger

  private record Row(String id, String state, String owner, long epoch, long bytes) {}

  private Row row(String tid) {
    try (Connection c =
            DriverManager.getConnection(
                postgres.getJdbcUrl(), postgres.getUsername(), DB_PASSWORD);
        PreparedStatement s =
            c.prepareStatement(
                "select state, lease_owner, lease_epoch, bytes_transferred from tasks where id = ?")) {
      s.setString(1, tid);
      try (ResultSet rs = s.executeQuery()) {
        assertThat(rs.next()).as("task %s in the ledger", tid).isTrue();
        return new Row(tid, rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4));
      }
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What the database's sessions do: for a test that finds work held up. */
  private static String databaseActivity() {
    try (Connection c =
            DriverManager.getConnection(
                postgres.getJdbcUrl(), postgres.getUsername(), DB_PASSWORD);
        ResultSet rs =
            c.createStatement()
                .executeQuery(
                    "select pid, application_name, client_addr, state, wait_event_type,"
                        + " wait_event, now() - xact_start as xact_age, left(query, 160)"
                        + " from pg_stat_activity where datname = 'transfer' and pid <> pg_backend_pid()"
                        + " order by xact_start nulls last")) {
      StringBuilder out = new StringBuilder();
      while (rs.next()) {
        out.append("\n  ");
        for (int i = 1; i <= 8; i++) {
          out.append(rs.getString(i)).append(i < 8 ? " | " : "");
        }
      }
      try (ResultSet pending =
          c.createStatement()
              .executeQuery(
                  "select count(*), min(e.xid)::text from events e, event_sequencer q"
                      + " where e.xid >= q.horizon or e.xid = any(q.in_flight)")) {
        pending.next();
        out.append("\n  unnumbered events: ")
            .append(pending.getLong(1))
            .append(", oldest xid ")
            .append(pending.getString(2));
      }
      return out.toString();
    } catch (java.sql.SQLException e) {
      return "(unavailable: " + e + ")";
    }
  }

  private String ownerOfSomeTask(Set<String> tasks, Set<String> not) {
    return await("a running task on a worker other than " + not)
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                tasks.stream()
                    .map(this::row)
                    .filter(
                        r ->
                            "running".equals(r.state())
                                && r.owner() != null
                                && !not.contains(r.owner()))
                    .map(Row::owner)
                    .findFirst(),
            Optional::isPresent)
        .orElseThrow();
  }

  /**
   * Bytes the origin has sent so far on each download of these seeds that began before {@code at},
   * keyed by the request's query and start.
   */
  private static Map<String, Long> openedBefore(Instant at, Set<Long> seeds) {
    Map<String, Long> sent = new LinkedHashMap<>();
    for (Origin.RequestRecord r : origin.requests()) {
      if (!"GET".equals(r.method()) || r.query() == null || !r.at().isBefore(at)) {
        continue;
      }
      for (long seed : seeds) {
        if (r.query().contains("seed=" + seed + "&")) {
          sent.put(r.query() + " at " + r.at(), r.bytesSent());
        }
      }
    }
    return sent;
  }

  private Map<String, Long> submit(String sid, int n, long size, long rate, long seedBase)
      throws Exception {
    Map<String, Long> seeds = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      long seed = seedBase + i;
      String url =
          "http://"
              + bridge
              + ":"
              + origin.port()
              + "/bytes/"
              + size
              + "?seed="
              + seed
              + (rate > 0 ? "&rate=" + rate : "");
      Answer a =
          client.call(
              "POST", "/v1/sessions/" + sid + "/tasks", ChaosCluster.downloadBody(url, null));
      assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
      seeds.put(a.body().get("id").asText(), seed);
    }
    return seeds;
  }
}
