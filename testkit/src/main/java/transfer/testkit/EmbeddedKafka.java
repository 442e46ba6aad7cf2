package transfer.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker (KRaft, combined broker and controller) running inside this JVM,
 * listening on 127.0.0.1 only. Its data lives in the given log directory, which is formatted only
 * when it is not yet, so starting again on the same directory keeps topics and records.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

  /**
   * The broker's own packages log hundreds of INFO lines per start; tests want the client side of
   * the story. Held strongly because JUL keeps loggers (and so their levels) only weakly.
   */
  private static final List<java.util.logging.Logger> QUIETED = new ArrayList<>();

  static {
    quietBrokerLogging();
    // Kafka halts the JVM on fatal faults (Exit.halt skips shutdown hooks and kills the test fork
    // without a report); in a test it must fail loudly instead.
    Exit.setExitProcedure(EmbeddedKafka::refuseExit);
    Exit.setHaltProcedure(EmbeddedKafka::refuseExit);
  }

  private final Path logDir;
  private final int port;
  private final int controllerPort;
  private final Properties props;
  private final Security security; // null: plaintext
  private KafkaRaftServer server; // guarded by this

  private EmbeddedKafka(
      Path logDir, int port, int controllerPort, Properties props, Security security) {
    this.logDir = logDir;
    this.port = port;
    this.controllerPort = controllerPort;
    this.props = props;
    this.security = security;
  }

  /**
   * A secured broker's TLS and SASL: the authority clients trust (PEM), the broker's key and chain
   * (PEM), and its super user's SCRAM password.
   */
  private record Security(Path caPem, Path keyStorePem, String adminPassword) {}

  /** The broker's super user on a secured broker: the launcher's and the broker's own. */
  public static final String ADMIN_USER = "admin";

  /** The SASL mechanism of a secured broker's clients. */
  public static final String SCRAM = "SCRAM-SHA-512";

  /**
   * Starts a broker on {@code logDir} (created and formatted if needed) listening on 127.0.0.1:
   * {@code port}; 0 picks a free port. Returns when the broker accepts clients.
   */
  public static EmbeddedKafka start(Path logDir, int port) {
    return start(logDir, port, null);
  }

  /**
   * Starts a secured broker on {@code logDir}: its one listener for clients on 127.0.0.1:{@code
   * port} takes SASL_SSL only (SCRAM-SHA-512 over TLS; a plaintext client is refused), with a
   * certificate for {@code localhost} and {@code 127.0.0.1} from a {@link LocalCa} kept in {@code
   * securityDir}, and an authorizer that allows nothing without an ACL except to its super user
   * {@value #ADMIN_USER} (whose password is kept in {@code securityDir} too). Add users with {@link
   * #upsertUsers} and their rights with {@link #allow}; {@link #clientProperties} are what a client
   * then needs. The controller's own listener (on another loopback port) takes SASL PLAIN from the
   * super user only: SCRAM cannot authenticate controllers.
   */
  public static EmbeddedKafka startSecured(Path logDir, int port, Path securityDir) {
    LocalCa ca = LocalCa.openOrCreate(securityDir, "transfer local Kafka CA");
    Path keyStore = securityDir.resolve("broker.pem");
    if (!Files.exists(keyStore)) {
      ca.issue(List.of("localhost", "127.0.0.1"), Duration.ofDays(825)).writeKeyAndChain(keyStore);
    }
    String adminPassword = Secrets.readOrCreate(securityDir.resolve("admin.password"));
    return start(logDir, port, new Security(ca.certificatePem(), keyStore, adminPassword));
  }

  private static EmbeddedKafka start(Path logDir, int port, Security security) {
    try {
      Files.createDirectories(logDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int brokerPort = port == 0 ? freePort(-1) : port;
    int controllerPort = freePort(brokerPort);
    Properties props = brokerProperties(logDir, brokerPort, controllerPort, security);
    if (!Files.exists(logDir.resolve("meta.properties"))) {
      format(props, security);
    }
    EmbeddedKafka kafka = new EmbeddedKafka(logDir, brokerPort, controllerPort, props, security);
    kafka.startServer();
    return kafka;
  }

  /** Whether clients must use SASL_SSL ({@link #startSecured}). */
  public boolean secured() {
    return security != null;
  }

  /**
   * What a client needs besides {@code bootstrap.servers}: nothing on a plaintext broker; on a
   * secured one SASL_SSL, SCRAM-SHA-512 as {@code user}, and the authority's certificate (PEM) as
   * its trust store. Kafka's own tools take these as a properties file.
   */
  public Map<String, String> clientProperties(String user, String password) {
    if (security == null) {
      return Map.of();
    }
    return Map.of(
        "security.protocol",
        "SASL_SSL",
        "sasl.mechanism",
        SCRAM,
        "sasl.jaas.config",
        scramJaas(user, password),
        "ssl.truststore.type",
        "PEM",
        "ssl.truststore.location",
        security.caPem().toAbsolutePath().toString());
  }

  /** The super user's client properties, bootstrap included: what the launcher administers with. */
  public Map<String, Object> adminProperties() {
    Map<String, Object> p = new java.util.HashMap<>();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    if (security != null) {
      p.putAll(clientProperties(ADMIN_USER, security.adminPassword()));
    }
    return p;
  }

  /** Creates these SCRAM-SHA-512 users, or gives them these passwords (secured broker only). */
  public void upsertUsers(Map<String, String> passwordsByUser) {
    requireSecured();
    List<UserScramCredentialAlteration> changes = new ArrayList<>();
    passwordsByUser.forEach(
        (user, password) ->
            changes.add(
                new UserScramCredentialUpsertion(
                    user, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password)));
    try (Admin admin = Admin.create(adminProperties())) {
      admin
          .alterUserScramCredentials(changes)
          .all()
          .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot set the users " + passwordsByUser.keySet(), e);
    }
  }

  /** Adds these ACLs (existing ones stay; adding one twice is harmless). Secured broker only. */
  public void allow(Collection<AclBinding> acls) {
    requireSecured();
    try (Admin admin = Admin.create(adminProperties())) {
      admin.createAcls(acls).all().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot add the ACLs " + acls, e);
    }
  }

  private void requireSecured() {
    if (security == null) {
      throw new IllegalStateException("this broker is plaintext: it has no users and no ACLs");
    }
  }

  static String scramJaas(String user, String password) {
    return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + user
        + "\" password=\""
        + password
        + "\";";
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public Path logDir() {
    return logDir;
  }

  /**
   * Creates the topics that do not exist yet (replication factor 1); existing topics are left as
   * they are, whatever their partition count.
   */
  public void createTopics(Map<String, Integer> partitionsByTopic) {
    List<NewTopic> topics =
        partitionsByTopic.entrySet().stream()
            .map(e -> new NewTopic(e.getKey(), e.getValue(), (short) 1))
            .toList();
    try (Admin admin = Admin.create(adminProperties())) {
      for (Map.Entry<String, KafkaFuture<Void>> created :
          admin.createTopics(topics).values().entrySet()) {
        try {
          created.getValue().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("could not create topic " + created.getKey(), e);
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("topic creation timed out", e);
    }
  }

  /** Stops the broker and starts it again on the same directory and ports. */
  public synchronized void restart() {
    stop();
    startAgain();
  }

  /** Stops the broker (clients see it as down) until {@link #startAgain()}. */
  public synchronized void stop() {
    if (server != null) {
      KafkaRaftServer stopping = server;
      server = null;
      stopping.shutdown();
      stopping.awaitShutdown();
    }
  }

  /** Whether the broker runs (it was started and not {@link #stop() stopped} since). */
  public synchronized boolean isRunning() {
    return server != null;
  }

  /** Starts a stopped broker again on the same directory and ports; no-op when it runs. */
  public synchronized void startAgain() {
    if (server == null) {
      startServer();
    }
  }

  @Override
  public void close() {
    stop();
  }

  private synchronized void startServer() {
    long t0 = System.nanoTime();
    KafkaRaftServer started = newServer(props);
    try {
      started.startup();
    } catch (RuntimeException e) {
      try {
        started.shutdown();
        started.awaitShutdown();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    server = started;
    LOG.info(
        "Kafka broker on {} (controller port {}, data {}) started in {} ms",
        bootstrapServers(),
        controllerPort,
        logDir,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
  }

  /**
   * A fresh KafkaConfig each time, since the broker keeps dynamic state in the one it is given.
   * Reflection because KafkaConfig's superclass lives in kafka-server, a runtime-only dependency of
   * kafka_2.13 that the Quarkus BOM does not manage; declaring it would pin a second Kafka version.
   */
  private static KafkaRaftServer newServer(Properties props) {
    try {
      Object config =
          KafkaConfig.class
              .getMethod("fromProps", Properties.class, boolean.class)
              .invoke(null, props, false);
      return KafkaRaftServer.class
          .getConstructor(KafkaConfig.class, Time.class)
          .newInstance(config, Time.SYSTEM);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("unexpected kafka_2.13 API", e);
    }
  }

  private static Properties brokerProperties(
      Path logDir, int port, int controllerPort, Security security) {
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", "1");
    p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    p.setProperty("controller.listener.names", "CONTROLLER");
    if (security == null) {
      p.setProperty(
          "listeners",
          "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
      p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
      p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
      p.setProperty("inter.broker.listener.name", "PLAINTEXT");
    } else {
      String admin = security.adminPassword();
      p.setProperty(
          "listeners",
          "SASL_SSL://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
      p.setProperty("advertised.listeners", "SASL_SSL://127.0.0.1:" + port);
      p.setProperty(
          "listener.security.protocol.map", "SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT");
      p.setProperty("inter.broker.listener.name", "SASL_SSL");
      p.setProperty("sasl.enabled.mechanisms", SCRAM);
      p.setProperty("sasl.mechanism.inter.broker.protocol", SCRAM);
      p.setProperty(
          "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", scramJaas(ADMIN_USER, admin));
      p.setProperty("sasl.mechanism.controller.protocol", "PLAIN");
      p.setProperty("listener.name.controller.sasl.enabled.mechanisms", "PLAIN");
      p.setProperty(
          "listener.name.controller.plain.sasl.jaas.config",
          "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
              + ADMIN_USER
              + "\" password=\""
              + admin
              + "\" user_"
              + ADMIN_USER
              + "=\""
              + admin
              + "\";");
      p.setProperty("ssl.keystore.type", "PEM");
      p.setProperty("ssl.keystore.location", security.keyStorePem().toAbsolutePath().toString());
      p.setProperty("ssl.truststore.type", "PEM");
      p.setProperty("ssl.truststore.location", security.caPem().toAbsolutePath().toString());
      p.setProperty(
          "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
      p.setProperty("super.users", "User:" + ADMIN_USER);
      p.setProperty("allow.everyone.if.no.acl.found", "false");
    }
    p.setProperty("log.dirs", logDir.toAbsolutePath().toString());
    // One broker: every internal topic must be satisfied by a single replica.
    p.setProperty("offsets.topic.replication.factor", "1");
    p.setProperty("transaction.state.log.replication.factor", "1");
    p.setProperty("transaction.state.log.min.isr", "1");
    p.setProperty("share.coordinator.state.topic.replication.factor", "1");
    p.setProperty("share.coordinator.state.topic.min.isr", "1");
    // Fewer internal partitions than the default 50 make the first group or transaction faster.
    p.setProperty("offsets.topic.num.partitions", "5");
    p.setProperty("transaction.state.log.num.partitions", "5");
    p.setProperty("share.coordinator.state.topic.num.partitions", "5");
    p.setProperty("group.initial.rebalance.delay.ms", "0");
    // The 128 MiB default is allocated on the heap of the JVM running the tests.
    p.setProperty("log.cleaner.dedupe.buffer.size", String.valueOf(2 * 1024 * 1024));
    p.setProperty("num.partitions", "1");
    p.setProperty("default.replication.factor", "1");
    // Topics are created explicitly (TestInfra, createTopics), as in production.
    p.setProperty("auto.create.topics.enable", "false");
    return p;
  }

  private static void format(Properties props, Security security) {
    Path config = null;
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    try {
      config = Files.createTempFile("embedded-kafka-", ".properties");
      try (OutputStream out = Files.newOutputStream(config)) {
        props.store(out, "embedded Kafka broker");
      }
      List<String> args =
          new ArrayList<>(
              List.of("format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()));
      if (security != null) {
        // The broker's own SCRAM user must exist before it starts: it is how the broker
        // authenticates to itself on the SASL_SSL listener.
        args.add("--add-scram");
        args.add("%s=[name=%s,password=%s]".formatted(SCRAM, ADMIN_USER, security.adminPassword()));
      }
      int code;
      try (PrintStream print = new PrintStream(output, true, StandardCharsets.UTF_8)) {
        code = StorageTool.execute(args.toArray(String[]::new), print);
      }
      if (code != 0) {
        throw new IllegalStateException(
            "formatting " + props.getProperty("log.dirs") + " failed: " + output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (config != null) {
        try {
          Files.deleteIfExists(config);
        } catch (IOException ignored) {
          // a leftover temp file is harmless
        }
      }
    }
  }

  static int freePort(int notThis) {
    for (int attempt = 0; attempt < 10; attempt++) {
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
        int port = socket.getLocalPort();
        if (port != notThis) {
          return port;
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    throw new IllegalStateException("no free port");
  }

  private static void refuseExit(int statusCode, String message) {
    IllegalStateException e =
        new IllegalStateException(
            "embedded Kafka asked to end the JVM with status " + statusCode + ": " + message);
    LOG.error("refusing to end the test JVM", e);
    throw e;
  }

  private static void quietBrokerLogging() {
    Level level =
        switch (System.getProperty("transfer.test.kafka-log-level", "WARN").toUpperCase()) {
          case "ERROR" -> Level.SEVERE;
          case "INFO" -> Level.INFO;
          case "DEBUG" -> Level.FINE;
          case "TRACE" -> Level.FINEST;
          default -> Level.WARNING;
        };
    for (String name :
        List.of(
            "kafka",
            "state.change.logger",
            "org.apache.kafka.server",
            "org.apache.kafka.controller",
            "org.apache.kafka.raft",
            "org.apache.kafka.metadata",
            "org.apache.kafka.image",
            "org.apache.kafka.storage",
            "org.apache.kafka.coordinator",
            "org.apache.kafka.snapshot",
            "org.apache.kafka.queue",
            "org.apache.kafka.network",
            "org.apache.kafka.security")) {
      java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
      logger.setLevel(level);
      QUIETED.add(logger);
    }
  }
}
