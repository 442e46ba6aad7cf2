package transfer.deploy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.logging.FileHandler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import transfer.testkit.EmbeddedKafka;
import transfer.testkit.LocalPostgres;

/**
 * The one-command local cluster: PostgreSQL, Kafka, the api-service and the workers on this
 * machine, all on 127.0.0.1, in the foreground until Ctrl-C. Started by {@code deploy/local/start}.
 *
 * <p>PostgreSQL (zonky, a child process) and Kafka (a KRaft broker inside this JVM) come from the
 * testkit, so the local cluster runs on exactly what the tests run on. The services are their
 * packaged Quarkus apps, one child JVM each (see {@link ServiceProcess}).
 *
 * <p>Configuration is by environment variable; see {@link Settings} and the usage text printed by
 * {@code --help}. Everything else the services understand passes through by its usual Quarkus
 * environment name, since children inherit this process's environment.
 *
 * <p>What survives what: the data directory keeps PostgreSQL's data, Kafka's log, the stored
 * objects and the logs, so a restart finds earlier sessions and tasks. If the launcher is killed
 * with SIGKILL, the kernel sends SIGTERM to the service processes (see {@link ServiceProcess}) and
 * a small watcher stops PostgreSQL; should both fail, the next start stops a PostgreSQL left
 * running on the same data directory before anything else.
 */
public final class LocalCluster {

  static final Map<String, Integer> TOPICS =
      Map.of("transfer-tasks", 12, "transfer-events", 12, "transfer-tasks-dlq", 1);
  static final String DATABASE = "transfer";

  /** The first start runs the database migrations on two slow cores; be patient. */
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);

  /** Workers hand their tasks back when stopped; that takes a while under load. */
  private static final Duration STOP_GRACE = Duration.ofSeconds(20);

  private final Settings settings;
  private final Preflight preflight;
  private final ScheduledThreadPoolExecutor scheduler;

  /**
   * Held by every step that creates something (a process, Kafka, PostgreSQL) and by the shutdown
   * hook while it sets {@link #stopping}: a Ctrl-C in the middle of starting then either waits for
   * the step and stops what it made, or the step sees {@code stopping} and makes nothing.
   */
  private final Object lifecycle = new Object();

  /**
   * Set first thing by the shutdown hook, before it waits for {@link #lifecycle}: a start-up step
   * that fails because the JVM is shutting down (a Ctrl-C while PostgreSQL starts) is then not
   * reported as a failure of its own.
   */
  private volatile boolean shutdownRequested;

  // Guarded by lifecycle.
  private boolean stopping;
  private boolean postgresAttempted;
  private LocalPostgres postgres;
  private Process postgresWatcher;
  private EmbeddedKafka kafka;
  private volatile LocalS3 s3;
  private SupervisedService api;
  private final List<SupervisedService> workers = new ArrayList<>();
  private FileChannel lockChannel;

  LocalCluster(Settings settings) {
    this.settings = settings;
    this.preflight = new Preflight(settings);
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            settings.workers() + 2,
            r -> {
              Thread t = new Thread(r, "local-cluster-supervisor");
              t.setDaemon(true);
              return t;
            });
  }

  public static void main(String[] args) {
    if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
      System.out.print(Usage.TEXT);
      return;
    }
    LocalCluster cluster = null;
    try {
      Settings settings =
          Settings.from(System.getenv(), System.getProperty("transfer.project.root"));
      cluster = new LocalCluster(settings);
      cluster.run();
    } catch (LaunchFailure e) {
      if (cluster != null && cluster.isStopping()) {
        return; // Ctrl-C during start-up: the shutdown hook is already cleaning up.
      }
      System.out.flush();
      System.err.println(e.getMessage());
      // Runs the shutdown hook, if registered, which stops what was already started.
      System.exit(e.exitCode());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      if (cluster != null && cluster.isStopping()) {
        return;
      }
      // A bug, not an expected failure: the stack trace helps. Exit explicitly, since Kafka's
      // non-daemon threads would otherwise keep a half-started cluster running.
      e.printStackTrace();
      System.exit(1);
    }
  }

  /** Starts everything, then blocks until the JVM shuts down. */
  void run() throws InterruptedException {
    preflight.checkJars();
    preflight.createDirectories();
    lockDataDir();
    if (settings.embeddedDatabase()) {
      preflight.stopLeftoverPostgres("Stopping PostgreSQL left running by an earlier launcher");
    }
    preflight.checkPorts();
    Path launcherLog = settings.logsDir().resolve("launcher.log");
    logTo(launcherLog);
    LocalKeys keys = new LocalKeys(settings);
    String apiKey = keys.apiKey();
    String adminKey = keys.adminKey();
    if (adminKey.equals(apiKey)) {
      throw new LaunchFailure(
          2,
          "The admin key must differ from the API key (the admin key is not a tenant's key);"
              + " change TRANSFER_ADMIN_KEY or TRANSFER_API_KEY.");
    }

    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "local-cluster-shutdown"));

    Database db = startDatabase(launcherLog);
    String bootstrap = startKafka(launcherLog);
    LocalKafkaSecurity kafkaSecurity =
        settings.kafkaSecured() ? LocalKafkaSecurity.grant(kafka, settings, launcherLog) : null;

    Map<String, String> common = new HashMap<>();
    common.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl());
    if (db.user() != null) {
      common.put("QUARKUS_DATASOURCE_USERNAME", db.user());
    }
    if (db.password() != null) {
      common.put("QUARKUS_DATASOURCE_PASSWORD", db.password());
    }
    common.put("KAFKA_BOOTSTRAP_SERVERS", bootstrap);
    common.put("TRANSFER_STORAGE_ROOT", settings.objectsDir().toString());
    if (settings.s3Storage()) {
      s3 = LocalS3.start(settings);
      common.putAll(s3.serviceEnvironment());
    }
    // Quarkus listens on all interfaces in production mode; this cluster is for this machine only.
    // A value in the launcher's environment wins, like any other Quarkus setting.
    if (System.getenv("QUARKUS_HTTP_HOST") == null) {
      common.put("QUARKUS_HTTP_HOST", "127.0.0.1");
    }

    Map<String, String> apiEnv = new HashMap<>(common);
    if (kafkaSecurity != null) {
      apiEnv.putAll(kafkaSecurity.serviceEnvironment(KafkaAccess.API_USER));
    }
    apiEnv.put("QUARKUS_HTTP_PORT", Integer.toString(settings.apiPort()));
    apiEnv.put("TRANSFER_API_BOOTSTRAP_KEY", apiKey);
    apiEnv.put("TRANSFER_ADMIN_KEY", adminKey);
    SupervisedService apiService =
        new SupervisedService(
            spec("api-service", settings.apiJar(), apiEnv, settings.serviceJvmArgs()), scheduler);
    List<SupervisedService> workerServices = new ArrayList<>();
    List<String> workerJvmArgs = new ArrayList<>(settings.serviceJvmArgs());
    workerJvmArgs.addAll(settings.workerJvmArgs());
    for (int i = 1; i <= settings.workers(); i++) {
      Map<String, String> env = new HashMap<>(common);
      if (kafkaSecurity != null) {
        env.putAll(kafkaSecurity.serviceEnvironment(KafkaAccess.WORKER_USER));
      }
      env.put("QUARKUS_HTTP_PORT", Integer.toString(settings.workerPort(i)));
      env.put("TRANSFER_WORKER_ID", "worker-" + i);
      workerServices.add(
          new SupervisedService(
              spec("worker-" + i, settings.workerJar(), env, workerJvmArgs), scheduler));
    }

    // The api first: it migrates the database schema the workers rely on.
    say("Starting api-service on 127.0.0.1:%d ...", settings.apiPort());
    long t0 = System.nanoTime();
    step(
        () -> {
          api = apiService;
          apiService.start();
        });
    awaitReady(apiService, t0);

    if (!workerServices.isEmpty()) {
      say(
          "Starting %d worker%s (health on 127.0.0.1:%s) ...",
          workerServices.size(),
          workerServices.size() == 1 ? "" : "s",
          settings.workers() == 1
              ? Integer.toString(settings.workerBasePort())
              : settings.workerBasePort() + "-" + settings.workerPort(settings.workers()));
      long t1 = System.nanoTime();
      for (SupervisedService worker : workerServices) {
        step(
            () -> {
              workers.add(worker);
              worker.start();
            });
      }
      for (SupervisedService worker : workerServices) {
        awaitReady(worker, t1);
      }
    }

    apiService.supervise();
    workerServices.forEach(SupervisedService::supervise);
    new Banner(settings)
        .print(
            apiKey,
            adminKey,
            db.jdbcUrl(),
            bootstrap,
            kafkaSecurity != null,
            s3 != null ? s3.bannerLine() : settings.objectsDir().toString());

    new CountDownLatch(1).await(); // Until Ctrl-C or SIGTERM; the shutdown hook does the rest.
  }

  private SupervisedService.Spec spec(
      String name, Path jar, Map<String, String> env, List<String> jvmArgs) {
    return new SupervisedService.Spec(
        name,
        jar,
        Integer.parseInt(env.get("QUARKUS_HTTP_PORT")),
        Map.copyOf(env),
        List.copyOf(jvmArgs),
        settings.logsDir().resolve(name + ".log"),
        READY_TIMEOUT,
        STOP_GRACE);
  }

  private void awaitReady(SupervisedService service, long startNanos) {
    try {
      service.awaitReady();
    } catch (IllegalStateException e) {
      throw new LaunchFailure(1, e.getMessage());
    }
    ServiceProcess process = service.current();
    say(
        "  %s is ready (pid %d, %.1f s)",
        service.name(), process.pid(), (System.nanoTime() - startNanos) / 1e9);
  }

  // ---------------------------------------------------------------- the data directory

  /**
   * Two launchers on one data directory would corrupt each other's PostgreSQL and Kafka data. The
   * lock also tells {@link Preflight#stopLeftoverPostgres} that a PostgreSQL running on this
   * directory belongs to no living launcher.
   */
  private void lockDataDir() {
    Path lockFile = settings.dataDir().resolve("launcher.lock");
    try {
      FileChannel channel =
          FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) {
        channel.close();
        String owner = "";
        try {
          owner = " (pid " + Files.readString(lockFile).trim() + ")";
        } catch (IOException e) {
          // Only for the message.
        }
        throw new LaunchFailure(
            2,
            ("Another local cluster%s is using the data directory %s. Stop it first, or set"
                    + " TRANSFER_DATA_DIR to another directory.")
                .formatted(owner, settings.dataDir()));
      }
      channel.truncate(0);
      channel.write(
          StandardCharsets.UTF_8.encode(ProcessHandle.current().pid() + System.lineSeparator()));
      synchronized (lifecycle) {
        lockChannel = channel; // Held (and the lock with it) until this JVM exits.
      }
    } catch (IOException e) {
      throw new LaunchFailure(2, "Cannot lock %s: %s".formatted(lockFile, e.getMessage()));
    }
  }

  // ---------------------------------------------------------------- PostgreSQL and Kafka

  private record Database(String jdbcUrl, String user, String password) {}

  private Database startDatabase(Path launcherLog) {
    if (!settings.embeddedDatabase()) {
      Database db = new Database(settings.dbUrl(), settings.dbUser(), settings.dbPassword());
      say("Using PostgreSQL at %s", db.jdbcUrl());
      checkConnection(db);
      return db;
    }
    say(
        "Starting PostgreSQL on 127.0.0.1:%d (data in %s) ...",
        settings.dbPort(), settings.postgresDir());
    long t0 = System.nanoTime();
    LocalPostgres pg =
        step(
            () -> {
              // The watcher first: should this JVM die while PostgreSQL starts, it stops the
              // server that LocalPostgres had no chance to hand back to us.
              postgresWatcher = watchPostgres();
              postgresAttempted = true;
              try {
                // No shutdown hook of its own: the JVM runs all hooks at once, and PostgreSQL must
                // outlive the workers handing their tasks back. Our shutdown stops it last.
                postgres =
                    LocalPostgres.start(settings.postgresDir(), settings.dbPort(), true, false);
              } catch (Exception e) {
                Logger.getLogger(LocalCluster.class.getName())
                    .log(Level.SEVERE, "PostgreSQL did not start", e);
                throw new LaunchFailure(
                    1,
                    "PostgreSQL did not start: %s%nDetails are in %s"
                        .formatted(describe(e), launcherLog));
              }
              return postgres;
            });
    try {
      pg.createDatabaseIfMissing(DATABASE);
    } catch (Exception e) {
      Logger.getLogger(LocalCluster.class.getName())
          .log(Level.SEVERE, "Cannot create the database", e);
      throw new LaunchFailure(
          1,
          "Cannot create the database '%s': %s%nDetails are in %s"
              .formatted(DATABASE, describe(e), launcherLog));
    }
    say("  PostgreSQL is ready (%.1f s)", (System.nanoTime() - t0) / 1e9);
    return new Database(pg.jdbcUrl(DATABASE), pg.user(), pg.password());
  }

  private static void checkConnection(Database db) {
    DriverManager.setLoginTimeout(10);
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password())) {
      c.isValid(5);
    } catch (SQLException e) {
      throw new LaunchFailure(
          1,
          ("Cannot connect to PostgreSQL at %s: %s%nCheck TRANSFER_DB_URL, TRANSFER_DB_USER and"
                  + " TRANSFER_DB_PASSWORD.")
              .formatted(db.jdbcUrl(), e.getMessage()));
    }
  }

  /**
   * PostgreSQL runs as a daemon (pg_ctl detaches it), so nothing stops it if this JVM dies without
   * running its shutdown hook. This small shell in its own session outlives us, notices when our
   * pid is gone and stops the server ("fast" shutdown) through its pid file; after a clean shutdown
   * the pid file is gone and the watcher, which we also end, does nothing.
   */
  private Process watchPostgres() {
    String script =
        """
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        find "$2" -maxdepth 3 -name postmaster.pid | while read -r f; do
          kill -INT "$(head -n 1 "$f")" 2>/dev/null
        done
        """;
    List<String> command = new ArrayList<>();
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      command.add("/usr/bin/setsid");
    }
    command.addAll(
        List.of(
            "sh",
            "-c",
            script,
            "postgres-watcher",
            Long.toString(ProcessHandle.current().pid()),
            settings.postgresDir().toString()));
    try {
      return new ProcessBuilder(command)
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectErrorStream(true)
          .start();
    } catch (IOException e) {
      Logger.getLogger(LocalCluster.class.getName())
          .log(Level.WARNING, "No PostgreSQL watcher: " + e.getMessage());
      return null;
    }
  }

  private String startKafka(Path launcherLog) {
    say(
        "Starting Kafka on 127.0.0.1:%d%s (log in %s) ...",
        settings.kafkaPort(),
        settings.kafkaSecured() ? ", SASL_SSL only" : "",
        settings.kafkaDir());
    if (settings.kafkaSecured()) {
      LocalKafkaSecurity.refusePlaintextData(settings);
    }
    long t0 = System.nanoTime();
    EmbeddedKafka broker =
        step(
            () -> {
              try {
                kafka =
                    settings.kafkaSecured()
                        ? EmbeddedKafka.startSecured(
                            settings.kafkaDir(), settings.kafkaPort(), settings.kafkaSecurityDir())
                        : EmbeddedKafka.start(settings.kafkaDir(), settings.kafkaPort());
              } catch (Exception e) {
                Logger.getLogger(LocalCluster.class.getName())
                    .log(Level.SEVERE, "Kafka did not start", e);
                throw new LaunchFailure(
                    1,
                    "Kafka did not start: %s%nDetails are in %s"
                        .formatted(describe(e), launcherLog));
              }
              return kafka;
            });
    try {
      broker.createTopics(TOPICS);
    } catch (Exception e) {
      Logger.getLogger(LocalCluster.class.getName())
          .log(Level.SEVERE, "Cannot create the topics", e);
      throw new LaunchFailure(
          1,
          "Cannot create the Kafka topics %s: %s%nDetails are in %s"
              .formatted(TOPICS.keySet(), describe(e), launcherLog));
    }
    say("  Kafka is ready (%.1f s)", (System.nanoTime() - t0) / 1e9);
    return broker.bootstrapServers();
  }

  // ---------------------------------------------------------------- shutdown

  private interface Step<T> {
    T run();
  }

  private <T> T step(Step<T> action) {
    synchronized (lifecycle) {
      if (stopping) {
        throw new LaunchFailure(1, "stopping");
      }
      return action.run();
    }
  }

  private void step(Runnable action) {
    step(
        () -> {
          action.run();
          return null;
        });
  }

  boolean isStopping() {
    return shutdownRequested;
  }

  /**
   * Stops everything this launcher started, in dependency order: workers first (they hand their
   * tasks back through the api's database and Kafka), then the api, then Kafka and PostgreSQL.
   */
  private void shutdown() {
    SupervisedService apiService;
    List<SupervisedService> workerServices;
    EmbeddedKafka broker;
    LocalPostgres pg;
    Process watcher;
    boolean pgAttempted;
    shutdownRequested = true;
    synchronized (lifecycle) {
      if (stopping) {
        return;
      }
      stopping = true;
      apiService = api;
      workerServices = List.copyOf(workers);
      broker = kafka;
      pg = postgres;
      watcher = postgresWatcher;
      pgAttempted = postgresAttempted;
    }
    if (apiService == null && broker == null && !pgAttempted) {
      return; // Failed before starting anything: nothing to say.
    }
    System.out.println();
    say("Stopping the cluster ...");
    if (!workerServices.isEmpty()) {
      // In parallel: each may take up to the grace period to hand its tasks back.
      // One thread each: the common pool has a single thread on a two-core machine.
      List<Thread> stoppers = new ArrayList<>();
      for (SupervisedService worker : workerServices) {
        Thread t = new Thread(() -> stopService(worker), "stop-" + worker.name());
        t.start();
        stoppers.add(t);
      }
      for (Thread t : stoppers) {
        joinUninterruptibly(t);
      }
    }
    if (apiService != null) {
      stopService(apiService);
    }
    LocalS3 objects = s3;
    if (objects != null) {
      objects.close();
      say("  S3 API server stopped");
    }
    if (broker != null) {
      try {
        broker.close();
        say("  Kafka stopped");
      } catch (Exception e) {
        say("  Kafka did not stop cleanly: %s", describe(e));
      }
    }
    if (pg != null) {
      try {
        pg.close();
        say("  PostgreSQL stopped");
      } catch (Exception e) {
        say("  PostgreSQL did not stop cleanly: %s", describe(e));
      }
    } else if (pgAttempted) {
      // Interrupted while starting (LocalPostgres.start fails once shutdown has begun, after the
      // server may already be up), so we have no handle on it. We hold the data directory's
      // lock, so a server running on it is ours.
      preflight.stopLeftoverPostgres("  Stopping PostgreSQL, interrupted while starting");
    }
    if (watcher != null) {
      watcher.destroy();
    }
    scheduler.shutdownNow();
    say("Stopped.");
  }

  private static void joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static void stopService(SupervisedService service) {
    ServiceProcess process = service.current();
    service.stop();
    if (process != null) {
      // 137 = SIGKILL: it did not stop within the grace period (or someone killed it).
      say(
          "  %s stopped (pid %d)%s",
          service.name(),
          process.pid(),
          process.exitCode() == 137 ? ", killed after " + STOP_GRACE.toSeconds() + " s" : "");
    }
  }

  // ---------------------------------------------------------------- output

  /** One line to the terminal; whole lines, even when supervisors print at the same time. */
  static void say(String format, Object... args) {
    String line = args.length == 0 ? format : String.format(format, args);
    synchronized (System.out) {
      System.out.println(line);
      System.out.flush();
    }
  }

  private static String describe(Throwable e) {
    // The innermost message is usually the one that names the real problem.
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String message = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    return t == e ? message : message + " (" + e.getClass().getSimpleName() + ")";
  }

  /**
   * Kafka, PostgreSQL (its server output) and the JDK log through java.util.logging here; all of it
   * goes to the launcher's log file, so the terminal shows only the launcher's own lines.
   */
  private static void logTo(Path file) {
    System.setProperty(
        "java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    try {
      LogManager.getLogManager().reset();
      FileHandler handler = new FileHandler(file.toString(), true);
      handler.setFormatter(new SimpleFormatter());
      handler.setEncoding(StandardCharsets.UTF_8.name());
      Logger root = Logger.getLogger("");
      root.setLevel(Level.INFO);
      root.addHandler(handler);
    } catch (IOException e) {
      throw new LaunchFailure(
          2, "Cannot write the launcher's log %s: %s".formatted(file, e.getMessage()));
    }
  }
}
