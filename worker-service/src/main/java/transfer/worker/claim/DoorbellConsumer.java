package transfer.worker.claim;

import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import transfer.contracts.Doorbell;
import transfer.contracts.Topics;
import transfer.ledger.Claim;
import transfer.ledger.Claims;
import transfer.worker.WorkerConfig;
import transfer.worker.WorkerMetrics;
import transfer.worker.attempt.Slots;
import transfer.worker.trace.Tracing;

/**
 * Consumes doorbells and claims tasks: each doorbell lets the worker claim the best task it may
 * start now ({@code Claims.claimNext}: priority order within the sessions' limits), not necessarily
 * the one it names; the doorbells of one poll are claimed for in one ledger transaction. A slot
 * freed by a finished transfer claims at once, without a doorbell. The offset is committed right
 * after the claim, never after the transfer, so a transfer may take hours without the consumer
 * being evicted; a lost claim is the reaper's business. When every slot is busy, the consumer seeks
 * back to the first unhandled doorbell and pauses its partitions, still polling so it stays in the
 * group. A record that is no doorbell is moved to {@link Topics#DEAD_LETTERS} ({@link DeadLetters})
 * and the partition goes on; if it cannot be moved, its partition waits at it and tries again after
 * a backoff.
 */
@Singleton
public class DoorbellConsumer {
  private static final Duration POLL = Duration.ofMillis(100);

  private final Claims claims;
  private final Slots slots;
  private final WorkerConfig config;
  private final WorkerMetrics metrics;
  private final Tracing tracing;
  private final String workerId;
  private final String bootstrapServers;
  private volatile boolean running;
  private final java.util.concurrent.atomic.AtomicBoolean slotFreed =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.ExecutorService slotClaimer =
      java.util.concurrent.Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "slot-claimer");
            t.setDaemon(true);
            return t;
          });
  private volatile long lastPollMillis;
  private volatile KafkaConsumer<byte[], byte[]> consumer;
  private KafkaProducer<byte[], byte[]> deadLetterProducer; // consumer thread only, made on need
  // Partitions held at an unreadable doorbell because it could not be dead-lettered yet.
  private final Map<TopicPartition, Backoff> held = new HashMap<>();
  private Thread thread;

  public DoorbellConsumer(
      Claims claims,
      Slots slots,
      WorkerConfig config,
      WorkerMetrics metrics,
      Tracing tracing,
      @Named("workerId") String workerId,
      @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers) {
    this.claims = claims;
    this.slots = slots;
    this.config = config;
    this.metrics = metrics;
    this.tracing = tracing;
    this.workerId = workerId;
    this.bootstrapServers = bootstrapServers;
  }

  void start(@Observes StartupEvent ev) {
    running = true;
    slots.onSlotFreed(
        () -> {
          if (running && slotFreed.compareAndSet(false, true)) {
            try {
              slotClaimer.execute(this::claimFreedSlots);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
              slotFreed.set(false);
            }
          }
        });
    thread = new Thread(this::run, "doorbell-consumer");
    thread.start();
    Log.infof("worker %s started with %d transfer slots", workerId, config.worker().slots());
    // A reaped task's new doorbell lands on the dead worker's partition (key = task id); it moves
    // on only when Kafka notices the death, about a session and a heartbeat later.
    long noticeMillis = config.worker().kafkaSessionTimeout().toMillis() * 4 / 3;
    if (noticeMillis >= config.worker().leaseTtl().toMillis()) {
      Log.warnf(
          "transfer.worker.kafka-session-timeout (%s) is not well below transfer.worker.lease-ttl"
              + " (%s): after a worker crash its tasks wait for Kafka, not the lease",
          config.worker().kafkaSessionTimeout(), config.worker().leaseTtl());
    }
  }

  /** Graceful stop: no new claims, then every running task is handed back at once. */
  void stop(@Observes ShutdownEvent ev) throws InterruptedException {
    running = false;
    KafkaConsumer<byte[], byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    if (thread != null) {
      thread.join(10_000);
    }
    slotClaimer.shutdown();
    slotClaimer.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    KafkaProducer<byte[], byte[]> p = deadLetterProducer;
    if (p != null) {
      p.close(Duration.ofSeconds(5));
    }
    slots.handBackAll(Duration.ofSeconds(15));
  }

  /** Ready while the consumer loop runs and has polled recently. */
  public boolean isHealthy() {
    return running
        && thread != null
        && thread.isAlive()
        && System.currentTimeMillis() - lastPollMillis < 30_000;
  }

  private void run() {
    while (running) {
      try (KafkaConsumer<byte[], byte[]> c = newConsumer()) {
        consumer = c;
        c.subscribe(
            List.of(Topics.TASKS),
            new ConsumerRebalanceListener() {
              @Override
              public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                partitions.forEach(held::remove);
              }

              @Override
              public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                // A rebalance resumes everything; keep the partitions paused while full, and
                // those held at an unreadable doorbell until their next try.
                if (slots.freeSlots() == 0) {
                  c.pause(partitions);
                } else {
                  c.pause(partitions.stream().filter(held::containsKey).toList());
                }
              }
            });
        while (running) {
          lastPollMillis = System.currentTimeMillis();
          ConsumerRecords<byte[], byte[]> records = c.poll(POLL);
          handle(c, records);
          if (slots.freeSlots() > 0) {
            long now = System.currentTimeMillis();
            List<TopicPartition> resumable =
                c.paused().stream()
                    .filter(tp -> !held.containsKey(tp) || held.get(tp).dueMillis() <= now)
                    .toList();
            if (!resumable.isEmpty()) {
              c.resume(resumable);
            }
          } else {
            c.pause(c.assignment());
          }
        }
      } catch (WakeupException e) {
        // stopping
      } catch (Exception e) {
        if (running) {
          Log.warnf(
              "doorbell consumer failed (%s); reconnecting in 2 s. Unclaimed doorbells are"
                  + " delivered again",
              e.getMessage());
          sleep(Duration.ofSeconds(2));
        }
      } finally {
        consumer = null;
      }
    }
  }

  private void handle(KafkaConsumer<byte[], byte[]> c, ConsumerRecords<byte[], byte[]> records) {
    Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
    // The first doorbell of each partition that waits for this poll's claim: where the partition
    // is read again if the claim fails.
    Map<TopicPartition, Long> waiting = new HashMap<>();
    int reserved = 0;
    boolean full = false;
    List<ClaimSpans.Bell> bells = new java.util.ArrayList<>();
    java.time.Instant polledAt = java.time.Instant.now();
    for (TopicPartition tp : records.partitions()) {
      for (ConsumerRecord<byte[], byte[]> r : records.records(tp)) {
        Doorbell bell;
        try {
          bell = DeadLetters.read(r.value());
        } catch (DeadLetters.Unreadable e) {
          // Not a doorbell: it needs no slot and no claim, only to be moved out of the way.
          if (deadLetter(r, e)) {
            done.put(tp, new OffsetAndMetadata(r.offset() + 1));
            continue;
          }
          // Never skipped: the partition waits at this record and tries again after a backoff.
          c.seek(tp, r.offset());
          c.pause(List.of(tp));
          break;
        }
        if (full || !slots.tryReserve()) {
          // No slot: this doorbell and the rest of its partition are read again after resume.
          full = true;
          c.seek(tp, r.offset());
          break;
        }
        reserved++;
        bells.add(new ClaimSpans.Bell(r, bell.taskId(), polledAt));
        waiting.putIfAbsent(tp, r.offset());
        done.put(tp, new OffsetAndMetadata(r.offset() + 1));
      }
    }
    if (reserved > 0 && !claimReserved(reserved, bells)) {
      // The ledger could not be asked: the waiting doorbells are read again at the next poll.
      waiting.forEach(
          (tp, offset) -> {
            c.seek(tp, offset);
            done.remove(tp);
          });
    }
    if (!done.isEmpty()) {
      try {
        c.commitSync(done);
      } catch (RebalanceInProgressException e) {
        // A worker joined or left: the next poll completes the rebalance. These doorbells may be
        // read again (here or by the partition's new owner), which costs a claim that finds
        // nothing, never a task; leaving the group over it would start another rebalance.
        Log.debugf("offsets not committed during a rebalance (%s)", e.getMessage());
      }
    }
  }

  /**
   * Claims the best tasks for {@code reserved} reserved slots in one ledger transaction (a doorbell
   * only says that work exists), starts them, and frees the slots left over. False when the ledger
   * could not be asked; the slots are then freed too.
   */
  private boolean claimReserved(int reserved, List<ClaimSpans.Bell> bells) {
    List<Claim> claims;
    try {
      claims =
          metrics
              .claim()
              .record(() -> this.claims.claimNext(workerId, config.worker().leaseTtl(), reserved));
    } catch (RuntimeException e) {
      for (int i = 0; i < reserved; i++) {
        slots.unreserve();
      }
      Log.warnf(
          "cannot claim tasks (%s); the doorbells are read again at the next poll", e.getMessage());
      return false;
    }
    // The doorbells' spans, and each attempt's parent (README, Traces).
    Map<Claim, io.opentelemetry.context.Context> parents =
        ClaimSpans.afterClaim(tracing.tracer(), bells, claims);
    for (Claim claim : claims) {
      slots.start(claim, parents.get(claim));
    }
    for (int i = claims.size(); i < reserved; i++) {
      slots.unreserve();
    }
    if (claims.size() < reserved) {
      Log.debugf(
          "%d doorbell(s) found nothing claimable (taken already, or a session or host at its"
              + " limit: such a task is claimed when a slot of its session frees up)",
          reserved - claims.size());
    }
    return true;
  }

  /**
   * After a transfer ended on this worker, its freed slot takes the best claimable task at once,
   * with no doorbell: in particular a task passed over while its session or host was at the limit
   * that this transfer just freed. Runs on its own thread ({@code slot-claimer}), so the consumer
   * thread never waits for it, nor it for a poll.
   */
  private void claimFreedSlots() {
    slotFreed.set(false);
    if (!running) {
      return;
    }
    int reserved = 0;
    while (slots.tryReserve()) {
      reserved++;
    }
    if (reserved > 0) {
      claimReserved(reserved, List.of());
    }
  }

  /**
   * Moves a record that is no doorbell to {@link Topics#DEAD_LETTERS}, key and value unchanged,
   * with headers naming where it came from and why; true once Kafka acknowledged it. On failure the
   * partition is held at the record (its offset is not committed) and tried again after a backoff
   * of 1 s doubling to 30 s: an unreadable doorbell is never dropped silently.
   */
  private boolean deadLetter(ConsumerRecord<byte[], byte[]> r, DeadLetters.Unreadable why) {
    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
    try {
      if (deadLetterProducer == null) {
        deadLetterProducer = newDeadLetterProducer();
      }
      RecordMetadata moved = DeadLetters.send(deadLetterProducer, r, why, workerId);
      held.remove(tp);
      Log.warnf(
          "doorbell at %s-%d offset %d (key %s) is unreadable: %s (%s). Moved to %s-%d offset %d;"
              + " the partition goes on with the next doorbell",
          r.topic(),
          r.partition(),
          r.offset(),
          DeadLetters.printable(r.key()),
          why.code(),
          why.getMessage(),
          moved.topic(),
          moved.partition(),
          moved.offset());
      return true;
    } catch (RuntimeException e) {
      Backoff next = Backoff.after(held.get(tp));
      held.put(tp, next);
      Log.warnf(
          "doorbell at %s-%d offset %d is unreadable (%s) and could not be moved to %s (%s);"
              + " the partition waits at it and tries again in %d s",
          r.topic(),
          r.partition(),
          r.offset(),
          why.code(),
          Topics.DEAD_LETTERS,
          DeadLetters.describe(e),
          next.delayMillis() / 1000);
      return false;
    }
  }

  /** When a held partition tries its unreadable record again. */
  record Backoff(long delayMillis, long dueMillis) {
    static final long FIRST_MILLIS = 1_000;
    static final long MAX_MILLIS = 30_000;

    static Backoff after(Backoff previous) {
      long delay =
          previous == null ? FIRST_MILLIS : Math.min(MAX_MILLIS, previous.delayMillis() * 2);
      return new Backoff(delay, System.currentTimeMillis() + delay);
    }
  }

  private KafkaProducer<byte[], byte[]> newDeadLetterProducer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, workerId + "-dead-letters");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    // Bounded, so that the consumer thread (which also keeps the group membership) never waits
    // long: a failed move is retried by the backoff above instead.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10_000);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return new KafkaProducer<>(p);
  }

  private KafkaConsumer<byte[], byte[]> newConsumer() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, Topics.WORKER_GROUP);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, workerId);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, config.worker().slots()));
    // A dead worker's partitions move to the others after the session timeout; the cooperative
    // assignor lets every other worker keep consuming while that happens.
    p.put(
        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
        (int) config.worker().kafkaSessionTimeout().toMillis());
    p.put(
        ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
        (int) Math.max(500, config.worker().kafkaSessionTimeout().toMillis() / 3));
    p.put(
        ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
        CooperativeStickyAssignor.class.getName());
    // Bytes, not strings: a record that is no doorbell goes to the dead-letter topic exactly as
    // it came, and nothing can fail while deserializing.
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return new KafkaConsumer<>(p);
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
