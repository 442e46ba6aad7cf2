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
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import transfer.contracts.Doorbell;
import transfer.contracts.Json;
import transfer.contracts.Topics;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.worker.WorkerConfig;
import transfer.worker.transfer.Transfers;

/**
 * Consumes doorbells and claims tasks: each doorbell lets the worker claim the best task it may
 * start now ({@code Ledger.claimNext}: priority order within the sessions' limits), not necessarily
 * the one it names. The offset is committed right after the claim, never after the transfer, so a
 * transfer may take hours without the consumer being evicted; a lost claim is the reaper's
 * business. When every slot is busy, the consumer seeks back to the first unhandled doorbell and
 * pauses its partitions, still polling so it stays in the group.
 */
@Singleton
public class DoorbellConsumer {
  private static final Duration POLL = Duration.ofMillis(100);

  private final Ledger ledger;
  private final Transfers transfers;
  private final WorkerConfig config;
  private final String workerId;
  private final String bootstrapServers;
  private volatile boolean running;
  private volatile long lastPollMillis;
  private volatile KafkaConsumer<String, String> consumer;
  private Thread thread;

  public DoorbellConsumer(
      Ledger ledger,
      Transfers transfers,
      WorkerConfig config,
      @Named("workerId") String workerId,
      @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrapServers) {
    this.ledger = ledger;
    this.transfers = transfers;
    this.config = config;
    this.workerId = workerId;
    this.bootstrapServers = bootstrapServers;
  }

  void start(@Observes StartupEvent ev) {
    running = true;
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
    KafkaConsumer<String, String> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    if (thread != null) {
      thread.join(10_000);
    }
    transfers.handBackAll(Duration.ofSeconds(15));
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
      try (KafkaConsumer<String, String> c = newConsumer()) {
        consumer = c;
        c.subscribe(
            List.of(Topics.TASKS),
            new ConsumerRebalanceListener() {
              @Override
              public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

              @Override
              public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                // A rebalance resumes everything; keep the partitions paused while full.
                if (transfers.freeSlots() == 0) {
                  c.pause(partitions);
                }
              }
            });
        while (running) {
          lastPollMillis = System.currentTimeMillis();
          ConsumerRecords<String, String> records = c.poll(POLL);
          handle(c, records);
          if (transfers.freeSlots() > 0) {
            if (!c.paused().isEmpty()) {
              c.resume(c.paused());
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

  private void handle(KafkaConsumer<String, String> c, ConsumerRecords<String, String> records) {
    Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
    boolean full = false;
    for (TopicPartition tp : records.partitions()) {
      for (ConsumerRecord<String, String> r : records.records(tp)) {
        if (full || !transfers.tryReserve()) {
          // No slot: this doorbell and the rest of its partition are read again after resume.
          full = true;
          c.seek(tp, r.offset());
          break;
        }
        Optional<TaskRow.Claim> claim;
        try {
          claim = claim(r);
        } catch (RuntimeException e) {
          transfers.unreserve();
          Log.warnf(
              "cannot claim task %s (%s); the doorbell is read again", r.key(), e.getMessage());
          c.seek(tp, r.offset());
          full = true; // stop this batch; poll again shortly
          break;
        }
        done.put(tp, new OffsetAndMetadata(r.offset() + 1));
        if (claim.isPresent()) {
          transfers.start(claim.get());
        } else {
          transfers.unreserve();
        }
      }
    }
    if (!done.isEmpty()) {
      c.commitSync(done);
    }
  }

  private Optional<TaskRow.Claim> claim(ConsumerRecord<String, String> r) {
    Doorbell bell;
    try {
      bell = Json.mapper().readValue(r.value(), Doorbell.class);
    } catch (Exception e) {
      Log.errorf(
          "doorbell at %s-%d offset %d is not readable (%s); skipped",
          r.topic(), r.partition(), r.offset(), e.getMessage());
      return Optional.empty();
    }
    Optional<TaskRow.Claim> claim = ledger.claimNext(workerId, config.worker().leaseTtl());
    if (claim.isEmpty()) {
      Log.debugf(
          "doorbell of task %s: nothing claimable (taken already, or its session or host is at"
              + " its limit; it is rung for again when a slot frees up)",
          bell.taskId());
    }
    return claim;
  }

  private KafkaConsumer<String, String> newConsumer() {
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
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
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
