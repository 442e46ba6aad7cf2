package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cloudevents.CloudEvent;
import io.cloudevents.SpecVersion;
import io.cloudevents.kafka.CloudEventDeserializer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * {@code transfer-events} read by the official CloudEvents SDK for Java: its Kafka binding's {@link
 * CloudEventDeserializer} (structured mode, chosen by the record's {@code content-type} header) and
 * its Jackson JSON format, as a consumer that knows nothing of this project reads it. Every
 * attribute and both extensions of every event of a download come through.
 */
class CloudEventsSdkClusterIT extends ClusterTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void everyEventOfADownloadIsACloudEventToTheSdk() throws Exception {
    String sid = "ce-" + UUID.randomUUID();
    assertThat(cluster.call("PUT", "/v1/sessions/" + sid, "{}").status()).isEqualTo(201);
    ApiClient.Answer submitted =
        cluster.call(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + origin.url("/bytes/100000?seed=23") + "\"}");
    assertThat(submitted.status()).isEqualTo(201);
    String tid = submitted.body().get("id").asText();
    eventsUntilCompleted(sid); // on the topic by now

    List<ConsumerRecord<String, CloudEvent>> records = readSession(sid);
    assertThat(records)
        .extracting(r -> r.value().getType())
        .contains("transfer.task.progress", "transfer.task.downloaded", "transfer.task.completed");

    long lastSequence = 0;
    for (ConsumerRecord<String, CloudEvent> r : records) {
      assertThat(
              new String(r.headers().lastHeader("content-type").value(), StandardCharsets.US_ASCII))
          .isEqualTo("application/cloudevents+json");
      CloudEvent e = r.value();
      assertThat(e.getSpecVersion()).isEqualTo(SpecVersion.V1);
      assertThat(e.getId()).isNotBlank();
      assertThat(e.getType()).startsWith("transfer.");
      assertThat(e.getSource().toString()).isEqualTo("/sessions/" + sid);
      assertThat(e.getTime()).isBefore(OffsetDateTime.now().plusSeconds(5));
      assertThat(e.getDataContentType()).isEqualTo("application/json");
      assertThat(e.getExtensionNames()).contains("sequence", "tenant");
      assertThat(e.getExtension("tenant")).isEqualTo("default");
      long sequence = Long.parseLong(String.valueOf(e.getExtension("sequence")));
      assertThat(sequence).isGreaterThan(lastSequence);
      lastSequence = sequence;
      assertThat(e.getData()).isNotNull();
      JsonNode data = JSON.readTree(e.getData().toBytes());
      if (e.getType().startsWith("transfer.task.")) {
        assertThat(e.getSubject()).isEqualTo(tid);
        assertThat(data.isObject()).isTrue();
      }
      if (e.getType().equals("transfer.task.downloaded")) {
        assertThat(data.get("sha256").asText()).isEqualTo(Origin.sha256Hex(100_000, 23));
        assertThat(data.get("size").asLong()).isEqualTo(100_000);
      }
      if (e.getType().equals("transfer.task.completed")) {
        assertThat(e.getId()).isEqualTo(tid + ":completed");
        assertThat(data.get("state").asText()).isEqualTo("completed");
      }
    }
  }

  /** The session's records (the topic's key is the session id), from the beginning. */
  private static List<ConsumerRecord<String, CloudEvent>> readSession(String sid) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.shared().kafkaBootstrap());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "cloudevents-sdk-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, CloudEventDeserializer.class.getName());
    List<ConsumerRecord<String, CloudEvent>> mine = new ArrayList<>();
    try (KafkaConsumer<String, CloudEvent> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(TestInfra.EVENTS_TOPIC));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline
          && mine.stream().noneMatch(r -> r.value().getType().equals("transfer.task.completed"))) {
        for (ConsumerRecord<String, CloudEvent> r : consumer.poll(Duration.ofMillis(200))) {
          if (sid.equals(r.key())) {
            mine.add(r);
          }
        }
      }
    }
    return mine;
  }
}
