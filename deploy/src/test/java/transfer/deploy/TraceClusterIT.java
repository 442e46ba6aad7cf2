package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.OtlpCollector;
import transfer.testkit.TestInfra;

/**
 * One trace from the REST call to the completion event, as an operator's collector receives it: the
 * services export over OTLP to a real receiver on loopback ({@link OtlpCollector}), the context
 * travels through the ledger, the outbox, Kafka's record headers and the worker, and the JSON log
 * lines about the task carry the same trace id. Nothing of it reaches the origin.
 */
class TraceClusterIT extends ClusterTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aDownloadIsOneTraceFromTheClientsRequestToItsCompletionEvent() throws Exception {
    String clientTrace = hex(16);
    String clientSpan = hex(8);
    long size = 3L << 20;
    String sid = cluster.newSession("trace", "{}");
    String tid =
        submit(
            sid,
            origin.url("/bytes/" + size + "?seed=71"),
            Map.of("traceparent", "00-" + clientTrace + "-" + clientSpan + "-01"));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("completed");
    assertThat(task.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 71));

    // Every span of the trace, until the relay's span of the completion event and the worker's
    // span of the attempt arrived: two processes export them, in either order.
    Predicate<OtlpCollector.Span> completionSend =
        s ->
            s.kind().equals("PRODUCER")
                && "transfer.task.completed".equals(s.attribute("cloudevents.event_type"));
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                cluster.collector.trace(clientTrace).stream().anyMatch(completionSend)
                    && cluster.collector.trace(clientTrace).stream()
                        .anyMatch(s -> s.name().equals("download")));
    List<OtlpCollector.Span> trace = cluster.collector.trace(clientTrace);
    String shape = describe(trace);

    OtlpCollector.Span server =
        one(
            trace,
            s -> s.kind().equals("SERVER") && tid.equals(s.attribute("transfer.task.id")),
            shape);
    assertThat(server.name()).isEqualTo("POST /v1/sessions/{sid}/tasks");
    assertThat(server.serviceName()).isEqualTo("transfer-api");
    assertThat(server.parentSpanId()).as("the client's span is the parent").isEqualTo(clientSpan);
    assertThat(server.attribute("http.response.status_code")).isEqualTo("201");
    assertThat(server.attribute("transfer.session.id")).isEqualTo(sid);
    assertThat(server.attribute("transfer.tenant")).isEqualTo("default");

    OtlpCollector.Span doorbell =
        one(
            trace,
            s -> s.kind().equals("PRODUCER") && s.name().equals("send transfer-tasks"),
            shape);
    assertThat(doorbell.serviceName()).isEqualTo("transfer-api");
    assertThat(doorbell.parentSpanId()).isEqualTo(server.spanId());
    assertThat(doorbell.attribute("transfer.task.id")).isEqualTo(tid);

    OtlpCollector.Span consumer = one(trace, s -> s.kind().equals("CONSUMER"), shape);
    assertThat(consumer.name()).isEqualTo("process transfer-tasks");
    assertThat(consumer.serviceName()).isEqualTo("transfer-worker");
    assertThat(consumer.parentSpanId())
        .as("the doorbell's span is the parent")
        .isEqualTo(doorbell.spanId());
    assertThat(consumer.attribute("transfer.claimed")).isEqualTo("true");

    OtlpCollector.Span attempt = one(trace, s -> s.name().equals("download"), shape);
    assertThat(attempt.serviceName()).isEqualTo("transfer-worker");
    assertThat(attempt.parentSpanId()).isEqualTo(consumer.spanId());
    assertThat(attempt.attribute("transfer.task.id")).isEqualTo(tid);
    assertThat(attempt.attribute("transfer.session.id")).isEqualTo(sid);
    assertThat(attempt.attribute("transfer.tenant")).isEqualTo("default");
    assertThat(attempt.attribute("transfer.outcome")).isEqualTo("completed");
    assertThat(attempt.attributes()).containsEntry("transfer.bytes", size);
    assertThat(attempt.attributes()).doesNotContainKey("transfer.error.code");

    OtlpCollector.Span completion = one(trace, completionSend, shape);
    assertThat(completion.serviceName()).isEqualTo("transfer-api");
    assertThat(completion.name()).isEqualTo("send transfer-events");
    assertThat(completion.parentSpanId()).as("the attempt wrote it").isEqualTo(attempt.spanId());
    assertThat(completion.attribute("cloudevents.event_id")).isEqualTo(tid + ":completed");
    // The attempt's progress and downloaded events are its children too; no span per chunk.
    assertThat(trace)
        .filteredOn(s -> s.name().equals("send transfer-events"))
        .allMatch(s -> s.parentSpanId().equals(attempt.spanId()), shape);
    assertThat(trace).hasSizeLessThan(12);

    // The completion record on transfer-events carries that span's context in its headers.
    ConsumerRecord<byte[], byte[]> record = completionRecord(sid, tid);
    String traceparent = header(record, "traceparent");
    assertThat(traceparent).isEqualTo("00-" + clientTrace + "-" + completion.spanId() + "-01");

    // No origin ever learns an internal trace id.
    assertThat(origin.requests())
        .filteredOn(r -> r.path().startsWith("/bytes/" + size))
        .isNotEmpty()
        .allSatisfy(
            r ->
                assertThat(r.headerNames()).doesNotContain("traceparent", "tracestate", "baggage"));

    // The JSON log lines about the task, in the API and in the worker, carry the trace.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              List<JsonNode> api = linesAbout(List.of(cluster.api), tid);
              List<JsonNode> workers = linesAbout(cluster.workers, tid);
              assertThat(api).as("the api-service's lines about %s", tid).isNotEmpty();
              assertThat(workers).as("the workers' lines about %s", tid).isNotEmpty();
              for (JsonNode line : concat(api, workers)) {
                assertThat(line.path("traceId").asText()).as("%s", line).isEqualTo(clientTrace);
                assertThat(line.path("spanId").asText()).as("%s", line).matches("[0-9a-f]{16}");
                assertThat(line.path("sessionId").asText()).isEqualTo(sid);
                assertThat(line.path("tenant").asText()).isEqualTo("default");
              }
              assertThat(api).anyMatch(l -> l.path("spanId").asText().equals(server.spanId()));
              assertThat(workers).anyMatch(l -> l.path("spanId").asText().equals(attempt.spanId()));
            });
  }

  @Test
  void aMalformedTraceparentStartsANewTraceAndIsNeverAnError() throws Exception {
    String sid = cluster.newSession("trace-bad", "{}");
    for (String bad :
        List.of(
            "garbage",
            "00-" + "0".repeat(32) + "-" + hex(8) + "-01",
            "00-" + hex(16) + "-" + hex(8) + "-01,00-" + hex(16) + "-" + hex(8) + "-01")) {
      String tid = submit(sid, origin.url("/bytes/1000?seed=5"), Map.of("traceparent", bad));
      ApiClient.Answer read =
          cluster.client.call(
              "GET", "/v1/sessions/" + sid + "/tasks/" + tid, null, Map.of("traceparent", bad));
      assertThat(read.status()).isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  cluster.collector.spans().stream()
                      .anyMatch(
                          s ->
                              s.kind().equals("SERVER")
                                  && tid.equals(s.attribute("transfer.task.id"))
                                  && s.name().startsWith("POST")));
      OtlpCollector.Span server =
          cluster.collector.spans().stream()
              .filter(s -> s.kind().equals("SERVER") && tid.equals(s.attribute("transfer.task.id")))
              .filter(s -> s.name().startsWith("POST"))
              .findFirst()
              .orElseThrow();
      assertThat(server.parentSpanId()).as("a new trace for %s", bad).isEmpty();
      assertThat(server.traceId()).matches("[0-9a-f]{32}").isNotEqualTo("0".repeat(32));
    }
  }

  // ------------------------------------------------------------------ helpers

  private static String submit(String sid, String url, Map<String, String> headers)
      throws Exception {
    ApiClient.Answer a =
        cluster.client.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + url + "\"}",
            headers);
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }

  private static OtlpCollector.Span one(
      List<OtlpCollector.Span> trace, Predicate<OtlpCollector.Span> which, String shape) {
    List<OtlpCollector.Span> found = trace.stream().filter(which).toList();
    assertThat(found).as("exactly one such span in the trace:%n%s", shape).hasSize(1);
    return found.get(0);
  }

  private static String describe(List<OtlpCollector.Span> trace) {
    StringBuilder b = new StringBuilder();
    for (OtlpCollector.Span s : trace) {
      b.append(
          String.format(
              "  %s %s [%s] %s <- %s %s%n",
              s.serviceName(), s.kind(), s.name(), s.spanId(), s.parentSpanId(), s.attributes()));
    }
    return b.toString();
  }

  /** The JSON log lines of these services whose taskId field is {@code tid}. */
  private static List<JsonNode> linesAbout(List<ServiceProcess> services, String tid)
      throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (ServiceProcess p : services) {
      java.nio.file.Path log = cluster.jsonLog(p);
      if (!Files.exists(log)) {
        continue;
      }
      for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
        if (line.startsWith("{") && line.contains(tid)) {
          JsonNode entry = JSON.readTree(line);
          if (tid.equals(entry.path("taskId").asText())) {
            out.add(entry);
          }
        }
      }
    }
    return out;
  }

  private static List<JsonNode> concat(List<JsonNode> a, List<JsonNode> b) {
    List<JsonNode> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  /** The record of the task's completion event on transfer-events, with its headers. */
  private static ConsumerRecord<byte[], byte[]> completionRecord(String sid, String tid) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.infra.kafkaBootstrap());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(TestInfra.EVENTS_TOPIC).stream()
              .map(i -> new TopicPartition(i.topic(), i.partition()))
              .toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      byte[] key = sid.getBytes(StandardCharsets.UTF_8);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (java.util.Arrays.equals(key, r.key())) {
            try {
              JsonNode event = JSON.readTree(r.value());
              if ((tid + ":completed").equals(event.path("id").asText())) {
                return r;
              }
            } catch (IOException notJson) {
              // not an event of ours
            }
          }
        }
      }
    }
    throw new AssertionError("no completion record of task " + tid + " on transfer-events");
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private static String hex(int bytes) {
    byte[] b = new byte[bytes];
    ThreadLocalRandom.current().nextBytes(b);
    b[0] |= 1; // never all zeros
    return HexFormat.of().formatHex(b);
  }
}
