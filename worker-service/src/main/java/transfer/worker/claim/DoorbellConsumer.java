package transfer.worker.claim;

import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
import transfer.contracts.Doorbell;
import transfer.contracts.KafkaClientProperties;
import transfer.contracts.Topics;
import transfer.ledger.Claims;
import transfer.ledger.FairShares;
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
  private final Map<String, Object> kafkaConfig;
  private final Claimer claimer;
  private final DeadLetterRouter deadLetters;
  private final PausePolicy pauses;
  private volatile boolean running;
  private volatile long lastPollMillis;
  private volatile KafkaConsumer<byte[], byte[]> consumer;
  private Thread thread;

  public DoorbellConsumer(
      Claims claims,
      FairShares fairShares,
      Slots slots,
      WorkerConfig config,
      WorkerMetrics metrics,
      Tracing tracing,
      @Named("workerId") String workerId,
      @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig) {
    this.slots = slots;
    this.config = config;
    this.workerId = workerId;
    this.kafkaConfig = kafkaConfig;
    this.claimer =
        new Claimer(
            claims,
            slots,
            metrics,
            tracing.tracer(),
            workerId,
            config.worker().leaseTtl(),
            config.worker().parkedDoorbellRetry(),
            config.worker().idlePoll(),
            fairShares,
            config.worker().fairShareCheck());
    this.deadLetters = new DeadLetterRouter(workerId, kafkaConfig);
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

  /**
   * The doorbell consumer: the service's Kafka configuration (every {@code kafka.*} key, {@code
   * KAFKA_*} in the environment: brokers, security, timeouts) over the worker's defaults, and the
   * settings the claim relies on over both (its group, offsets committed by hand, raw bytes).
   */
  private KafkaConsumer<byte[], byte[]> newConsumer() {
    long sessionTimeout = config.worker().kafkaSessionTimeout().toMillis();
    KafkaClientProperties.Merged p =
        KafkaClientProperties.merge(
            kafkaConfig,
            Map.of(
                ConsumerConfig.CLIENT_ID_CONFIG,
                workerId,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                "earliest",
                // A dead worker's partitions move to the others after the session timeout; the
                // cooperative assignor lets every other worker keep consuming while that happens.
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
                (int) sessionTimeout,
                ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
                (int) Math.max(500, sessionTimeout / 3),
                ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                CooperativeStickyAssignor.class.getName()),
            Map.of(
                ConsumerConfig.GROUP_ID_CONFIG, Topics.WORKER_GROUP,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                // as many doorbells per poll as there are slots, at most
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, config.worker().slots()),
                // Bytes, not strings: a record that is no doorbell goes to the dead-letter topic
                // exactly as it came, and nothing can fail while deserializing.
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                    ByteArrayDeserializer.class.getName()));
    Log.infof("doorbell consumer: Kafka consumer %s", p.describe());
    return new KafkaConsumer<>(p.properties());
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
