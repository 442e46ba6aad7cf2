package transfer.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (zonky's embedded binaries, run as a child process) listening on
 * 127.0.0.1 with trust authentication for the superuser {@code postgres}.
 */
public final class LocalPostgres implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);
  private static final String USER = "postgres";
  // Trust authentication ignores it; clients that insist on a password get this one.
  private static final String PASSWORD = "postgres";
  private static final String DUPLICATE_DATABASE = "42P04";

  /**
   * Server settings every test and local PostgreSQL has, embedded or in a container (TestInfra
   * passes them to the container's server too, so a test sees the same server either way).
   */
  public static final Map<String, String> SERVER_SETTINGS =
      // autovacuum_naptime keeps PostgreSQL's default (1 min), as a production server has it: the
      // API's reaper analyzes the task table itself after a burst of work (ledger/DESIGN.md,
      // "Fresh statistics"). At 1 s the launcher started a worker every third of a second (one per
      // database per naptime): short-lived processes were 30 % of PostgreSQL's CPU samples in
      // bench/small-files (perf record -a).
      Map.of(
          // Statement counts and times for whoever asks (create extension pg_stat_statements): how
          // bench/ and the cost tests count the ledger's round trips per task.
          "shared_preload_libraries",
          "pg_stat_statements",
          // Kept data survives a crash of the server or the machine, and a commit returns once
          // its WAL is flushed, so that a 201 means the task is stored. PostgreSQL's defaults,
          // but zonky starts the server with -F (fsync off) and synchronous_commit off; these
          // come after, and win.
          "fsync",
          "on",
          "synchronous_commit",
          "on");

  /**
   * Settings for data that need not survive an OS crash (a killed server recovers from its WAL
   * without these); kept data must.
   */
  public static final Map<String, String> THROW_AWAY_DATA_SETTINGS =
      Map.of("fsync", "off", "full_page_writes", "off");

  private final EmbeddedPostgres postgres;
  private final Path dataDir;
  private final Thread shutdownHook;
  private final boolean hooked;
  private boolean closed; // guarded by this

  private LocalPostgres(EmbeddedPostgres postgres, Path dataDir, boolean hooked) {
    this.postgres = postgres;
    this.dataDir = dataDir;
    this.hooked = hooked;
    this.shutdownHook = new Thread(this::close, "local-postgres-stop-" + postgres.getPort());
  }

  /**
   * Starts PostgreSQL on 127.0.0.1:{@code port} (0 = a free port) with its data in {@code dataDir}.
   * With {@code keepData} the directory is initialised only when it holds no cluster yet and is
   * left in place on close, so a later start on it finds the same databases; without, any previous
   * content is wiped first and the directory is removed on close. A shutdown hook stops the server
   * when the JVM exits.
   */
  public static LocalPostgres start(Path dataDir, int port, boolean keepData) {
    return start(dataDir, port, keepData, true);
  }

  /**
   * As {@link #start(Path, int, boolean)}; with {@code stopAtJvmExit} false no shutdown hook is
   * installed and the caller must {@link #close()} it (for launchers that stop their services in an
   * order of their own from a hook of their own: the JVM runs all hooks at once).
   */
  public static LocalPostgres start(
      Path dataDir, int port, boolean keepData, boolean stopAtJvmExit) {
    EmbeddedPostgres postgres;
    try {
      if (!keepData) {
        // initdb refuses a non-empty directory.
        deleteRecursively(dataDir);
      }
      Files.createDirectories(dataDir);
      EmbeddedPostgres.Builder builder =
          EmbeddedPostgres.builder()
              // zonky's own free-port probe binds every interface; this one binds 127.0.0.1 only.
              .setPort(port == 0 ? EmbeddedKafka.freePort(-1) : port)
              .setDataDirectory(dataDir)
              .setCleanDataDirectory(!keepData)
              .setServerConfig("listen_addresses", "127.0.0.1")
              // initdb plus start takes seconds on a loaded 2-core CI machine.
              .setPGStartupWait(Duration.ofSeconds(60))
              // Ours (below) can be left out, and lets TestInfra's hook wait for the stop before
              // it deletes the files.
              .setRegisterShutdownHook(false);
      SERVER_SETTINGS.forEach(builder::setServerConfig);
      if (!keepData) {
        THROW_AWAY_DATA_SETTINGS.forEach(builder::setServerConfig);
      }
      postgres = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("PostgreSQL did not start in " + dataDir, e);
    }
    LocalPostgres local = new LocalPostgres(postgres, dataDir, stopAtJvmExit);
    if (stopAtJvmExit) {
      try {
        Runtime.getRuntime().addShutdownHook(local.shutdownHook);
      } catch (IllegalStateException shuttingDown) {
        // The JVM began to exit while the server started: nobody would ever stop it.
        local.close();
        throw shuttingDown;
      }
    }
    return local;
  }

  public String jdbcUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port() + "/" + database;
  }

  public String user() {
    return USER;
  }

  public String password() {
    return PASSWORD;
  }

  public int port() {
    return postgres.getPort();
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Creates the database unless it exists; safe to call concurrently. */
  public void createDatabaseIfMissing(String name) {
    try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, PASSWORD)) {
      try (PreparedStatement exists =
          c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
        exists.setString(1, name);
        try (ResultSet rs = exists.executeQuery()) {
          if (rs.next()) {
            return;
          }
        }
      }
      try (Statement create = c.createStatement()) {
        create.execute("CREATE DATABASE \"" + name.replace("\"", "\"\"") + "\"");
      } catch (SQLException e) {
        if (!DUPLICATE_DATABASE.equals(e.getSQLState())) {
          throw e;
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("could not create database " + name, e);
    }
  }

  /** Stops the server (a fast shutdown); idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (hooked) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // this may be the hook itself
      }
    }
    try {
      postgres.close();
    } catch (IOException e) {
      LOG.warn("PostgreSQL on port {} did not stop cleanly", port(), e);
    }
  }

  static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
