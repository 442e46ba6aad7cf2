package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EmbeddedInfraIT {
  private static TestInfra infra;
  private static KafkaProducer<String, String> producer;

  @BeforeAll
  static void start() {
    long t0 = System.nanoTime();
    infra = TestInfra.shared();
    System.out.printf(
        "TestInfra.shared() (%s) took %d ms%n", infra.mode(), (System.nanoTime() - t0) / 1_000_000);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.kafkaBootstrap());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    producer = new KafkaProducer<>(p);
  }

  @AfterAll
  static void stop() {
    producer.close();
  }

  @Test
  void modeMatchesWhatIsExposed() {
    assertThat(infra.mode()).isIn("embedded", "containers");
    assertThat(infra.embeddedKafka() != null).isEqualTo(infra.mode().equals("embedded"));
    assertThat(infra.embeddedPostgres() != null).isEqualTo(infra.mode().equals("embedded"));
    assertThat(TestInfra.shared()).isSameAs(infra);
  }

  @Test
  void topicsExistWithTwelvePartitions() throws Exception {
    try (Admin admin =
        Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infra.kafkaBootstrap()))) {
      var topics =
          admin.describeTopics(List.of("transfer-tasks", "transfer-events")).allTopicNames().get();
      assertThat(topics.get("transfer-tasks").partitions()).hasSize(12);
      assertThat(topics.get("transfer-events").partitions()).hasSize(12);
    }
  }

  @Test
  void produceAndConsumeWithAGroup() {
    String key = "session-" + UUID.randomUUID();
    send(key, "{\"n\":1}");

    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.kafkaBootstrap());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "embedded-infra-it-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<String> seen = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of("transfer-events"));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (seen.isEmpty() && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          if (key.equals(r.key())) {
            seen.add(r.value());
          }
        }
      }
      consumer.commitSync();
    }
    assertThat(seen).containsExactly("{\"n\":1}");
  }

  @Test
  void eventLogFindsTheSessionInOrder() {
    String key = "session-" + UUID.randomUUID();
    send("other-" + UUID.randomUUID(), "{\"n\":0}");
    for (int i = 1; i <= 3; i++) {
      send(key, "{\"n\":" + i + "}");
    }

    List<JsonNode> events =
        EventLog.readSession(
            infra.kafkaBootstrap(),
            "transfer-events",
            key,
            list -> list.size() >= 3,
            Duration.ofSeconds(20));

    assertThat(events).extracting(e -> e.get("n").asInt()).containsExactly(1, 2, 3);
  }

  @Test
  void eventLogReturnsWhatItHasOnTimeout() {
    long t0 = System.nanoTime();
    List<JsonNode> events =
        EventLog.readSession(
            infra.kafkaBootstrap(),
            "transfer-events",
            "nobody-" + UUID.randomUUID(),
            list -> !list.isEmpty(),
            Duration.ofMillis(800));

    assertThat(events).isEmpty();
    assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(700L, 10_000L);
  }

  @Test
  void jdbcSelectOne() throws Exception {
    try (Connection c =
            DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("select 1, current_database(), current_setting('server_version_num')")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).isEqualTo(1);
      assertThat(rs.getString(2)).isEqualTo("transfer");
      assertThat(Integer.parseInt(rs.getString(3))).isGreaterThanOrEqualTo(150000);
    }
  }

  private static void send(String key, String value) {
    try {
      producer.send(new ProducerRecord<>("transfer-events", key, value)).get();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
