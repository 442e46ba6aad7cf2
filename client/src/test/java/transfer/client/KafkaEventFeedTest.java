package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.client.Events.completed;
import static transfer.client.Events.json;
import static transfer.client.Events.progress;
import static transfer.client.Events.withTenant;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import transfer.contracts.CloudEvent;
import transfer.contracts.TaskError;

/**
 * The Kafka feed's commit discipline against Kafka's own MockConsumer: offsets are committed only
 * after the listener returned, a failed listener call is delivered again, and the committed
 * per-session sequences drop a redelivered copy after a restart with an empty in-memory store.
 */
class KafkaEventFeedTest {
  private static final String TOPIC = "transfer-events";
  private static final TopicPartition P0 = new TopicPartition(TOPIC, 0);

  /** The group's committed offsets: they outlive a consumer, as on a broker. */
  private final Map<TopicPartition, OffsetAndMetadata> committed = new ConcurrentHashMap<>();

  private final List<String> log = new CopyOnWriteArrayList<>();

  private MockConsumer<String, String> consumer(List<ConsumerRecord<String, String>> records) {
    MockConsumer<String, String> c =
        new MockConsumer<>("earliest") {
          @Override
          public synchronized void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets) {
            super.commitSync(offsets);
            committed.putAll(offsets);
            offsets.forEach((tp, om) -> log.add("commit " + om.offset()));
          }

          @Override
          public synchronized Map<TopicPartition, OffsetAndMetadata> committed(
              java.util.Set<TopicPartition> partitions) {
            Map<TopicPartition, OffsetAndMetadata> out = new java.util.HashMap<>();
            partitions.forEach(
                tp -> {
                  if (committed.containsKey(tp)) {
                    out.put(tp, committed.get(tp));
                  }
                });
            return out;
          }

          @Override
          public synchronized void seek(TopicPartition tp, long offset) {
            log.add("seek " + offset);
            super.seek(tp, offset);
            // the broker would send the records from there again
            records.stream().filter(r -> r.offset() >= offset).forEach(this::addRecord);
          }
        };
    c.updateBeginningOffsets(Map.of(P0, 0L));
    c.schedulePollTask(
        () -> {
          c.rebalance(List.of(P0));
          long from = committed.containsKey(P0) ? committed.get(P0).offset() : 0;
          c.seek(P0, from);
        });
    return c;
  }

  private static ConsumerRecord<String, String> record(long offset, CloudEvent e) {
    return new ConsumerRecord<>(TOPIC, 0, offset, Delivery.sessionOf(e), json(e));
  }

  /** A feed of tenant t1's session s only. */
  private KafkaEventFeed tenantFeed(
      TransferListener l, List<ConsumerRecord<String, String>> records) {
    return KafkaEventFeed.builder()
        .groupId("g")
        .listener(l)
        .tenant("t1")
        .sessions("s")
        .consumerFactory(p -> consumer(records))
        .pollTimeout(Duration.ofMillis(10))
        .build();
  }

  private KafkaEventFeed feed(TransferListener l, MockConsumer<String, String> c) {
    return KafkaEventFeed.builder()
        .groupId("g")
        .listener(l)
        .consumerFactory(p -> c)
        .pollTimeout(Duration.ofMillis(10))
        .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .build();
  }

  @Test
  void theOffsetIsCommittedOnlyAfterTheListenerReturned() {
    List<ConsumerRecord<String, String>> records =
        List.of(
            record(0, progress("s", 1, "t", 10, 10)),
            record(1, completed("s", 2, "t")),
            record(2, completed("other", 1, "u")));
    RecordingListener l =
        new RecordingListener() {
          @Override
          public void onEvent(CloudEvent event) {
            log.add("listener " + event.id());
            super.onEvent(event);
          }
        };
    try (KafkaEventFeed f =
        KafkaEventFeed.builder()
            .groupId("g")
            .listener(l)
            .sessions("s")
            .consumerFactory(p -> consumer(records))
            .pollTimeout(Duration.ofMillis(10))
            .build()
            .start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> log.contains("commit 3"));
    }
    assertThat(log)
        .containsSubsequence("listener p-s-1", "listener t:completed", "commit 3")
        .doesNotContain("listener u:completed"); // not one of the feed's sessions
    assertThat(log.indexOf("commit 3")).isGreaterThan(log.indexOf("listener t:completed"));
    assertThat(l.sequences("s")).containsExactly(1L, 2L);
    assertThat(committed.get(P0).metadata()).contains("\"s\":2");
  }

  /**
   * Two tenants' sessions of one name share the topic's key: with the feed's tenant set, the other
   * tenant's events never reach the order gate, which would otherwise drop this tenant's lower
   * sequences as stale.
   */
  @Test
  void anotherTenantsSessionOfTheSameNameNeitherReachesTheListenerNorBlocksIt() {
    CloudEvent theirs = withTenant(completed("s", 7, "x"), "t2");
    List<ConsumerRecord<String, String>> records =
        List.of(
            record(0, theirs),
            record(1, progress("s", 1, "t", 10, 10)),
            record(2, completed("s", 2, "t")));
    RecordingListener l = new RecordingListener();
    try (KafkaEventFeed f = tenantFeed(l, records).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> log.contains("commit 3"));
    }
    assertThat(l.sequences("s")).containsExactly(1L, 2L);
    assertThat(l.calls).noneMatch(c -> c.contains(" x "));
  }

  @Test
  void aListenerThatThrowsGetsTheSameEventAgainAndNothingAfterItIsCommittedBefore() {
    List<ConsumerRecord<String, String>> records =
        List.of(record(0, progress("s", 1, "t", 10, 10)), record(1, completed("s", 2, "t")));
    AtomicInteger failures = new AtomicInteger();
    RecordingListener l =
        new RecordingListener() {
          @Override
          public void didCompleteWithError(TaskEvent task, TaskError error) {
            if (failures.incrementAndGet() <= 2) {
              log.add("fail");
              throw new IllegalStateException("database down");
            }
            super.didCompleteWithError(task, error);
          }
        };
    try (KafkaEventFeed f = feed(l, consumer(records)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> log.contains("commit 2"));
    }
    // the failed event's offset (1) is committed, never beyond it, until it succeeded
    assertThat(log).containsSubsequence("fail", "seek 1", "commit 1", "fail", "seek 1", "commit 2");
    assertThat(log.indexOf("commit 2")).isGreaterThan(log.lastIndexOf("fail"));
    assertThat(l.calls).containsExactly("write t 10 10 1000", "complete t COMPLETED null");
    // onEvent saw sequence 2 at each of its three attempts; it counted once, when all returned
    assertThat(l.sequences("s")).containsExactly(1L, 2L, 2L, 2L);
  }

  @Test
  void afterARestartACopyOfADeliveredEventIsDroppedByTheCommittedSequence() {
    // The relay published sequence 2 twice (its acknowledgement was lost): offsets 1 and 2.
    List<ConsumerRecord<String, String>> records =
        List.of(
            record(0, progress("s", 1, "t", 10, 10)),
            record(1, completed("s", 2, "t")),
            record(2, completed("s", 2, "t")),
            record(3, progress("s", 3, "t2", 5, 5)));
    RecordingListener first = new RecordingListener();
    try (KafkaEventFeed f = feed(first, consumer(records.subList(0, 2))).start()) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> committed.containsKey(P0) && committed.get(P0).offset() == 2);
    }
    // A new process: empty in-memory store; the commit's metadata knows sequence 2 of s.
    RecordingListener second = new RecordingListener();
    try (KafkaEventFeed f = feed(second, consumer(records)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> committed.get(P0).offset() == 4);
    }
    assertThat(first.sequences("s")).containsExactly(1L, 2L);
    assertThat(second.sequences("s")).containsExactly(3L);
  }

  /**
   * Someone who can write to the topic sends an event of the session with a huge sequence: it
   * cannot make the session's later real events look stale, and a copy of a real event is still
   * dropped by the committed sequence.
   */
  @Test
  void aForgedSequenceDoesNotSilenceTheSessionsLaterEvents() {
    List<ConsumerRecord<String, String>> records =
        List.of(
            record(0, progress("s", 1, "t", 10, 10)),
            record(1, completed("s", 1_000_000, "forged")),
            record(2, progress("s", 2, "t", 20, 30)),
            record(3, completed("s", 3, "t")),
            record(4, completed("s", 3, "t")));
    RecordingListener first = new RecordingListener();
    try (KafkaEventFeed f = feed(first, consumer(records.subList(0, 4))).start()) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> committed.containsKey(P0) && committed.get(P0).offset() == 4);
    }
    assertThat(first.sequences("s")).containsExactly(1L, 1_000_000L, 2L, 3L);
    assertThat(committed.get(P0).metadata()).contains("\"s\":3");
    // A new process with an empty store: the copy of 3 at offset 4 is dropped by the commit's mark.
    RecordingListener second = new RecordingListener();
    try (KafkaEventFeed f = feed(second, consumer(records)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> committed.get(P0).offset() == 5);
    }
    assertThat(second.sequences("s")).isEmpty();
  }

  @Test
  void withATenantSetAnEventThatNamesNoTenantIsSkipped() {
    CloudEvent forged = withTenant(completed("s", 1, "forged"), null);
    List<ConsumerRecord<String, String>> records =
        List.of(record(0, forged), record(1, completed("s", 1, "t")));
    RecordingListener l = new RecordingListener();
    try (KafkaEventFeed f = tenantFeed(l, records).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> log.contains("commit 2"));
    }
    assertThat(l.calls).containsExactly("complete t COMPLETED null");
  }

  @Test
  void theCommitMetadataKeepsTheNewestSessionsWithinKafkasLimit() {
    KafkaEventFeed f = feed(new RecordingListener(), new MockConsumer<>("earliest"));
    LinkedHashMap<String, Long> marks = new LinkedHashMap<>();
    for (int i = 0; i < 1000; i++) {
      marks.put("session-" + i, (long) i);
    }
    String meta = f.metadata(marks);
    assertThat(meta.length()).isLessThanOrEqualTo(KafkaEventFeed.MAX_METADATA_CHARS);
    Map<String, Long> back = f.readMetadata(meta);
    assertThat(back).containsEntry("session-999", 999L).doesNotContainKey("session-0");
    assertThat(back.size()).isGreaterThan(50);
    assertThat(f.readMetadata("")).isEmpty();
    assertThat(f.readMetadata("not json")).isEmpty();
  }
}
