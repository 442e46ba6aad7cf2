package transfer.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The embedded PostgreSQL ({@link LocalPostgres}) stopped and started with its own {@code pg_ctl}
 * on the same data directory, port and options.
 */
final class PgCtlSwitch implements Switchable {
  private final Path dataDir;
  private final Path pgCtl;
  private final List<String> options;

  PgCtlSwitch(Path dataDir) {
    this(dataDir, 0);
  }

  /**
   * As {@link #PgCtlSwitch(Path)}, listening on {@code port} instead of the port in {@code
   * postmaster.opts} (0 keeps that one): a copy of the data directory started beside the original.
   */
  PgCtlSwitch(Path dataDir, int port) {
    this.dataDir = dataDir;
    // postmaster.opts holds the command line the server was started with: the binary (next to
    // pg_ctl) and the options (port, listen address, fsync) to start it with again.
    List<String> words;
    try {
      words = shellWords(Files.readString(dataDir.resolve("postmaster.opts")).trim());
    } catch (IOException e) {
      throw new UncheckedIOException("no postmaster.opts in " + dataDir, e);
    }
    this.pgCtl = Path.of(words.get(0)).resolveSibling("pg_ctl");
    List<String> opts = new ArrayList<>();
    for (int i = 1; i < words.size(); i++) {
      if (words.get(i).equals("-D")) {
        i++; // pg_ctl passes the data directory itself
        continue;
      }
      opts.add(words.get(i));
      if (port != 0 && words.get(i).equals("-p") && i + 1 < words.size()) {
        opts.add(String.valueOf(port));
        i++;
      }
    }
    this.options = opts;
  }

  @Override
  public boolean isRunning() {
    return pgCtl("status") == 0;
  }

  /** A fast shutdown: clients are disconnected, the server is down until {@link #start()}. */
  @Override
  public void stop() {
    check(pgCtl("stop", "-m", "fast", "-w", "-t", "60"), "stop");
  }

  @Override
  public void start() {
    if (isRunning()) {
      return;
    }
    String opts =
        options.stream()
            .map(o -> "'" + o.replace("'", "'\\''") + "'")
            .collect(Collectors.joining(" "));
    check(
        pgCtl(
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            dataDir.resolveSibling("postgres-restarts.log").toString(),
            "-o",
            opts),
        "start");
  }

  /** Ends recovery of a standby: it becomes a primary (waits until it accepts writes). */
  void promote() {
    check(pgCtl("promote", "-w", "-t", "60"), "promote");
  }

  private void check(int code, String what) {
    if (code != 0) {
      throw new IllegalStateException("pg_ctl " + what + " of " + dataDir + " exited with " + code);
    }
  }

  private int pgCtl(String... args) {
    List<String> cmd = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) {
      // PostgreSQL refuses to run as root; zonky starts it in a user namespace, and so do we.
      cmd.addAll(List.of("unshare", "-U"));
    }
    cmd.add(pgCtl.toString());
    cmd.add("-D");
    cmd.add(dataDir.toString());
    cmd.addAll(List.of(args));
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(90, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return -1;
      }
      return p.exitValue();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + cmd, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** Splits postmaster.opts: words, some in double quotes. */
  private static List<String> shellWords(String line) {
    List<String> words = new ArrayList<>();
    Matcher m = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"|(\\S+)").matcher(line);
    while (m.find()) {
      words.add(m.group(1) != null ? m.group(1).replaceAll("\\\\(.)", "$1") : m.group(2));
    }
    return words;
  }
}
