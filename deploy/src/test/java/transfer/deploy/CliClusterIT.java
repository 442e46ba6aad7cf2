package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.TestFiles;

/**
 * {@code ./transfer}, the command-line tool, as people and scripts run it: the launcher script from
 * the project's root, against the real cluster. Scripts get one JSON line and the documented exit
 * codes; a person at a real terminal (tmux, its screen captured while the transfer runs) sees a
 * progress bar move and then the final line with the bytes' digest.
 */
class CliClusterIT extends ClusterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path ROOT =
      Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath().normalize();

  record Run(int exit, String out, String err) {}

  /** {@code ./transfer args...} without a terminal, as a script runs it. */
  private static Run transfer(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(ROOT.resolve("transfer").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile());
    pb.environment().put("TRANSFER_API_URL", "http://127.0.0.1:" + cluster.apiPort);
    pb.environment().put("TRANSFER_API_KEY", ClusterFixture.API_KEY);
    pb.environment().remove("TRANSFER_SESSION");
    pb.environment().putAll(env);
    Path out = Files.createTempFile("cli-out", ".txt");
    Path err = Files.createTempFile("cli-err", ".txt");
    try {
      Process p =
          pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        throw new AssertionError("./transfer " + String.join(" ", args) + " did not end in 120 s");
      }
      return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static String session() {
    return "cli-it-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Test
  void scriptsGetOneJsonLineAndTheDocumentedExitCodes() throws Exception {
    String sid = session();
    Map<String, String> env = Map.of("TRANSFER_SESSION", sid);

    Run ok = transfer(env, "download", "--json", origin.url("/bytes/300000?seed=41"));
    assertThat(ok.exit()).as("exit of a completed download; stderr: %s", ok.err()).isZero();
    JsonNode task = JSON.readTree(ok.out().strip());
    assertThat(ok.out().strip().lines()).hasSize(1);
    assertThat(task.get("state").asText()).isEqualTo("completed");
    assertThat(task.get("sessionId").asText()).isEqualTo(sid);
    assertThat(task.get("sha256").asText()).isEqualTo(Origin.sha256Hex(300000, 41));
    assertThat(task.get("bytesTransferred").asLong()).isEqualTo(300000);

    Run failed = transfer(env, "download", "--json", origin.url("/bytes/1000?seed=1&status=404"));
    assertThat(failed.exit()).as("exit of a failed download").isEqualTo(1);
    JsonNode f = JSON.readTree(failed.out().strip());
    assertThat(f.get("state").asText()).isEqualTo("failed");
    assertThat(f.at("/error/code").asText()).isEqualTo("http_status");

    // Without --json the one final line says what happened and what to do.
    Run human = transfer(env, "download", origin.url("/bytes/1000?seed=2&status=404"));
    assertThat(human.exit()).isEqualTo(1);
    assertThat(human.out().strip())
        .startsWith("failed: http_status (HTTP 404)")
        .contains("What to do: the origin has no such file; check the URL");
    assertThat(human.err()).as("no progress drawing without a terminal").isEmpty();

    // The list has both downloads, each once.
    Run tasks = transfer(env, "tasks", "--json");
    assertThat(tasks.exit()).isZero();
    List<JsonNode> listed = new ArrayList<>();
    for (String line : tasks.out().strip().split("\n")) {
      listed.add(JSON.readTree(line));
    }
    assertThat(listed)
        .extracting(t -> t.get("id").asText())
        .containsExactlyInAnyOrder(
            task.get("id").asText(), f.get("id").asText(), idIn(human.out()));

    // Refusals and an unreachable API: 4 and 5, with a line that says why.
    Run badKey = transfer(Map.of("TRANSFER_API_KEY", "not-a-key"), "tasks");
    assertThat(badKey.exit()).isEqualTo(4);
    assertThat(badKey.err()).contains("401").contains("--api-key");
    Run unknown = transfer(env, "cancel", UUID.randomUUID().toString());
    assertThat(unknown.exit()).isEqualTo(4);
    assertThat(unknown.err()).contains("404");
    Run blocked = transfer(env, "download", "http://10.1.2.3/file");
    assertThat(blocked.exit()).isEqualTo(4);
    assertThat(blocked.err()).contains("blocked destination");
    Run down =
        transfer(
            Map.of("TRANSFER_API_URL", "http://127.0.0.1:" + ClusterFixture.freePort()), "tasks");
    assertThat(down.exit()).isEqualTo(5);
    assertThat(down.err()).contains("is the cluster running");
    Run usage = transfer(env, "tasks", "--state", "sideways");
    assertThat(usage.exit()).isEqualTo(2);
    assertThat(usage.err()).contains("unknown state 'sideways'");
  }

  @Test
  void uploadStagesTheFileAndSendsItToTheTarget() throws Exception {
    String sid = session();
    Path file = Files.createTempFile("cli-upload", ".bin");
    try {
      Origin.writeTo(file, 700_000, 43);
      String target = "/cli-upload/" + UUID.randomUUID();
      Run up =
          transfer(Map.of("TRANSFER_SESSION", sid), "upload", file.toString(), origin.url(target));
      assertThat(up.exit()).as("stderr: %s", up.err()).isZero();
      assertThat(up.out().strip())
          .startsWith("completed: sent 683.6 KiB to " + origin.url(target))
          .contains("sha256 " + Origin.sha256Hex(700_000, 43));
      assertThat(origin.requests())
          .filteredOn(r -> r.path().equals(target))
          .singleElement()
          .satisfies(r -> assertThat(r.receivedSha256()).isEqualTo(Origin.sha256Hex(700_000, 43)));
      // The staged copy is deleted once the upload is final: nothing left in the session's objects.
      assertThat(cluster.stored.stagedObjects("default", sid)).as("staged objects left").isEmpty();
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /**
   * {@code watch} follows every open task of the session, including one submitted after it began,
   * prints each one's final line as it ends, and returns when none is left: 1 because one failed.
   * {@code -o} copies a download's bytes out of the cluster.
   */
  @Test
  void watchFollowsEveryOpenTaskToItsEndAndOutputCopiesTheBytes() throws Exception {
    String sid = session();
    Map<String, String> env = Map.of("TRANSFER_SESSION", sid);
    Run first =
        transfer(
            env,
            "download",
            "--no-wait",
            "--json",
            origin.url("/bytes/" + (6L << 20) + "?seed=45&rate=" + (512L << 10)));
    assertThat(first.exit()).as("stderr: %s", first.err()).isZero();
    String firstId = JSON.readTree(first.out().strip()).get("id").asText();

    ProcessBuilder pb =
        new ProcessBuilder(ROOT.resolve("transfer").toString(), "watch", sid)
            .directory(ROOT.toFile());
    pb.environment().put("TRANSFER_API_URL", "http://127.0.0.1:" + cluster.apiPort);
    pb.environment().put("TRANSFER_API_KEY", ClusterFixture.API_KEY);
    Path out = Files.createTempFile("cli-watch", ".txt");
    Process watch =
        pb.redirectOutput(out.toFile())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    try {
      // Submitted while watch runs: watch learns of it from the session's events.
      Thread.sleep(1500);
      Run second =
          transfer(
              env,
              "download",
              "--no-wait",
              "--json",
              origin.url("/bytes/" + (2L << 20) + "?seed=46&status=404&faultTimes=1"));
      assertThat(second.exit()).as("stderr: %s", second.err()).isZero();
      String secondId = JSON.readTree(second.out().strip()).get("id").asText();
      assertThat(watch.waitFor(90, TimeUnit.SECONDS)).as("watch ended").isTrue();
      String printed = Files.readString(out);
      assertThat(watch.exitValue())
          .as("watch's exit (one task failed); it printed:%n%s", printed)
          .isEqualTo(1);
      assertThat(printed.lines().filter(l -> l.startsWith("completed: ")))
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .contains("(task " + firstId + ")")
          .contains(Origin.sha256Hex(6L << 20, 45));
      assertThat(printed.lines().filter(l -> l.startsWith("failed: ")))
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .contains("(task " + secondId + ")");
    } finally {
      watch.destroyForcibly().waitFor();
      Files.deleteIfExists(out);
    }

    Path copy = Files.createTempFile("cli-copy", ".bin");
    try {
      Run withCopy =
          transfer(env, "download", "-o", copy.toString(), origin.url("/bytes/500000?seed=47"));
      assertThat(withCopy.exit()).as("stderr: %s", withCopy.err()).isZero();
      assertThat(withCopy.out()).contains("copied to " + copy.toAbsolutePath());
      assertThat(Files.size(copy)).isEqualTo(500000);
      assertThat(sha256(copy)).isEqualTo(Origin.sha256Hex(500000, 47));
    } finally {
      Files.deleteIfExists(copy);
    }
  }

  /**
   * What a task may say at submit, a patch, a download continued from {@code cancel
   * --resume-data}'s data, and a finished download's content fetched later.
   */
  @Test
  void tasksCarryTheirOptionsArePatchedContinuedAndTheirContentFetchedLater() throws Exception {
    String sid = session();
    Map<String, String> env = Map.of("TRANSFER_SESSION", sid);
    Run suspended =
        transfer(
            env,
            "download",
            "--json",
            "--suspended",
            "--priority",
            "0.9",
            "--description",
            "quarterly report",
            "--metadata",
            "{\"order\":\"A-17\"}",
            origin.url("/bytes/1000?seed=48"));
    assertThat(suspended.exit()).as("stderr: %s", suspended.err()).isZero();
    JsonNode s = JSON.readTree(suspended.out().strip());
    assertThat(s.get("state").asText()).isEqualTo("suspended");
    assertThat(s.get("priority").asDouble()).isEqualTo(0.9);
    assertThat(s.get("description").asText()).isEqualTo("quarterly report");
    assertThat(s.at("/metadata/order").asText()).isEqualTo("A-17");
    String suspendedId = s.get("id").asText();

    String other = origin.url("/bytes/2000?seed=49");
    Run patched =
        transfer(env, "patch", "--json", suspendedId, "--url", other, "--priority", "0.2");
    assertThat(patched.exit()).as("stderr: %s", patched.err()).isZero();
    assertThat(JSON.readTree(patched.out().strip()).get("url").asText()).isEqualTo(other);
    assertThat(JSON.readTree(patched.out().strip()).get("priority").asDouble()).isEqualTo(0.2);
    Run nothing = transfer(env, "patch", suspendedId);
    assertThat(nothing.exit()).isEqualTo(2);
    assertThat(nothing.err()).contains("nothing to change");
    Run badWhen = transfer(env, "download", "--begin-at", "tomorrow", other);
    assertThat(badWhen.exit()).isEqualTo(2);
    assertThat(badWhen.err()).contains("--begin-at tomorrow");

    // A slow download canceled with its resume data, then continued from it.
    // Twelve seconds in all, a checkpoint every second: the cancel (a JVM of its own, slow to start
    // on a loaded machine) comes after a few checkpoints and well before the end.
    // On S3 a checkpoint is a 5 MiB part: a larger body, as slow in seconds.
    long size = ClusterFixture.S3 ? 12L << 20 : 3L << 20;
    String slow = "/bytes/" + size + "?seed=50&rate=" + (size / 12);
    Run started = transfer(env, "download", "--json", "--no-wait", origin.url(slow));
    String slowId = JSON.readTree(started.out().strip()).get("id").asText();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                cluster.task(sid, slowId).get("bytesTransferred").asLong()
                    >= (ClusterFixture.S3 ? size * 7 / 12 : size / 4));
    Run canceled = transfer(env, "cancel", slowId, "--resume-data");
    assertThat(canceled.exit()).as("stderr: %s", canceled.err()).isZero();
    Matcher m = Pattern.compile("--resume-data (\\S+)").matcher(canceled.out());
    assertThat(m.find()).as("the command to continue it: %s", canceled.out()).isTrue();
    Run continued = transfer(env, "download", "--json", "--resume-data", m.group(1));
    assertThat(continued.exit()).as("stderr: %s", continued.err()).isZero();
    JsonNode c = JSON.readTree(continued.out().strip());
    assertThat(c.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 50));
    assertThat(origin.requests())
        .filteredOn(r -> (r.path() + "?" + r.query()).equals(slow))
        .as("the continuation asked for the rest")
        .anySatisfy(r -> assertThat(r.range()).startsWith("bytes="));

    Path copy = Files.createTempFile("cli-content", ".bin");
    try {
      Run content = transfer(env, "content", c.get("id").asText(), "-o", copy.toString());
      assertThat(content.exit()).as("stderr: %s", content.err()).isZero();
      assertThat(content.out()).contains("sha256 " + Origin.sha256Hex(size, 50));
      assertThat(sha256(copy)).isEqualTo(Origin.sha256Hex(size, 50));
    } finally {
      Files.deleteIfExists(copy);
    }
  }

  private static String sha256(Path file) throws Exception {
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buf = new byte[65536];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }

  /**
   * A person at a terminal: in tmux, a download of about 4 s shows a bar that moves (two different
   * percentages between 1 and 99 on screen), then the final line with where the bytes are and their
   * SHA-256, and the shell sees exit code 0.
   */
  @Test
  void aTerminalShowsTheBarMoveAndTheFinalLine() throws Exception {
    boolean ci = "true".equals(System.getenv("CI"));
    if (!ci) {
      Assumptions.assumeTrue(TestFiles.onPath("tmux"), "tmux is not on the PATH");
    }
    String socket = "transfer-cli-it-" + ProcessHandle.current().pid();
    String sid = session();
    long size = 4L << 20;
    String url = origin.url("/bytes/" + size + "?seed=44&rate=" + (1L << 20));
    try {
      tmux(
          socket,
          "new-session",
          "-d",
          "-s",
          "cli",
          "-x",
          "160",
          "-y",
          "20",
          "-e",
          "TRANSFER_API_URL=http://127.0.0.1:" + cluster.apiPort,
          "-e",
          "TRANSFER_API_KEY=" + ClusterFixture.API_KEY,
          "-e",
          "TRANSFER_SESSION=" + sid,
          "-e",
          "TERM=xterm-256color",
          "-c",
          ROOT.toString(),
          "bash --norc --noprofile");
      tmux(
          socket,
          "send-keys",
          "-t",
          "cli",
          "./transfer download '" + url + "'; echo EXIT=$?",
          "Enter");

      Pattern bar = Pattern.compile("download \\S+ \\[[#> ]{24}\\]\\s+(\\d+)%");
      List<Integer> percents = new ArrayList<>();
      String screen = "";
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      // The typed command line shows "EXIT=$?"; the shell's answer "EXIT=<digits>".
      Pattern exit = Pattern.compile("^EXIT=(\\d+)$", Pattern.MULTILINE);
      while (!exit.matcher(screen).find() && System.nanoTime() < deadline) {
        screen = tmux(socket, "capture-pane", "-p", "-J", "-t", "cli");
        Matcher m = bar.matcher(screen);
        while (m.find()) {
          percents.add(Integer.parseInt(m.group(1)));
        }
        Thread.sleep(150);
      }
      String last = screen;
      Matcher code = exit.matcher(last);
      assertThat(code.find()).as("the command ended; screen:%n%s", last).isTrue();
      assertThat(code.group(1)).as("its exit code; screen:%n%s", last).isEqualTo("0");
      assertThat(percents.stream().filter(p -> p >= 1 && p <= 99).distinct())
          .as("percentages between 1 and 99 the bar showed while it ran (all seen: %s)", percents)
          .hasSizeGreaterThanOrEqualTo(2);
      String finalLine =
          last.lines()
              .filter(l -> l.startsWith("completed: "))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no final line on the screen:\n" + last));
      assertThat(finalLine)
          .startsWith("completed: 4.0 MiB in ")
          .contains("sha256 " + Origin.sha256Hex(size, 44))
          .contains(ClusterFixture.S3 ? "stored at s3://" : "stored at file:");
      assertThat(bar.matcher(last).find()).as("the bar is cleared at the end").isFalse();
    } finally {
      try {
        tmux(socket, "kill-server");
      } catch (Exception | AssertionError e) {
        // the server may not have started
      }
    }
  }

  private static String idIn(String finalLine) {
    Matcher m = Pattern.compile("\\(task ([0-9a-f-]{36})\\)").matcher(finalLine);
    assertThat(m.find()).as("a task id in: %s", finalLine).isTrue();
    return m.group(1);
  }

  private static String tmux(String socket, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("tmux", "-L", socket));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("tmux " + String.join(" ", args) + " failed: " + out);
    }
    return out;
  }
}
