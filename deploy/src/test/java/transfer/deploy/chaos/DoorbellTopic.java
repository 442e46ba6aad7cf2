package transfer.deploy.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import transfer.testkit.TestInfra;

/**
 * The chaos cluster's Kafka side as the tests see it: the worker group ({@value
 * ChaosCluster#WORKER_GROUP}) and the doorbells topic ({@value TestInfra#TASKS_TOPIC}), read from
 * its beginning or rung by hand as the relay would.
 */
final class DoorbellTopic {
  private final String bootstrap;
  private final ObjectMapper json = new ObjectMapper();

  DoorbellTopic(String bootstrap) {
    this.bootstrap = bootstrap;
  }

  ConsumerGroupDescription describeGroup() throws Exception {
    try (Admin admin = admin()) {
      return admin
          .describeConsumerGroups(List.of(ChaosCluster.WORKER_GROUP))
          .all()
          .get(10, TimeUnit.SECONDS)
          .get(ChaosCluster.WORKER_GROUP);
    }
  }

  /** The member ids of the worker group; a consumer that was evicted comes back with a new one. */
  Set<String> groupMemberIds() throws Exception {
    return describeGroup().members().stream()
        .map(MemberDescription::consumerId)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  Map<TopicPartition, OffsetAndMetadata> committedOffsets() throws Exception {
    try (Admin admin = admin()) {
      return admin
          .listConsumerGroupOffsets(ChaosCluster.WORKER_GROUP)
          .partitionsToOffsetAndMetadata()
          .get(10, TimeUnit.SECONDS);
    }
  }

  private Admin admin() {
    return Admin.create(
        Map.of(
            AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
            bootstrap,
            AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG,
            10_000,
            AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
            15_000));
  }

  /** The partition of {@value TestInfra#TASKS_TOPIC} a doorbell for this task lands on. */
  static int partitionOf(String taskId) {
    // Kafka's default partitioner for keyed records.
    return Utils.toPositive(Utils.murmur2(taskId.getBytes(StandardCharsets.UTF_8)))
        % TestInfra.TOPIC_PARTITIONS;
  }

  /** Every doorbell on the topic, from offset 0 to the current end, as (key, value) records. */
  List<ConsumerRecord<String, String>> all() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> parts =
          c.partitionsFor(TestInfra.TASKS_TOPIC, Duration.ofSeconds(10)).stream()
              .map(i -> new TopicPartition(i.topic(), i.partition()))
              .toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(10));
      List<ConsumerRecord<String, String>> all = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("could not read " + TestInfra.TASKS_TOPIC + " to its end");
        }
        c.poll(Duration.ofMillis(200)).forEach(all::add);
      }
      return all;
    }
  }

  /** Sends doorbells as the relay would (same key and value), and waits until acknowledged. */
  void ring(List<ProducerRecord<String, String>> records) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (ProducerRecord<String, String> r : records) {
        sent.add(producer.send(r));
      }
      for (java.util.concurrent.Future<?> f : sent) {
        f.get(30, TimeUnit.SECONDS);
      }
    }
  }

  /** A doorbell exactly as the ledger writes it: key = task id, value = {taskId, sessionId}. */
  ProducerRecord<String, String> doorbell(String sid, String tid) {
    String value = json.createObjectNode().put("taskId", tid).put("sessionId", sid).toString();
    return new ProducerRecord<>(TestInfra.TASKS_TOPIC, tid, value);
  }
}
