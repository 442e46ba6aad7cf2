package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * Records on {@code transfer-tasks} that are no doorbell, on the real cluster (api-service and two
 * workers as processes, a real broker): each goes to {@code transfer-tasks-dlq} with its key, value
 * and headers and headers naming where it came from and why, the worker says so in one WARN line,
 * commits past it and stays healthy, and downloads submitted afterwards complete. The download
 * carries credentials in its headers and URL, and none of them appears in any service's log.
 */
class DeadLetterClusterIT extends ClusterTest {
  private static final String WORKER_GROUP = "transfer-workers";
  private static final Pattern LISTENING = Pattern.compile("Listening on: http://[^:]+:(\\d+)");

  /** One garbage record: what it is, its value, and the error code a worker must name. */
  private record Garbage(String name, byte[] value, String error) {}

  /** Where a garbage record landed on transfer-tasks. */
  private record Sent(Garbage garbage, byte[] key, int partition, long offset) {}

  @Test
  void unreadableDoorbellsGoToTheDeadLetterTopicAndTheWorkersCarryOn() throws Exception {
    String bootstrap = cluster.infra.kafkaBootstrap();
    String tag = UUID.randomUUID().toString().substring(0, 8);
    List<Garbage> garbage =
        List.of(
            new Garbage("not JSON", bytes("this is not a doorbell " + tag), "not_json"),
            new Garbage(
                "JSON of another shape",
                bytes("{\"order\":17,\"tag\":\"" + tag + "\"}"),
                "wrong_shape"),
            new Garbage("a JSON array", bytes("[1,2,3]"), "wrong_shape"),
            new Garbage(
                "no task id", bytes("{\"taskId\":\"x\",\"sessionId\":\"s\"}"), "wrong_shape"),
            new Garbage("JSON null", bytes("null"), "wrong_shape"),
            new Garbage("an empty value", new byte[0], "empty"),
            new Garbage("a tombstone", null, "empty"),
            new Garbage(
                "invalid UTF-8", new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3}, "not_json"),
            new Garbage("a huge value", bytes("x".repeat(1_000_000)), "not_json"),
            // So close to the broker's limit that the copy, with its headers, no longer fits.
            new Garbage("a value at the limit", bytes("z".repeat(1_048_376)), "not_json"));

    // Garbage on several partitions, so both workers meet some.
    List<Sent> sent = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(producerProperties(bootstrap))) {
      for (int i = 0; i < garbage.size(); i++) {
        Garbage g = garbage.get(i);
        byte[] key = bytes("garbage-" + tag + "-" + i);
        ProducerRecord<byte[], byte[]> r =
            new ProducerRecord<>(
                TestInfra.TASKS_TOPIC, i % TestInfra.TOPIC_PARTITIONS, key, g.value());
        r.headers().add("origin", bytes("DeadLetterClusterIT"));
        RecordMetadata m = producer.send(r).get();
        sent.add(new Sent(g, key, m.partition(), m.offset()));
      }
    }

    // Each one arrives on the dead-letter topic, whole, and says where it came from and why.
    Map<String, ConsumerRecord<byte[], byte[]>> dead = readDeadLetters(bootstrap, sent);
    for (Sent s : sent) {
      ConsumerRecord<byte[], byte[]> d = dead.get(s.partition() + "/" + s.offset());
      assertThat(d).as("%s on the dead-letter topic", s.garbage().name()).isNotNull();
      assertThat(d.key()).as(s.garbage().name()).isEqualTo(s.key());
      assertThat(header(d, "dlq.original.topic")).isEqualTo("transfer-tasks");
      assertThat(header(d, "dlq.error")).as(s.garbage().name()).isEqualTo(s.garbage().error());
      assertThat(header(d, "dlq.error.message")).as(s.garbage().name()).isNotBlank();
      assertThat(header(d, "dlq.worker")).isIn("it-worker-1", "it-worker-2");
      assertThat(header(d, "dlq.original.timestamp")).matches("\\d+");
      assertThat(header(d, "origin")).isEqualTo("DeadLetterClusterIT");
      if (s.garbage().name().equals("a value at the limit")) {
        assertThat(header(d, "dlq.value.truncated")).isEqualTo("true");
        assertThat(header(d, "dlq.value.size")).isEqualTo("1048376");
        assertThat(d.value()).hasSize(512 * 1024);
        assertThat(Arrays.equals(d.value(), 0, 100, s.garbage().value(), 0, 100)).isTrue();
      } else {
        assertThat(d.headers().lastHeader("dlq.value.truncated")).isNull();
        assertThat(d.value()).as(s.garbage().name()).isEqualTo(s.garbage().value());
      }
    }

    // The workers committed past every one of them ...
    try (Admin admin =
        Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                Map<TopicPartition, OffsetAndMetadata> committed =
                    admin
                        .listConsumerGroupOffsets(WORKER_GROUP)
                        .partitionsToOffsetAndMetadata()
                        .get();
                for (Sent s : sent) {
                  OffsetAndMetadata c =
                      committed.get(new TopicPartition(TestInfra.TASKS_TOPIC, s.partition()));
                  assertThat(c).as("committed offset of partition %d", s.partition()).isNotNull();
                  assertThat(c.offset()).as(s.garbage().name()).isGreaterThan(s.offset());
                }
              });
    }
    // ... said so in one WARN line each, naming partition, offset, why and where it went ...
    String workerLogs = workerLogs();
    for (Sent s : sent) {
      assertThat(workerLogs)
          .as("the WARN line about %s", s.garbage().name())
          .containsPattern(
              Pattern.quote(
                      "WARN  [tr.wo.cl.DoorbellConsumer] (doorbell-consumer) doorbell at"
                          + " transfer-tasks-"
                          + s.partition()
                          + " offset "
                          + s.offset()
                          + " (key garbage-"
                          + tag)
                  + ".*is unreadable: "
                  + s.garbage().error()
                  + ".*Moved to transfer-tasks-dlq-0 offset \\d+; the partition goes on");
    }
    assertThat(workerLogs).doesNotContain("doorbell consumer failed");
    // ... and are healthy.
    for (ServiceProcess w : cluster.workers) {
      assertThat(w.isAlive()).as(w.name()).isTrue();
      assertThat(ready(w)).as("readiness of %s", w.name()).isEqualTo(200);
    }

    // Downloads submitted afterwards complete (their doorbells share partitions with the garbage).
    // They carry credentials: in the session's and the task's headers, and in the URL's query.
    String sessionSecret = "s3cr3t-session-" + tag;
    String taskSecret = "s3cr3t-task-" + tag;
    String urlSecret = "s3cr3t-url-" + tag;
    String sid = "dlq-" + tag;
    ApiClient.Answer a =
        cluster.call(
            "PUT",
            "/v1/sessions/" + sid,
            "{\"headers\":{\"X-Api-Key\":\"" + sessionSecret + "\"}}");
    assertThat(a.status()).as("%s", a.body()).isEqualTo(201);
    List<String> tasks = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      JsonNode t =
          cluster.submit(
              sid,
              "{\"type\":\"download\",\"url\":\""
                  + origin.url("/bytes/" + (4096 + i) + "?seed=" + i + "&token=" + urlSecret)
                  + "\",\"headers\":{\"Authorization\":\"Bearer "
                  + taskSecret
                  + "\"}}");
      assertThat(t.path("headers").path("Authorization").asText()).isEqualTo("***");
      tasks.add(t.get("id").asText());
    }
    for (int i = 0; i < tasks.size(); i++) {
      JsonNode done = cluster.awaitFinal(sid, tasks.get(i), Duration.ofSeconds(60));
      assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
      assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(4096 + i, i));
    }
    // No credential in any service's log (the workers log the URL without its query).
    assertThat(workerLogs()).as("the workers logged these tasks").contains(tasks.get(0));
    for (ServiceProcess p : allServices()) {
      String log = Files.readString(p.logFile(), StandardCharsets.UTF_8);
      for (String secret : List.of(sessionSecret, taskSecret, urlSecret)) {
        assertThat(log).as("log of %s", p.name()).doesNotContain(secret);
      }
    }
  }

  /**
   * While the dead-letter topic cannot be written (here: it does not exist), an unreadable doorbell
   * is not skipped: its partition waits at it, the worker says so and stays healthy, and retries
   * with a backoff; once the topic is back, the record moves and the partition goes on.
   */
  @Test
  void anUnreadableDoorbellThatCannotBeMovedHoldsItsPartitionUntilItCan() throws Exception {
    String bootstrap = cluster.infra.kafkaBootstrap();
    String tag = UUID.randomUUID().toString().substring(0, 8);
    int partition = 5;
    TopicPartition tp = new TopicPartition(TestInfra.TASKS_TOPIC, partition);
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
        KafkaProducer<byte[], byte[]> producer =
            new KafkaProducer<>(producerProperties(bootstrap))) {
      admin.deleteTopics(List.of(TestInfra.DEAD_LETTERS_TOPIC)).all().get();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> !admin.listTopics().names().get().contains(TestInfra.DEAD_LETTERS_TOPIC));
      long bad;
      long next;
      try {
        bad =
            producer
                .send(
                    new ProducerRecord<>(
                        TestInfra.TASKS_TOPIC,
                        partition,
                        bytes("held-" + tag),
                        bytes("held " + tag)))
                .get()
                .offset();
        // A well-formed doorbell behind it (it names no task, so claiming finds nothing new).
        next =
            producer
                .send(
                    new ProducerRecord<>(
                        TestInfra.TASKS_TOPIC,
                        partition,
                        bytes("next-" + tag),
                        bytes(
                            "{\"taskId\":\""
                                + UUID.randomUUID()
                                + "\",\"sessionId\":\"dlq-"
                                + tag
                                + "\"}")))
                .get()
                .offset();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    workerLogs()
                        .contains(
                            "doorbell at transfer-tasks-"
                                + partition
                                + " offset "
                                + bad
                                + " is unreadable (not_json) and could not be moved"));
        // Held: nothing at or after the bad record is committed, through a second try, which
        // waits twice as long.
        Pattern secondTry =
            Pattern.compile(
                "doorbell at transfer-tasks-"
                    + partition
                    + " offset "
                    + bad
                    + " is unreadable \\(not_json\\) and could not be moved.*tries again in 2 s");
        await().atMost(Duration.ofSeconds(30)).until(() -> secondTry.matcher(workerLogs()).find());
        OffsetAndMetadata held = committed(admin, tp);
        assertThat(held == null ? 0 : held.offset())
            .as("committed offset while held")
            .isLessThanOrEqualTo(bad);
        assertThat(workerLogs())
            .containsPattern(
                "offset "
                    + bad
                    + " is unreadable \\(not_json\\) and could not be moved to transfer-tasks-dlq \\(.*\\); the partition waits at it and tries again in \\d+ s");
        for (ServiceProcess w : cluster.workers) {
          assertThat(ready(w))
              .as("readiness of %s while a partition is held", w.name())
              .isEqualTo(200);
        }
      } finally {
        createDeadLetterTopic(admin);
      }
      // Back: the record moves (within the backoff, at most 30 s) and the partition goes on.
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                OffsetAndMetadata c = committed(admin, tp);
                assertThat(c).isNotNull();
                assertThat(c.offset())
                    .as("committed offset after the topic is back")
                    .isGreaterThan(next);
              });
      assertThat(workerLogs()).contains("(key held-" + tag + ") is unreadable: not_json");
    }
  }

  // ------------------------------------------------------------------ helpers

  /** The dead-letter records of the given originals, by "partition/offset" of the original. */
  private static Map<String, ConsumerRecord<byte[], byte[]>> readDeadLetters(
      String bootstrap, List<Sent> sent) {
    Map<String, ConsumerRecord<byte[], byte[]>> found = new HashMap<>();
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 * 1024 * 1024);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      TopicPartition dlq = new TopicPartition(TestInfra.DEAD_LETTERS_TOPIC, 0);
      consumer.assign(List.of(dlq));
      consumer.seekToBeginning(List.of(dlq));
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (found.size() < sent.size() && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if ("transfer-tasks".equals(header(r, "dlq.original.topic"))) {
            String at =
                header(r, "dlq.original.partition") + "/" + header(r, "dlq.original.offset");
            if (sent.stream().anyMatch(s -> (s.partition() + "/" + s.offset()).equals(at))) {
              found.put(at, r);
            }
          }
        }
      }
    }
    return found;
  }

  private static OffsetAndMetadata committed(Admin admin, TopicPartition tp) throws Exception {
    return admin
        .listConsumerGroupOffsets(WORKER_GROUP)
        .partitionsToOffsetAndMetadata()
        .get()
        .get(tp);
  }

  /** Creates the dead-letter topic again; a deletion still under way refuses it for a moment. */
  private static void createDeadLetterTopic(Admin admin) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              try {
                admin
                    .createTopics(List.of(new NewTopic(TestInfra.DEAD_LETTERS_TOPIC, 1, (short) 1)))
                    .all()
                    .get();
                return true;
              } catch (java.util.concurrent.ExecutionException e) {
                return e.getCause() instanceof TopicExistsException
                    && admin.listTopics().names().get().contains(TestInfra.DEAD_LETTERS_TOPIC);
              }
            });
  }

  private static Properties producerProperties(String bootstrap) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    return p;
  }

  private static List<ServiceProcess> allServices() {
    List<ServiceProcess> all = new ArrayList<>(cluster.workers);
    all.add(cluster.api);
    return all;
  }

  private static String workerLogs() throws Exception {
    StringBuilder all = new StringBuilder();
    for (ServiceProcess w : cluster.workers) {
      all.append(Files.readString(w.logFile(), StandardCharsets.UTF_8));
    }
    return all.toString();
  }

  /** The status of the worker's readiness check, on the port its log says it listens on. */
  private static int ready(ServiceProcess worker) throws Exception {
    Matcher m = LISTENING.matcher(Files.readString(worker.logFile(), StandardCharsets.UTF_8));
    String port = null;
    while (m.find()) {
      port = m.group(1);
    }
    assertThat(port).as("the port in the log of %s", worker.name()).isNotNull();
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    var h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
