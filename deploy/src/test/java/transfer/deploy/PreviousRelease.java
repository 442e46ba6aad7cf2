package transfer.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker of the release before this one ({@code deploy/previous-release} names its commit),
 * built from this repository's history: {@code git archive} of that commit, then Maven's package of
 * {@code worker-service} and the modules it needs. Kept under {@code
 * deploy/target/previous-release/<commit>}, so a second run in the same checkout builds nothing.
 */
final class PreviousRelease {
  private static final Logger LOG = LoggerFactory.getLogger(PreviousRelease.class);
  private static final long BUILD_MINUTES = 15;

  final String commit;

  private PreviousRelease(String commit) {
    this.commit = commit;
  }

  /** The release named by {@code deploy/previous-release}. */
  static PreviousRelease named() throws IOException {
    List<String> lines =
        Files.readAllLines(OwnCluster.ROOT.resolve("deploy/previous-release")).stream()
            .map(String::trim)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    if (lines.size() != 1 || !lines.get(0).matches("[0-9a-f]{40}")) {
      throw new IllegalStateException(
          "deploy/previous-release must name one commit (40 hex digits), not " + lines);
    }
    return new PreviousRelease(lines.get(0));
  }

  /** Whether this clone holds the commit (a shallow clone may not). */
  boolean inHistory() throws IOException, InterruptedException {
    return run(OwnCluster.ROOT, "git", "cat-file", "-e", commit + "^{commit}") == 0;
  }

  /** The release's worker jar, built unless it is already. */
  Path workerJar() throws IOException, InterruptedException {
    Path home = OwnCluster.ROOT.resolve("deploy/target/previous-release/" + commit);
    Path jar = home.resolve("worker-service/target/quarkus-app/quarkus-run.jar");
    if (Files.isRegularFile(jar)) {
      return jar;
    }
    OwnCluster.deleteTree(home);
    Files.createDirectories(home);
    long t0 = System.nanoTime();
    Path log = home.resolveSibling(commit + ".build.log");
    check(
        run(
            OwnCluster.ROOT,
            log,
            "sh",
            "-c",
            "git archive --format=tar " + commit + " | tar -x -C '" + home + "'"),
        "git archive of " + commit,
        log);
    // Its own build, with this machine's Maven settings (the same repository and mirror); no
    // tests, and no format check of code that is not ours to change.
    check(
        run(
            home,
            log,
            "mvn",
            "-B",
            "-q",
            "package",
            "-DskipTests",
            "-Dspotless.check.skip=true",
            "-pl",
            "worker-service",
            "-am"),
        "the build of the previous release's worker",
        log);
    LOG.info(
        "built the worker of the previous release {} in {} s",
        commit,
        (System.nanoTime() - t0) / 1_000_000_000);
    return jar;
  }

  private static void check(int exit, String what, Path log) throws IOException {
    if (exit != 0) {
      String tail = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
      if (tail.length() > 4000) {
        tail = tail.substring(tail.length() - 4000);
      }
      throw new IllegalStateException(what + " failed (exit " + exit + "):\n" + tail);
    }
  }

  private static int run(Path dir, String... command) throws IOException, InterruptedException {
    return run(dir, null, command);
  }

  private static int run(Path dir, Path log, String... command)
      throws IOException, InterruptedException {
    ProcessBuilder b = new ProcessBuilder(command).directory(dir.toFile());
    b.redirectErrorStream(true);
    b.redirectOutput(
        log == null
            ? ProcessBuilder.Redirect.DISCARD
            : ProcessBuilder.Redirect.appendTo(log.toFile()));
    Process p = b.start();
    if (!p.waitFor(BUILD_MINUTES, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }
}
