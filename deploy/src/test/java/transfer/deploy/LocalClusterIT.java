package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.TestFiles;

/**
 * The one-command local cluster as a user runs it: the launcher as its own process, on its own
 * ports and data directory. It restarts a killed worker, leaves no process behind on SIGTERM, finds
 * its sessions again after a restart, and refuses a taken port with one clear line.
 */
class LocalClusterIT {
  private static final Path ROOT =
      Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath().normalize();
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<Process> started = new ArrayList<>();
  private final List<Path> dataDirs = new ArrayList<>();

  /** After a failed test too: stop what the test started, gently first, so nothing outlives it. */
  @AfterEach
  void stopLeftovers() throws Exception {
    for (Process p : started) {
      if (p.isAlive()) {
        p.destroy();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
        }
      }
    }
    // PostgreSQL is detached by pg_ctl; if the launcher could not stop it, this test does. Then
    // the data directory goes (a failure has shown the launcher's output by then).
    for (Path data : dataDirs) {
      if (Files.exists(data.resolve("postgres/postmaster.pid"))) {
        Optional<ProcessHandle> postmaster = ProcessHandle.of(postmasterPid(data));
        if (postmaster.isPresent()) {
          postmaster.get().destroy();
          postmaster.get().onExit().get(60, TimeUnit.SECONDS);
        }
      }
      TestFiles.deleteTree(data);
    }
  }

  @Test
  void runsRestartsAWorkerStopsCleanlyAndKeepsItsData() throws Exception {
    Path data = Files.createTempDirectory("local-cluster-it");
    dataDirs.add(data);
    Map<String, String> env = env(data);
    int apiPort = Integer.parseInt(env.get("TRANSFER_API_PORT"));
    int workerPort = Integer.parseInt(env.get("TRANSFER_WORKER_BASE_PORT"));

    Path out1 = data.resolve("launcher-1.out");
    Process launcher = launch(env, out1);
    awaitOutput(out1, "The transfer cluster is running.", Duration.ofMinutes(3));
    assertThat(put(apiPort, "/v1/sessions/kept")).isEqualTo(201);
    assertThat(status("http://127.0.0.1:" + workerPort + "/q/health/ready")).isEqualTo(200);

    // A worker that dies is reported and replaced, as Kubernetes would restart a pod.
    ProcessHandle worker = workerOf(launcher).orElseThrow();
    worker.destroyForcibly();
    awaitOutput(out1, "exited with code 137; starting a new one", Duration.ofSeconds(30));
    await()
        .atMost(Duration.ofMinutes(2))
        .until(
            () ->
                workerOf(launcher).map(w -> w.pid() != worker.pid()).orElse(false)
                    && status("http://127.0.0.1:" + workerPort + "/q/health/ready") == 200);

    // SIGTERM stops everything it started, PostgreSQL (which pg_ctl detaches) included.
    List<ProcessHandle> children = launcher.descendants().toList();
    long postgresPid = postmasterPid(data);
    launcher.destroy();
    assertThat(launcher.waitFor(90, TimeUnit.SECONDS)).isTrue();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                children.stream().noneMatch(ProcessHandle::isAlive)
                    && ProcessHandle.of(postgresPid).map(p -> !p.isAlive()).orElse(true));
    assertThat(Files.readString(out1)).contains("Stopped.");

    // Started again on the same data directory, it finds its earlier session.
    Path out2 = data.resolve("launcher-2.out");
    Process again = launch(env, out2);
    awaitOutput(out2, "The transfer cluster is running.", Duration.ofMinutes(3));
    assertThat(status("http://127.0.0.1:" + apiPort + "/v1/sessions/kept", "it-key"))
        .isEqualTo(200);
    again.destroy();
    assertThat(again.waitFor(90, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aTakenPortIsOneClearLineNotAStackTrace() throws Exception {
    Path data = Files.createTempDirectory("local-cluster-it-port");
    dataDirs.add(data);
    Map<String, String> env = env(data);
    try (ServerSocket taken =
        new ServerSocket(
            Integer.parseInt(env.get("TRANSFER_API_PORT")), 1, InetAddress.getLoopbackAddress())) {
      Path out = data.resolve("launcher.out");
      Process launcher = launch(env, out);
      assertThat(launcher.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String said = Files.readString(out);
      assertThat(launcher.exitValue()).isEqualTo(2);
      assertThat(said)
          .contains("TRANSFER_API_PORT")
          .doesNotContain("Exception")
          .doesNotContain("\tat ");
    }
  }

  /**
   * {@code TRANSFER_KAFKA_SECURITY=sasl_ssl}: the cluster runs end to end on a broker that takes
   * SASL_SSL only, each service as its own principal with its own ACLs; Kafka's own console
   * consumer reads the task's events with the properties file the launcher wrote; a plaintext
   * client is refused, and the workers' principal cannot write events.
   */
  @Test
  void securedKafkaRunsTheClusterAndTheConsoleConsumerReadsItsEvents() throws Exception {
    Path data = Files.createTempDirectory("local-cluster-it-secured");
    dataDirs.add(data);
    try (Origin origin = Origin.start()) {
      Map<String, String> env = env(data);
      env.put("TRANSFER_KAFKA_SECURITY", "sasl_ssl");
      env.put("TRANSFER_FETCH_ALLOWED_DESTINATIONS", "127.0.0.1:" + origin.port());
      int apiPort = Integer.parseInt(env.get("TRANSFER_API_PORT"));
      String bootstrap = "127.0.0.1:" + env.get("TRANSFER_KAFKA_PORT");

      Path out = data.resolve("launcher.out");
      Process launcher = launch(env, out);
      awaitOutput(out, "The transfer cluster is running.", Duration.ofMinutes(3));
      Path clientProperties = data.resolve("kafka-client.properties");
      assertThat(Files.readString(out))
          .contains("SASL_SSL only")
          .contains(clientProperties.toString());
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(clientProperties)))
          .isEqualTo("rw-------");

      assertThat(put(apiPort, "/v1/sessions/secured")).isEqualTo(201);
      String body =
          "{\"type\":\"download\",\"url\":\""
              + origin.url("/bytes/65536?seed=19")
              + "\",\"sha256\":\""
              + Origin.sha256Hex(65536, 19)
              + "\"}";
      HttpResponse<String> created =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + apiPort + "/v1/sessions/secured/tasks"))
                  .header("Authorization", "Bearer it-key")
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(created.statusCode()).isEqualTo(201);
      String taskId = new ObjectMapper().readTree(created.body()).path("id").asText();
      assertThat(taskId).isNotBlank();

      // Kafka's console consumer, as the README runs it, with the launcher's properties file.
      Path consumed = data.resolve("console-consumer.out");
      Process console =
          new ProcessBuilder(
                  ProcessHandle.current().info().command().orElse("java"),
                  "-cp",
                  ROOT.resolve("deploy/target/lib/*").toString(),
                  "org.apache.kafka.tools.consumer.ConsoleConsumer",
                  "--bootstrap-server",
                  bootstrap,
                  "--topic",
                  "transfer-events",
                  "--from-beginning",
                  "--consumer.config",
                  clientProperties.toString())
              .redirectErrorStream(true)
              .redirectOutput(consumed.toFile())
              .start();
      started.add(console);
      await()
          .atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () ->
                  Files.readAllLines(consumed).stream()
                      .anyMatch(
                          l ->
                              l.contains("transfer.task.completed")
                                  && l.contains(taskId)
                                  && l.contains("\"state\":\"completed\"")));
      console.destroy();

      // Without SASL_SSL nothing is answered; the workers' principal may not write events.
      Map<String, Object> plaintext = new HashMap<>();
      plaintext.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      plaintext.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, 2_000);
      plaintext.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, 4_000);
      try (Admin admin = Admin.create(plaintext)) {
        assertThatThrownBy(() -> admin.listTopics().names().get(10, TimeUnit.SECONDS))
            .isInstanceOf(ExecutionException.class);
      }
      Properties worker = new Properties();
      try (var in = Files.newBufferedReader(clientProperties)) {
        worker.load(in);
      }
      String workerPassword =
          Files.readString(data.resolve("kafka-security/transfer-worker.password")).trim();
      worker.put(
          "sasl.jaas.config",
          "org.apache.kafka.common.security.scram.ScramLoginModule required"
              + " username=\"transfer-worker\" password=\""
              + workerPassword
              + "\";");
      worker.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      worker.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      worker.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
      worker.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10_000);
      worker.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
      try (KafkaProducer<String, String> forger = new KafkaProducer<>(worker)) {
        assertThatThrownBy(
                () ->
                    forger
                        .send(new ProducerRecord<>("transfer-events", "secured", "{}"))
                        .get(20, TimeUnit.SECONDS))
            .hasRootCauseInstanceOf(TopicAuthorizationException.class);
      }

      launcher.destroy();
      assertThat(launcher.waitFor(90, TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * {@code TRANSFER_STORAGE=s3}: the launcher runs an S3 API server (over HTTPS with {@code
   * TRANSFER_S3_TLS=true}, whose CA the services trust), the banner says where, a download lands in
   * its bucket (a file of S3Proxy's store, under the data directory) and is served back by the API,
   * and the server stops with the cluster.
   */
  @Test
  void s3StorageRunsTheClusterOnTheLaunchersS3Server() throws Exception {
    Path data = Files.createTempDirectory("local-cluster-it-s3");
    dataDirs.add(data);
    try (Origin origin = Origin.start()) {
      Map<String, String> env = env(data);
      int s3Port = ClusterFixture.freePort();
      env.put("TRANSFER_STORAGE", "s3");
      env.put("TRANSFER_S3_PORT", String.valueOf(s3Port));
      env.put("TRANSFER_S3_TLS", "true");
      env.put("TRANSFER_FETCH_ALLOWED_DESTINATIONS", "127.0.0.1:" + origin.port());
      int apiPort = Integer.parseInt(env.get("TRANSFER_API_PORT"));

      Path out = data.resolve("launcher.out");
      Process launcher = launch(env, out);
      awaitOutput(out, "The transfer cluster is running.", Duration.ofMinutes(3));
      assertThat(Files.readString(out))
          .contains("s3://transfer/objects")
          .contains("S3 API at https://127.0.0.1:" + s3Port);
      assertThat(
              PosixFilePermissions.toString(
                  Files.getPosixFilePermissions(data.resolve("s3-credentials/secret-key"))))
          .isEqualTo("rw-------");

      assertThat(put(apiPort, "/v1/sessions/s3")).isEqualTo(201);
      long size = 7L << 20;
      String body =
          "{\"type\":\"download\",\"url\":\""
              + origin.url("/bytes/" + size + "?seed=23")
              + "\",\"sha256\":\""
              + Origin.sha256Hex(size, 23)
              + "\"}";
      HttpResponse<String> created =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + apiPort + "/v1/sessions/s3/tasks"))
                  .header("Authorization", "Bearer it-key")
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(created.statusCode()).isEqualTo(201);
      String taskId = new ObjectMapper().readTree(created.body()).path("id").asText();
      URI task = URI.create("http://127.0.0.1:" + apiPort + "/v1/sessions/s3/tasks/" + taskId);
      String[] location = {null};
      await()
          .atMost(Duration.ofMinutes(1))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                var t =
                    new ObjectMapper()
                        .readTree(
                            http.send(
                                    HttpRequest.newBuilder(task)
                                        .header("Authorization", "Bearer it-key")
                                        .build(),
                                    HttpResponse.BodyHandlers.ofString())
                                .body());
                location[0] = t.path("location").asText(null);
                return t.path("state").asText().equals("completed");
              });
      assertThat(location[0]).isEqualTo("s3://transfer/objects/default/s3/" + taskId + ".e1");
      // S3Proxy's file-system store: the object is a file of the bucket's directory.
      assertThat(Files.size(data.resolve("s3/transfer/objects/default/s3/" + taskId + ".e1")))
          .isEqualTo(size);
      HttpResponse<byte[]> content =
          http.send(
              HttpRequest.newBuilder(URI.create(task + "/content"))
                  .header("Authorization", "Bearer it-key")
                  .build(),
              HttpResponse.BodyHandlers.ofByteArray());
      assertThat(content.statusCode()).isEqualTo(200);
      assertThat(
              java.util.HexFormat.of()
                  .formatHex(
                      java.security.MessageDigest.getInstance("SHA-256").digest(content.body())))
          .isEqualTo(Origin.sha256Hex(size, 23));

      launcher.destroy();
      assertThat(launcher.waitFor(90, TimeUnit.SECONDS)).isTrue();
      assertThat(Files.readString(out)).contains("S3 API server stopped");
    }
  }

  // ------------------------------------------------------------------ helpers

  private Map<String, String> env(Path data) throws IOException {
    Map<String, String> env = new HashMap<>();
    env.put("TRANSFER_DATA_DIR", data.toString());
    env.put("TRANSFER_API_PORT", String.valueOf(ClusterFixture.freePort()));
    env.put("TRANSFER_KAFKA_PORT", String.valueOf(ClusterFixture.freePort()));
    env.put("TRANSFER_DB_PORT", String.valueOf(ClusterFixture.freePort()));
    env.put("TRANSFER_WORKER_BASE_PORT", String.valueOf(ClusterFixture.freePort()));
    env.put("TRANSFER_WORKERS", "1");
    env.put("TRANSFER_API_KEY", "it-key");
    env.put("TRANSFER_JVM_OPTS", "-Xmx256m");
    return env;
  }

  private Process launch(Map<String, String> env, Path out) throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(
                ProcessHandle.current().info().command().orElse("java"),
                "-Dtransfer.project.root=" + ROOT,
                "-cp",
                ROOT.resolve("deploy/target/classes") + ":" + ROOT.resolve("deploy/target/lib/*"),
                "transfer.deploy.LocalCluster")
            .redirectErrorStream(true)
            .redirectOutput(out.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    started.add(p);
    return p;
  }

  /**
   * Waits until the launcher's output says {@code text}. When it does not, the failure shows the
   * end of that output (the data directory, with its logs, is deleted after the test), and a
   * launcher that exited meanwhile fails at once rather than after the whole timeout.
   */
  private void awaitOutput(Path out, String text, Duration timeout) {
    try {
      await()
          .atMost(timeout)
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                boolean said = Files.exists(out) && Files.readString(out).contains(text);
                if (!said && !started.isEmpty() && !started.get(started.size() - 1).isAlive()) {
                  throw new AssertionError("the launcher exited before saying: " + text);
                }
                return said;
              });
    } catch (AssertionError | org.awaitility.core.ConditionTimeoutException e) {
      String output;
      try {
        output = Files.exists(out) ? Files.readString(out) : "(no output)";
      } catch (IOException io) {
        output = "(unreadable: " + io + ")";
      }
      throw new AssertionError(
          e.getMessage()
              + "; the launcher's last output:\n"
              + output.substring(Math.max(0, output.length() - 4000)),
          e);
    }
  }

  private static java.util.Optional<ProcessHandle> workerOf(Process launcher) {
    return launcher
        .descendants()
        .filter(h -> h.info().commandLine().orElse("").contains("worker-service"))
        .filter(h -> h.info().command().orElse("").endsWith("java"))
        .findFirst();
  }

  private static long postmasterPid(Path data) throws IOException {
    Path pidFile = data.resolve("postgres/postmaster.pid");
    return Long.parseLong(Files.readAllLines(pidFile).get(0).trim());
  }

  private int put(int port, String path) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer it-key")
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString("{}"))
            .build();
    return http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private int status(String url) {
    return status(url, null);
  }

  private int status(String url, String key) {
    try {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5));
      if (key != null) {
        b.header("Authorization", "Bearer " + key);
      }
      return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }
}
