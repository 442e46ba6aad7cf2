package transfer.worker.claim;

import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import transfer.contracts.Doorbell;
import transfer.contracts.Topics;
import transfer.ledger.Claims;
import transfer.worker.WorkerConfig;
import transfer.worker.WorkerMetrics;
import transfer.worker.attempt.Slots;
import transfer.worker.trace.Tracing;

/**
 * The poll loop on {@code transfer-tasks}: each doorbell of a poll reserves a transfer slot, and
 * the {@link Claimer} claims for them in one ledger transaction. The offset is committed right
 * after the claim, never after the transfer, so a transfer may take hours without the consumer
 * being evicted; a lost claim is the reaper's business. When every slot is busy, the consumer seeks
 * back to the first doorbell it could not take and the {@link PausePolicy} pauses its partitions,
 * still polling so it stays in the group. A record that is no doorbell goes to the {@link
 * DeadLetterRouter} and the partition goes on; if it cannot be moved, its partition waits at it and
 * tries again after a backoff.
 */
@Singleton
public class DoorbellConsumer {
  private static final Duration POLL = Duration.ofMillis(100);

  private final Slots slots;
  private final WorkerConfig config;
  private final String workerId;
  private final String bootstrapServers;
  private final Claimer claimer;
  private final DeadLetterRouter deadLetters;
  private final PausePolicy pauses;
  private volatile boolean running;
  private volatile long lastPollMillis;
  private volatile KafkaConsumer<byte[], byte[]> consumer;
  private Thread thread;

  public DoorbellConsumer(
      Claims claims,
      Slots slots,
      WorkerConfig config,
      WorkerMetrics metrics,
      Tracing tracing,
      @Named("workerId") String workerId,
      @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers) {
    this.slots = slots;
    this.config = config;
    this.workerId = workerId;
    this.bootstrapServers = bootstrapServers;
    this.claimer =
        new Claimer(
            claims,
            slots,
            metrics,
            tracing.tracer(),
            workerId,
            config.worker().leaseTtl(),
            config.worker().parkedDoorbellRetry());
    this.deadLetters = new DeadLetterRouter(workerId, bootstrapServers);
    this.pauses = new PausePolicy(slots::freeSlots, deadLetters);
  }

  void start(@Observes StartupEvent ev) {
    running = true;
    claimer.start();
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
    claimer.stop();
    KafkaConsumer<byte[], byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    if (thread != null) {
      thread.join(10_000);
    }
    claimer.awaitStopped();
    deadLetters.close();
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
        c.subscribe(List.of(Topics.TASKS), pauses.rebalanceListener(c));
        while (running) {
          lastPollMillis = System.currentTimeMillis();
          ConsumerRecords<byte[], byte[]> records = c.poll(POLL);
          handle(c, records);
          pauses.afterPoll(c);
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
    List<ClaimSpans.Bell> bells = new ArrayList<>();
    Instant polledAt = Instant.now();
    for (TopicPartition tp : records.partitions()) {
      for (ConsumerRecord<byte[], byte[]> r : records.records(tp)) {
        Doorbell bell;
        try {
          bell = DeadLetters.read(r.value());
        } catch (DeadLetters.Unreadable e) {
          // Not a doorbell: it needs no slot and no claim, only to be moved out of the way.
          if (deadLetters.route(r, e)) {
            done.put(tp, new OffsetAndMetadata(r.offset() + 1));
            continue;
          }
          // Never skipped: the partition waits at this record and tries again after a backoff.
          pauses.holdAt(c, tp, r.offset());
          break;
        }
        if (claimer.park(bell.sessionId())) {
          // Its session had nothing claimable at the last claim: no claim of its own (Claimer).
          done.put(tp, new OffsetAndMetadata(r.offset() + 1));
          continue;
        }
        if (full || !slots.tryReserve()) {
          // No slot: this doorbell and the rest of its partition are read again after resume.
          full = true;
          c.seek(tp, r.offset());
          break;
        }
        reserved++;
        bells.add(new ClaimSpans.Bell(r, bell.taskId(), bell.sessionId(), polledAt));
        waiting.putIfAbsent(tp, r.offset());
        done.put(tp, new OffsetAndMetadata(r.offset() + 1));
      }
    }
    if (reserved > 0 && claimer.claimReserved(reserved, bells) == Claimer.Result.FAILED) {
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
