package transfer.testkit;

import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.Ports;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The one Kafka broker and the one PostgreSQL server of this test JVM, shared by every test class
 * and stopped (their files deleted) when the JVM exits.
 *
 * <p>Containers (Testcontainers) when a container engine answers (Docker, or podman's
 * Docker-compatible socket) and has the images, otherwise the embedded services ({@link
 * EmbeddedKafka}, {@link LocalPostgres}). System property {@code transfer.test.infra} or
 * environment variable {@code TRANSFER_TEST_INFRA} forces {@code embedded} or {@code containers};
 * {@code auto} (the default) decides by probing the engine. Images: system properties {@code
 * transfer.test.kafka-image} (default {@value #DEFAULT_KAFKA_IMAGE}) and {@code
 * transfer.test.postgres-image} (default {@value #DEFAULT_POSTGRES_IMAGE}); {@code
 * deploy/images/build} makes both, since no registry is reachable here. Official {@code
 * apache/kafka} and {@code postgres} images work too.
 *
 * <p>Topics {@value #TASKS_TOPIC} and {@value #EVENTS_TOPIC} ({@value #TOPIC_PARTITIONS} partitions
 * each), {@value #DEAD_LETTERS_TOPIC} (one partition) and database {@value #DATABASE} exist when
 * {@link #shared()} returns.
 *
 * <p>Everything is stopped by a shutdown hook. Test JVMs (Surefire, Failsafe) end with {@code
 * System.exit}, which runs it; a plain {@code main} using this class must call {@code System.exit}
 * too, since the embedded broker's non-daemon threads otherwise keep the JVM alive.
 */
public final class TestInfra {
  private static final Logger LOG = LoggerFactory.getLogger(TestInfra.class);

  public static final String TASKS_TOPIC = "transfer-tasks";
  public static final String EVENTS_TOPIC = "transfer-events";
  public static final String DEAD_LETTERS_TOPIC = "transfer-tasks-dlq";
  public static final int TOPIC_PARTITIONS = 12;
  public static final String DATABASE = "transfer";

  /**
   * Built here by {@code deploy/images/build}, with the interfaces of apache/kafka and postgres.
   */
  static final String DEFAULT_KAFKA_IMAGE = "localhost/transfer-kafka:4.2.1";

  static final String DEFAULT_POSTGRES_IMAGE = "localhost/transfer-postgres:15";
  private static final long DOCKER_PROBE_SECONDS = 20;
  private static final long KAFKA_STOP_SECONDS = 20;

  private static TestInfra shared; // guarded by TestInfra.class
  private static RuntimeException sharedFailure; // guarded by TestInfra.class

  private final String mode;
  private final String kafkaBootstrap;
  private final String jdbcUrl;
  private final String dbUser;
  private final String dbPassword;
  private final EmbeddedKafka embeddedKafka;
  private final LocalPostgres embeddedPostgres;
  private final Switchable kafkaSwitch;
  private final Switchable postgresSwitch;

  private TestInfra(
      String mode,
      String kafkaBootstrap,
      String jdbcUrl,
      String dbUser,
      String dbPassword,
      EmbeddedKafka embeddedKafka,
      LocalPostgres embeddedPostgres,
      Switchable kafkaSwitch,
      Switchable postgresSwitch) {
    this.mode = mode;
    this.kafkaBootstrap = kafkaBootstrap;
    this.jdbcUrl = jdbcUrl;
    this.dbUser = dbUser;
    this.dbPassword = dbPassword;
    this.embeddedKafka = embeddedKafka;
    this.embeddedPostgres = embeddedPostgres;
    this.kafkaSwitch = kafkaSwitch;
    this.postgresSwitch = postgresSwitch;
  }

  /**
   * The services of this JVM, started on first use. A failed start is remembered, so that later
   * test classes fail at once with the same cause instead of trying (and waiting) again.
   */
  public static synchronized TestInfra shared() {
    if (shared == null) {
      if (sharedFailure != null) {
        throw new IllegalStateException(
            "the shared test infrastructure failed to start", sharedFailure);
      }
      try {
        shared = start();
      } catch (RuntimeException e) {
        sharedFailure = e;
        throw e;
      }
    }
    return shared;
  }

  public String kafkaBootstrap() {
    return kafkaBootstrap;
  }

  /** JDBC URL of database {@value #DATABASE}. */
  public String jdbcUrl() {
    return jdbcUrl;
  }

  public String dbUser() {
    return dbUser;
  }

  public String dbPassword() {
    return dbPassword;
  }

  /** {@code "embedded"} or {@code "containers"}. */
  public String mode() {
    return mode;
  }

  /**
   * The broker, to take down and bring back in fault tests (same address, same data), embedded or
   * in a container.
   */
  public Switchable kafkaSwitch() {
    return kafkaSwitch;
  }

  /** The database server, as {@link #kafkaSwitch()}. */
  public Switchable postgresSwitch() {
    return postgresSwitch;
  }

  /** The embedded broker; null in containers mode. */
  public EmbeddedKafka embeddedKafka() {
    return embeddedKafka;
  }

  /** The embedded PostgreSQL; null in containers mode. */
  public LocalPostgres embeddedPostgres() {
    return embeddedPostgres;
  }

  // ---------------------------------------------------------------------------------------------

  private static TestInfra start() {
    String requested = requestedMode();
    boolean containers =
        switch (requested) {
          case "embedded" -> false;
          case "containers" -> true;
          case "auto" -> dockerAvailable() && imagesPresent();
          default ->
              throw new IllegalArgumentException(
                  "transfer.test.infra / TRANSFER_TEST_INFRA must be embedded, containers or auto, not "
                      + requested);
        };
    long t0 = System.nanoTime();
    TestInfra infra = containers ? startContainers() : startEmbedded();
    LOG.info(
        "test infrastructure ({}, requested {}) up in {} ms: Kafka {}, PostgreSQL {}",
        infra.mode,
        requested,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0),
        infra.kafkaBootstrap,
        infra.jdbcUrl);
    return infra;
  }

  private static String requestedMode() {
    String value = System.getProperty("transfer.test.infra");
    if (value == null || value.isBlank()) {
      value = System.getenv("TRANSFER_TEST_INFRA");
    }
    return value == null || value.isBlank() ? "auto" : value.trim().toLowerCase(Locale.ROOT);
  }

  private static TestInfra startEmbedded() {
    Path root;
    try {
      root = Files.createTempDirectory("transfer-testinfra-");
    } catch (IOException e) {
      throw new IllegalStateException("no temp directory for the test infrastructure", e);
    }
    // Started side by side: PostgreSQL's initdb and Kafka's startup each take seconds.
    ExecutorService starter = Executors.newFixedThreadPool(2, daemon("testinfra-start"));
    Future<EmbeddedKafka> kafkaStart =
        starter.submit(() -> EmbeddedKafka.start(root.resolve("kafka"), 0));
    Future<LocalPostgres> postgresStart =
        starter.submit(() -> LocalPostgres.start(root.resolve("postgres"), 0, false));
    starter.shutdown();
    EmbeddedKafka kafka = null;
    LocalPostgres postgres = null;
    try {
      kafka = get(kafkaStart);
      postgres = get(postgresStart);
      kafka.createTopics(
          Map.of(
              TASKS_TOPIC,
              TOPIC_PARTITIONS,
              EVENTS_TOPIC,
              TOPIC_PARTITIONS,
              DEAD_LETTERS_TOPIC,
              1));
      postgres.createDatabaseIfMissing(DATABASE);
    } catch (RuntimeException e) {
      EmbeddedKafka startedKafka = kafka != null ? kafka : getQuietly(kafkaStart);
      LocalPostgres startedPostgres = postgres != null ? postgres : getQuietly(postgresStart);
      stopEmbedded(startedKafka, startedPostgres, root);
      throw e;
    }
    EmbeddedKafka k = kafka;
    LocalPostgres p = postgres;
    Runtime.getRuntime()
        .addShutdownHook(new Thread(() -> stopEmbedded(k, p, root), "testinfra-stop"));
    return new TestInfra(
        "embedded",
        kafka.bootstrapServers(),
        postgres.jdbcUrl(DATABASE),
        postgres.user(),
        postgres.password(),
        kafka,
        postgres,
        new Switchable() {
          @Override
          public void stop() {
            k.stop();
          }

          @Override
          public void start() {
            k.startAgain();
          }

          @Override
          public boolean isRunning() {
            return k.isRunning();
          }
        },
        new PgCtlSwitch(postgres.dataDir()));
  }

  private static void stopEmbedded(EmbeddedKafka kafka, LocalPostgres postgres, Path root) {
    if (kafka != null) {
      // Bounded: a broker that hangs in shutdown must not keep the test JVM from exiting.
      Thread stopper = new Thread(kafka::close, "testinfra-kafka-stop");
      stopper.setDaemon(true);
      stopper.start();
      try {
        stopper.join(TimeUnit.SECONDS.toMillis(KAFKA_STOP_SECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (postgres != null) {
      postgres.close();
    }
    deleteQuietly(root);
  }

  private static String kafkaImageName() {
    return System.getProperty("transfer.test.kafka-image", DEFAULT_KAFKA_IMAGE);
  }

  private static String postgresImageName() {
    return System.getProperty("transfer.test.postgres-image", DEFAULT_POSTGRES_IMAGE);
  }

  /**
   * Whether the engine has both images. Nothing can be pulled on machines without a registry, so in
   * auto mode a missing image means the embedded services, not a failed start.
   */
  private static boolean imagesPresent() {
    List<String> missing =
        Stream.of(kafkaImageName(), postgresImageName())
            .filter(image -> !imagePresent(image))
            .toList();
    if (!missing.isEmpty()) {
      LOG.info(
          "the container engine lacks {} (deploy/images/build makes them); using the embedded"
              + " services",
          missing);
    }
    return missing.isEmpty();
  }

  /** Whether the container engine has this image (nothing is pulled). */
  public static boolean imagePresent(String image) {
    try {
      DockerClientFactory.instance().client().inspectImageCmd(image).exec();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static TestInfra startContainers() {
    DockerImageName kafkaImage =
        DockerImageName.parse(kafkaImageName())
            // Lets locally built images (podman, air-gapped registries) stand in for the originals.
            .asCompatibleSubstituteFor("apache/kafka");
    DockerImageName postgresImage =
        DockerImageName.parse(postgresImageName()).asCompatibleSubstituteFor("postgres");
    KafkaContainer kafka =
        asTheEmbeddedBroker(new KafkaContainer(kafkaImage))
            .withCreateContainerCmdModifier(TestInfra::loopbackOnly);
    PostgreSQLContainer postgres =
        new PostgreSQLContainer(postgresImage)
            .withDatabaseName(DATABASE)
            .withCommand(postgresCommand())
            .withCreateContainerCmdModifier(TestInfra::loopbackOnly);
    ExecutorService starter = Executors.newFixedThreadPool(2, daemon("testinfra-start"));
    Future<?> kafkaStart = starter.submit(kafka::start);
    Future<?> postgresStart = starter.submit(postgres::start);
    starter.shutdown();
    // Each stopped on its own: one that fails to stop must not leave the other running (nothing
    // else removes them: Ryuk cannot run where images cannot be pulled).
    Runnable stop =
        () -> {
          for (Runnable one : List.<Runnable>of(kafka::stop, postgres::stop)) {
            try {
              one.run();
            } catch (RuntimeException e) {
              LOG.warn("a test container did not stop cleanly", e);
            }
          }
        };
    try {
      get(kafkaStart);
      get(postgresStart);
      createTopics(kafka.getBootstrapServers());
    } catch (RuntimeException e) {
      // Both starts over first: a container created after the stop would be left behind.
      getQuietly(kafkaStart);
      getQuietly(postgresStart);
      stop.run();
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(stop, "testinfra-stop"));
    String bootstrap = kafka.getBootstrapServers();
    String jdbcUrl = postgres.getJdbcUrl();
    String user = postgres.getUsername();
    String password = postgres.getPassword();
    return new TestInfra(
        "containers",
        bootstrap,
        jdbcUrl,
        user,
        password,
        null,
        null,
        ContainerSwitch.kafka(kafka, () -> brokerServes(bootstrap)),
        new ContainerSwitch(
            postgres, "the PostgreSQL", () -> databaseServes(jdbcUrl, user, password)));
  }

  /** The server command of the PostgreSQL container: the embedded server's settings. */
  static String[] postgresCommand() {
    List<String> command = new ArrayList<>(List.of("postgres"));
    Map<String, String> settings = new TreeMap<>(LocalPostgres.SERVER_SETTINGS);
    settings.putAll(LocalPostgres.THROW_AWAY_DATA_SETTINGS);
    settings.forEach((name, value) -> command.addAll(List.of("-c", name + "=" + value)));
    return command.toArray(String[]::new);
  }

  /**
   * The broker settings of {@link EmbeddedKafka} that matter to the tests, for a container: topics
   * are created explicitly, as in production (a test that deletes the dead-letter topic to make
   * writes to it fail would otherwise see it created again).
   */
  public static KafkaContainer asTheEmbeddedBroker(KafkaContainer kafka) {
    return kafka
        .withEnv("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .withEnv("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1");
  }

  /** Whether the broker answers a metadata request for the cluster's topics. */
  public static boolean brokerServes(String bootstrap) {
    try (Admin admin =
        Admin.create(
            Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrap,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                3000,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG,
                2000))) {
      return admin.describeTopics(List.of(TASKS_TOPIC, EVENTS_TOPIC)).allTopicNames().get().size()
          == 2;
    } catch (ExecutionException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Whether a JDBC connection opens and is valid. */
  public static boolean databaseServes(String jdbcUrl, String user, String password) {
    try (Connection c = DriverManager.getConnection(jdbcUrl, user, password)) {
      return c.isValid(2);
    } catch (SQLException e) {
      return false;
    }
  }

  /** Creates the cluster's topics ({@value #TOPIC_PARTITIONS} partitions); existing ones stay. */
  public static void createTopics(String bootstrap) {
    try (Admin admin =
        Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      List<NewTopic> topics =
          Stream.concat(
                  Stream.of(TASKS_TOPIC, EVENTS_TOPIC)
                      .map(t -> new NewTopic(t, TOPIC_PARTITIONS, (short) 1)),
                  Stream.of(new NewTopic(DEAD_LETTERS_TOPIC, 1, (short) 1)))
              .toList();
      admin.createTopics(topics).all().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        throw new IllegalStateException("could not create topics", e);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("topic creation timed out", e);
    }
  }

  /**
   * Publishes the container's ports on 127.0.0.1 only (Docker's default is every interface), each
   * on a free host port chosen here: an engine that picks the port itself may pick another one when
   * a fault test restarts the container, and clients (and Kafka's advertised listener) would lose
   * it.
   */
  public static void loopbackOnly(CreateContainerCmd cmd) {
    ExposedPort[] exposed = cmd.getExposedPorts();
    if (exposed == null || cmd.getHostConfig() == null) {
      return;
    }
    Ports bindings = new Ports();
    for (ExposedPort port : exposed) {
      bindings.bind(port, Ports.Binding.bindIpAndPort("127.0.0.1", EmbeddedKafka.freePort(-1)));
    }
    cmd.getHostConfig().withPublishAllPorts(false).withPortBindings(bindings);
  }

  /**
   * Whether a Docker engine answers. Skips the probe (which logs an ERROR block when it fails) if
   * nothing on this machine points at an engine, and bounds it in time in case an endpoint hangs.
   */
  static boolean dockerAvailable() {
    if (!dockerConfigured()) {
      LOG.info("no Docker endpoint configured; using the embedded services");
      return false;
    }
    FutureTask<Boolean> probe =
        new FutureTask<>(() -> DockerClientFactory.instance().isDockerAvailable());
    Thread thread = new Thread(probe, "testinfra-docker-probe");
    thread.setDaemon(true);
    thread.start();
    try {
      return probe.get(DOCKER_PROBE_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException | LinkageError e) {
      LOG.info("Docker probe failed ({}); using the embedded services", e.toString());
      return false;
    }
  }

  private static boolean dockerConfigured() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (!os.contains("linux")) {
      return true; // Docker Desktop and friends: let Testcontainers find them
    }
    if (System.getenv("DOCKER_HOST") != null
        || System.getenv("TESTCONTAINERS_DOCKER_CLIENT_STRATEGY") != null) {
      return true;
    }
    Path home = Path.of(System.getProperty("user.home", "/"));
    List<Path> candidates = new ArrayList<>();
    candidates.add(Path.of("/var/run/docker.sock"));
    candidates.add(home.resolve(".testcontainers.properties"));
    candidates.add(home.resolve(".docker")); // contexts, Docker Desktop sockets
    candidates.add(home.resolve(".rd/docker.sock"));
    String runtimeDir = System.getenv("XDG_RUNTIME_DIR");
    if (runtimeDir != null) {
      candidates.add(Path.of(runtimeDir, "docker.sock"));
    }
    return candidates.stream().anyMatch(Files::exists);
  }

  private static <T> T get(Future<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(cause);
    }
  }

  private static <T> T getQuietly(Future<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException e) {
      return null;
    }
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  private static void deleteQuietly(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(TestInfra::deleteOne);
    } catch (IOException | RuntimeException e) {
      LOG.debug("could not delete {}", root, e);
    }
  }

  private static void deleteOne(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // best effort at exit
    }
  }
}
