package transfer.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the launcher checks and clears before it starts anything: the services are built, the data
 * directory can be made, no PostgreSQL of an earlier launcher still runs on it, and every port is
 * free and used once. Each refusal is a {@link LaunchFailure} that says which setting to change.
 */
final class Preflight {
  private final Settings settings;

  Preflight(Settings settings) {
    this.settings = settings;
  }

  void checkJars() {
    for (Path jar : List.of(settings.apiJar(), settings.workerJar())) {
      if (!Files.isRegularFile(jar)) {
        throw new LaunchFailure(
            2,
            ("%s is missing: the services are not built. Run deploy/local/start (it builds what is"
                    + " out of date), or 'mvn -B install -DskipTests' in %s.")
                .formatted(jar, settings.projectRoot()));
      }
    }
  }

  void createDirectories() {
    Path data = settings.dataDir();
    try {
      for (Path dir :
          List.of(
              settings.kafkaDir(),
              settings.postgresDir(),
              settings.objectsDir(),
              settings.logsDir())) {
        Files.createDirectories(dir);
      }
    } catch (IOException e) {
      throw new LaunchFailure(
          2,
          "Cannot create the data directory %s (%s); set TRANSFER_DATA_DIR to a writable place."
              .formatted(data, e.getMessage()));
    }
  }

  /**
   * A launcher killed with SIGKILL cannot stop its PostgreSQL, which runs as a separate daemon;
   * normally the watcher started beside it does, but if that failed too the server would hold the
   * port and the data directory. We own the data directory now (the lock), so stop it.
   */
  void stopLeftoverPostgres(String what) {
    List<Path> pidFiles;
    try (Stream<Path> files = Files.walk(settings.postgresDir(), 3)) {
      pidFiles = files.filter(p -> p.getFileName().toString().equals("postmaster.pid")).toList();
    } catch (IOException e) {
      return; // Nothing readable there; PostgreSQL's own start will report real problems.
    }
    for (Path pidFile : pidFiles) {
      long pid;
      try {
        pid = Long.parseLong(Files.readAllLines(pidFile).get(0).trim());
      } catch (IOException | RuntimeException e) {
        continue;
      }
      ProcessHandle.of(pid)
          .filter(ProcessHandle::isAlive)
          .filter(h -> h.info().command().map(c -> c.endsWith("postgres")).orElse(false))
          .ifPresent(
              postmaster -> {
                LocalCluster.say("%s (pid %d, data %s) ...", what, pid, pidFile.getParent());
                signal(pid, "INT"); // "Fast" shutdown: disconnects clients, then stops.
                try {
                  postmaster.onExit().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                  postmaster.destroyForcibly();
                }
              });
    }
  }

  private record PortUse(int port, String what, String variable) {}

  void checkPorts() {
    List<PortUse> uses = new ArrayList<>();
    uses.add(new PortUse(settings.apiPort(), "the API", "TRANSFER_API_PORT"));
    uses.add(new PortUse(settings.kafkaPort(), "Kafka", "TRANSFER_KAFKA_PORT"));
    // The embedded broker's KRaft controller listens on a free port it picks itself.
    if (settings.embeddedDatabase()) {
      uses.add(new PortUse(settings.dbPort(), "PostgreSQL", "TRANSFER_DB_PORT"));
    }
    if (settings.s3Storage()) {
      uses.add(new PortUse(settings.s3Port(), "the S3 API server", "TRANSFER_S3_PORT"));
    }
    for (int i = 1; i <= settings.workers(); i++) {
      uses.add(
          new PortUse(
              settings.workerPort(i),
              "worker-" + i + "'s health endpoint (worker i uses base port + i - 1)",
              "TRANSFER_WORKER_BASE_PORT"));
    }
    Map<Integer, PortUse> byPort = new LinkedHashMap<>();
    for (PortUse use : uses) {
      if (use.port() > 65535) {
        throw new LaunchFailure(
            2,
            "Port %d for %s is out of range; change %s."
                .formatted(use.port(), use.what(), use.variable()));
      }
      PortUse other = byPort.putIfAbsent(use.port(), use);
      if (other != null) {
        throw new LaunchFailure(
            2,
            "Port %d would be used by both %s and %s; change %s or %s."
                .formatted(use.port(), other.what(), use.what(), other.variable(), use.variable()));
      }
    }
    for (PortUse use : uses) {
      if (!isFree(use.port())) {
        throw new LaunchFailure(
            2,
            "Port %d on 127.0.0.1 is already in use (needed for %s); set %s to a free port."
                .formatted(use.port(), use.what(), use.variable()));
      }
    }
  }

  private static boolean isFree(int port) {
    // Binding is the only reliable test; SO_REUSEADDR (Java's default here) keeps connections in
    // TIME_WAIT from a previous run from counting as "in use", as they will not stop the services.
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void signal(long pid, String sig) {
    try {
      new ProcessBuilder("kill", "-" + sig, Long.toString(pid))
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start()
          .waitFor();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
