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
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Uuid;
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
  private KafkaRaftServer server; // guarded by this

  private EmbeddedKafka(Path logDir, int port, int controllerPort, Properties props) {
    this.logDir = logDir;
    this.port = port;
    this.controllerPort = controllerPort;
    this.props = props;
  }

  /**
   * Starts a broker on {@code logDir} (created and formatted if needed) listening on 127.0.0.1:
   * {@code port}; 0 picks a free port. Returns when the broker accepts clients.
   */
  public static EmbeddedKafka start(Path logDir, int port) {
    try {
      Files.createDirectories(logDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int brokerPort = port == 0 ? freePort(-1) : port;
    int controllerPort = freePort(brokerPort);
    Properties props = brokerProperties(logDir, brokerPort, controllerPort);
    if (!Files.exists(logDir.resolve("meta.properties"))) {
      format(props);
    }
    EmbeddedKafka kafka = new EmbeddedKafka(logDir, brokerPort, controllerPort, props);
    kafka.startServer();
    return kafka;
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
    try (Admin admin =
        Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
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

  private static Properties brokerProperties(Path logDir, int port, int controllerPort) {
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", "1");
    p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    p.setProperty(
        "listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
    p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
    p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.setProperty("controller.listener.names", "CONTROLLER");
    p.setProperty("inter.broker.listener.name", "PLAINTEXT");
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

  private static void format(Properties props) {
    Path config = null;
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    try {
      config = Files.createTempFile("embedded-kafka-", ".properties");
      try (OutputStream out = Files.newOutputStream(config)) {
        props.store(out, "embedded Kafka broker");
      }
      String[] args = {"format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()};
      int code;
      try (PrintStream print = new PrintStream(output, true, StandardCharsets.UTF_8)) {
        code = StorageTool.execute(args, print);
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
