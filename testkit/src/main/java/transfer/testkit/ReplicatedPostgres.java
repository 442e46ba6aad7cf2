package transfer.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * A PostgreSQL primary with one streaming standby (asynchronous physical replication), each a real
 * server on its own port of 127.0.0.1, that can switch over: the primary stops (a fast shutdown,
 * which sends the standby every WAL record first) and the standby is promoted, as an operator's
 * planned switchover or a Kubernetes operator (CloudNativePG, Patroni) does it.
 *
 * <p>The standby is a cold copy of the primary's data directory (zonky's binaries have no {@code
 * pg_basebackup}), taken while the primary is stopped once at the start, with {@code
 * standby.signal} and a {@code primary_conninfo}; initdb's {@code pg_hba.conf} trusts replication
 * connections from 127.0.0.1.
 */
public final class ReplicatedPostgres implements AutoCloseable {
  private static final Duration CATCH_UP = Duration.ofSeconds(60);

  private final LocalPostgres primary;
  private final PgCtlSwitch primarySwitch;
  private final PgCtlSwitch standbySwitch;
  private final Path standbyDir;
  private final int standbyPort;
  private boolean closed; // guarded by this

  private ReplicatedPostgres(
      LocalPostgres primary,
      PgCtlSwitch primarySwitch,
      PgCtlSwitch standbySwitch,
      Path standbyDir,
      int standbyPort) {
    this.primary = primary;
    this.primarySwitch = primarySwitch;
    this.standbySwitch = standbySwitch;
    this.standbyDir = standbyDir;
    this.standbyPort = standbyPort;
  }

  /**
   * Starts a primary under {@code root}/primary with the given databases, and its standby under
   * {@code root}/standby; returns once the standby streams from the primary.
   */
  public static ReplicatedPostgres start(Path root, List<String> databases) {
    LocalPostgres primary = LocalPostgres.start(root.resolve("primary/data"), 0, false);
    try {
      databases.forEach(primary::createDatabaseIfMissing);
      PgCtlSwitch primarySwitch = new PgCtlSwitch(primary.dataDir());
      primarySwitch.stop();
      Path standbyDir = root.resolve("standby/data");
      copyDataDirectory(primary.dataDir(), standbyDir);
      Files.writeString(standbyDir.resolve("standby.signal"), "");
      Files.writeString(
          standbyDir.resolve("postgresql.auto.conf"),
          String.format(
              "%nprimary_conninfo = 'host=127.0.0.1 port=%d user=%s application_name=standby'%n",
              primary.port(), primary.user()),
          StandardOpenOption.APPEND);
      int standbyPort = EmbeddedKafka.freePort(-1);
      PgCtlSwitch standbySwitch = new PgCtlSwitch(standbyDir, standbyPort);
      primarySwitch.start();
      standbySwitch.start();
      ReplicatedPostgres pair =
          new ReplicatedPostgres(primary, primarySwitch, standbySwitch, standbyDir, standbyPort);
      pair.awaitStreaming();
      return pair;
    } catch (IOException | RuntimeException e) {
      // pg_ctl starts the standby as a daemon of its own: stop it too, if it came up.
      Path standbyDir = root.resolve("standby/data");
      if (Files.exists(standbyDir.resolve("postmaster.pid"))) {
        try {
          new PgCtlSwitch(standbyDir).stop();
        } catch (RuntimeException stopFailed) {
          e.addSuppressed(stopFailed);
        }
      }
      primary.close();
      throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
    }
  }

  public int primaryPort() {
    return primary.port();
  }

  public int standbyPort() {
    return standbyPort;
  }

  public String user() {
    return primary.user();
  }

  public String password() {
    return primary.password();
  }

  public String jdbcUrl(int port, String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  /**
   * The switchover's first half: stops the primary (fast: sessions are disconnected, and every WAL
   * record is sent to the standby before the server exits).
   */
  public void stopPrimary() {
    primarySwitch.stop();
  }

  /** The switchover's second half: promotes the standby, which then accepts writes. */
  public void promoteStandby() {
    standbySwitch.promote();
  }

  /** Whether the server on this port is in recovery (a standby); false for a primary. */
  public boolean inRecovery(int port) throws SQLException {
    try (Connection c = DriverManager.getConnection(jdbcUrl(port, "postgres"), user(), password());
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  private void awaitStreaming() {
    long deadline = System.nanoTime() + CATCH_UP.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      try (Connection c =
              DriverManager.getConnection(jdbcUrl(primaryPort(), "postgres"), user(), password());
          Statement st = c.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "select state from pg_stat_replication where application_name = 'standby'")) {
        last = rs.next() ? rs.getString(1) : "no standby connected";
        if ("streaming".equals(last)) {
          return;
        }
      } catch (SQLException e) {
        last = e.getMessage();
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    throw new IllegalStateException(
        "the standby in " + standbyDir + " did not stream from the primary: " + last);
  }

  /**
   * A stopped server's data directory, files and modes, without its pid file (its {@code
   * postmaster.opts} comes along: the standby starts with the same options, on its own port).
   */
  private static void copyDataDirectory(Path from, Path to) throws IOException {
    LocalPostgres.deleteRecursively(to);
    Set<String> skipped = Set.of("postmaster.pid");
    try (var paths = Files.walk(from)) {
      for (Path p : paths.toList()) {
        if (skipped.contains(p.getFileName().toString())) {
          continue;
        }
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
          Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(p));
        } else {
          Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  /** Stops both servers and removes the standby's files (the primary's go with it). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (standbySwitch.isRunning()) {
        standbySwitch.stop();
      }
    } finally {
      // The embedded server's own close stops it with pg_ctl and fails loudly when it is stopped
      // already (after a switchover): started again, it stops quietly.
      try {
        if (!primarySwitch.isRunning()) {
          primarySwitch.start();
        }
      } catch (RuntimeException e) {
        // closed below all the same
      }
      primary.close();
      try {
        LocalPostgres.deleteRecursively(standbyDir);
      } catch (IOException e) {
        // left for the temporary directory's owner
      }
    }
  }
}
