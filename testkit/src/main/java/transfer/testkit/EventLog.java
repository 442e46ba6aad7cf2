package transfer.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads what the cluster published about one session, for assertions in tests. */
public final class EventLog {
  private static final Logger LOG = LoggerFactory.getLogger(EventLog.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration POLL = Duration.ofMillis(100);

  private EventLog() {}

  /**
   * The JSON values of the records of {@code topic} whose key is {@code sessionKey}, from the
   * beginning of every partition, each partition in offset order and the partitions in ascending
   * order. Reads until {@code until} accepts what has been collected or {@code timeout} passes, and
   * then returns what it has (never throws for a timeout or an unreachable broker). A value that is
   * not JSON is returned as a text node, a null value (tombstone) as a null node.
   */
  public static List<JsonNode> readSession(
      String bootstrap,
      String topic,
      String sessionKey,
      Predicate<List<JsonNode>> until,
      Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    byte[] key = sessionKey.getBytes(StandardCharsets.UTF_8);
    Map<Integer, List<JsonNode>> byPartition = new TreeMap<>();
    List<JsonNode> collected = List.of();
    if (until.test(collected)) {
      return collected;
    }
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(consumerProperties(bootstrap))) {
      List<TopicPartition> partitions = partitions(consumer, topic, deadline);
      if (partitions.isEmpty()) {
        LOG.warn("topic {} has no partitions on {} (does it exist?)", topic, bootstrap);
        return collected;
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      while (System.nanoTime() < deadline) {
        long leftMillis = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        boolean grew = false;
        for (ConsumerRecord<byte[], byte[]> record :
            consumer.poll(Duration.ofMillis(Math.min(POLL.toMillis(), leftMillis)))) {
          if (java.util.Arrays.equals(key, record.key())) {
            byPartition
                .computeIfAbsent(record.partition(), p -> new ArrayList<>())
                .add(parse(record.value()));
            grew = true;
          }
        }
        if (grew) {
          collected = byPartition.values().stream().flatMap(List::stream).toList();
          if (until.test(collected)) {
            return collected;
          }
        }
      }
    } catch (KafkaException e) {
      LOG.warn("reading {} from {} failed; returning what was read", topic, bootstrap, e);
    }
    return collected;
  }

  private static List<TopicPartition> partitions(
      KafkaConsumer<byte[], byte[]> consumer, String topic, long deadline) {
    // partitionsFor answers an empty list for a topic that does not exist (yet).
    while (true) {
      long leftMillis = (deadline - System.nanoTime()) / 1_000_000;
      List<PartitionInfo> infos =
          consumer.partitionsFor(topic, Duration.ofMillis(Math.max(1, leftMillis)));
      if ((infos != null && !infos.isEmpty()) || leftMillis <= 100) {
        return infos == null
            ? List.of()
            : infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return List.of();
      }
    }
  }

  private static Properties consumerProperties(String bootstrap) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    // No group: partitions are assigned by hand and nothing is committed.
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "testkit-event-log");
    return p;
  }

  private static JsonNode parse(byte[] value) {
    if (value == null) {
      return NullNode.getInstance();
    }
    try {
      return JSON.readTree(value);
    } catch (IOException e) {
      return TextNode.valueOf(new String(value, StandardCharsets.UTF_8));
    }
  }
}
