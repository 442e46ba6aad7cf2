package transfer.deploy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * One Quarkus application ({@code quarkus-run.jar}) running as a child JVM.
 *
 * <p>Used by {@link LocalCluster} and by the cluster-level integration tests, which kill, pause and
 * restart services to check the cluster's behaviour under failure.
 *
 * <p>Children should not outlive their parent, even when the parent is killed with SIGKILL and no
 * shutdown hook runs. On Linux the child is therefore started through {@code setpriv --pdeathsig
 * SIGTERM}, which asks the kernel to send SIGTERM to the child when its parent goes away (the child
 * then shuts down as cleanly as it can). Both helpers {@code exec} the next program, so {@link
 * #pid()} is the pid of the JVM itself and signals reach it directly. Where {@code setpriv} is
 * missing (not Linux), the child is started directly and this guarantee does not hold.
 *
 * <p>The child is also put in its own session with {@code setsid}: a Ctrl-C in the terminal sends
 * SIGINT to the whole foreground process group, and the parent must decide the order in which the
 * services stop (workers before the api, both before Kafka), not the terminal.
 */
public final class ServiceProcess {

  private static final Path SETPRIV = findExecutable("setpriv");
  private static final Path SETSID = findExecutable("setsid");

  /**
   * The kernel's "parent death" signal fires when the thread that created the child ends, not the
   * process. Spawning from short-lived threads (a restart task, a test's executor) would therefore
   * SIGTERM the child as soon as that thread finished. All children are spawned from this one
   * thread, which lives as long as the JVM.
   */
  private static final ExecutorService SPAWNER =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "service-process-spawner");
            t.setDaemon(true);
            return t;
          });

  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .connectTimeout(Duration.ofSeconds(2))
          .version(HttpClient.Version.HTTP_1_1)
          .build();

  private final String name;
  private final Process process;
  private final Path logFile;
  private final long logStart;

  private ServiceProcess(String name, Process process, Path logFile, long logStart) {
    this.name = name;
    this.process = process;
    this.logFile = logFile;
    this.logStart = logStart;
  }

  /**
   * What every service JVM opens to the application, whatever {@code jvmArgs} say: a worker saves
   * the SHA-256 state of downloads into S3 from fields of the JDK (worker DESIGN.md, "Downloads
   * into S3"). The container image's entry point says the same.
   */
  public static final List<String> OPENS =
      List.of(
          "--add-opens=java.base/java.security=ALL-UNNAMED",
          "--add-opens=java.base/sun.security.provider=ALL-UNNAMED");

  /**
   * Starts {@code java <jvmArgs> -jar <jar>} with the parent's environment plus {@code env}, its
   * output appended to {@code logFile}. Returns once the process exists; see {@link #awaitReady}.
   */
  public static ServiceProcess start(
      String name, Path jar, Map<String, String> env, List<String> jvmArgs, Path logFile) {
    Objects.requireNonNull(name, "name");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalArgumentException(name + ": no such jar: " + jar);
    }
    List<String> command = new ArrayList<>();
    if (SETSID != null) {
      command.add(SETSID.toString());
    }
    if (SETPRIV != null) {
      command.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "SIGTERM", "--"));
    }
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(OPENS);
    command.addAll(jvmArgs);
    command.add("-jar");
    command.add(jar.toAbsolutePath().toString());

    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    // Relative paths in the service's own configuration resolve against the jar's directory, as
    // they do when someone runs the jar by hand from there.
    builder.directory(jar.toAbsolutePath().getParent().toFile());
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    builder.redirectInput(ProcessBuilder.Redirect.from(nullDevice()));

    try {
      Files.createDirectories(logFile.toAbsolutePath().getParent());
      // A header per start, so a log shared by successive incarnations shows where each begins.
      Files.writeString(
          logFile,
          String.format("%n=== %s starting at %s: %s%n", name, Instant.now(), command),
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      long logStart = Files.size(logFile);
      Process process = SPAWNER.submit(builder::start).get();
      return new ServiceProcess(name, process, logFile, logStart);
    } catch (IOException e) {
      throw new UncheckedIOException(name + ": cannot start " + jar + ": " + e.getMessage(), e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw new UncheckedIOException(name + ": cannot start " + jar + ": " + io.getMessage(), io);
      }
      throw new IllegalStateException(name + ": cannot start " + jar, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(name + ": interrupted while starting", e);
    }
  }

  public String name() {
    return name;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public Path logFile() {
    return logFile;
  }

  /** Exit code, or -1 while running. 128 + n means killed by signal n (137 = SIGKILL). */
  public int exitCode() {
    return process.isAlive() ? -1 : process.exitValue();
  }

  public CompletableFuture<Process> onExit() {
    return process.onExit();
  }

  /**
   * Polls {@code http://127.0.0.1:<httpPort>/q/health/ready} until it answers 200.
   *
   * @throws IllegalStateException if the process exits first or the timeout passes; the message
   *     carries the end of the log, since that is where the reason is
   */
  public void awaitReady(int httpPort, Duration timeout) {
    URI uri = URI.create("http://127.0.0.1:" + httpPort + "/q/health/ready");
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            String.format(
                "%s (pid %d) exited with code %d before it was ready; end of %s:%n%s",
                name, pid(), process.exitValue(), logFile, logTail(30)));
      }
      try {
        HttpResponse<Void> response = HTTP.send(request, HttpResponse.BodyHandlers.discarding());
        if (response.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // Not listening yet, or the connection dropped while it starts: keep polling.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(name + ": interrupted while waiting for readiness", e);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            String.format(
                "%s (pid %d) was not ready on %s after %d s; end of %s:%n%s",
                name, pid(), uri, timeout.toSeconds(), logFile, logTail(30)));
      }
      try {
        // The process may exit while we sleep; onExit wakes us early in that case.
        process.onExit().get(250, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException | ExecutionException e) {
        // Still running (or the future failed, which it does not): poll again.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(name + ": interrupted while waiting for readiness", e);
      }
    }
  }

  /**
   * Asks the process to stop (SIGTERM), waits up to {@code grace}, then kills it (SIGKILL) and
   * waits for it to be gone.
   */
  public void stop(Duration grace) {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    // A paused process (SIGSTOP, here or by anyone else) keeps SIGTERM pending and would only die
    // by SIGKILL after the grace period; let it run so that it can shut down gracefully.
    sendQuietly("CONT");
    try {
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** SIGKILL now, and wait until the process is gone. */
  public void kill() {
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Sends a signal by name, e.g. "STOP", "CONT", "TERM", "KILL". */
  public void signal(String sig) {
    String normalized = sig.startsWith("SIG") ? sig.substring(3) : sig;
    int code = sendQuietly(normalized);
    if (code != 0) {
      throw new IllegalStateException(
          "kill -" + normalized + " " + pid() + " failed with exit code " + code);
    }
  }

  private int sendQuietly(String sig) {
    try {
      Process kill =
          new ProcessBuilder("kill", "-" + sig, Long.toString(pid()))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      return kill.waitFor();
    } catch (IOException e) {
      return -1; // No kill command; signal() reports it, stop() goes on without it.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** The last {@code lines} lines this incarnation wrote to its log. */
  public String logTail(int lines) {
    // Read only the end: logs of long-running services get large.
    final long window = 256 * 1024;
    try (RandomAccessFile file = new RandomAccessFile(logFile.toFile(), "r")) {
      long end = file.length();
      long from = Math.max(logStart, end - window);
      if (end <= from) {
        return "";
      }
      byte[] bytes = new byte[(int) (end - from)];
      file.seek(from);
      file.readFully(bytes);
      String text = new String(bytes, StandardCharsets.UTF_8);
      String[] all = text.split("\\R", -1);
      int last = all.length;
      if (last > 0 && all[last - 1].isEmpty()) {
        last--;
      }
      int first = Math.max(0, last - lines);
      return String.join(System.lineSeparator(), List.of(all).subList(first, last));
    } catch (IOException e) {
      return "(cannot read " + logFile + ": " + e.getMessage() + ")";
    }
  }

  @Override
  public String toString() {
    return name + " (pid " + pid() + ")";
  }

  private static Path findExecutable(String program) {
    if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
      return null;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (dir.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(dir, program);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return null;
  }

  private static java.io.File nullDevice() {
    return new java.io.File(
        System.getProperty("os.name", "").startsWith("Windows") ? "NUL" : "/dev/null");
  }
}
