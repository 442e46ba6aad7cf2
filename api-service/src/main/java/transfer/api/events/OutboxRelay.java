package transfer.api.events;

import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.trace.Span;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.postgresql.PGConnection;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.api.trace.Tracing;
import transfer.contracts.CloudEvent;
import transfer.contracts.KafkaClientProperties;
import transfer.contracts.Topics;
import transfer.ledger.EventSequencer;
import transfer.ledger.EventWakeups;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;
import transfer.telemetry.TraceContexts;

/**
 * Publishes to Kafka what waits for it: the outbox's doorbells, oldest row first, deleted only
 * after Kafka acknowledged them, and the numbered events after the relay's cursor, which moves only
 * past what Kafka acknowledged (at-least-once; consumers dedupe by event id). Beside it, a thread
 * numbers new events ({@link EventSequencer#sequenceEvents}). One relay in the cluster runs at a
 * time, the holder of a PostgreSQL advisory lock, so that one session's events keep their order. It
 * reads doorbells by id without a high-water mark, so a row that commits late is never skipped; the
 * events' global order is handed out one sequencer round at a time, each committed before the next
 * starts, so a cursor over it skips none either.
 */
@Singleton
public class OutboxRelay {
  private static final long LOCK_KEY = 0x7472616e73666572L; // "transfer"

  /** The CloudEvents structured-mode header's value, encoded once. */
  private static final byte[] STRUCTURED =
      CloudEvent.STRUCTURED_CONTENT_TYPE.getBytes(StandardCharsets.US_ASCII);

  private final AgroalDataSource dataSource;
  private final EventSequencer eventSequencer;
  private final Outbox outbox;
  private final ApiConfig config;
  private final ApiMetrics metrics;
  private final Tracing tracing;
  private final Map<String, Object> kafkaConfig;
  private TenantTopics tenantTopics; // the relay thread's

  /**
   * The relay thread's count of tries of the records Kafka refused while the broker took others (or
   * refused for good), by lane and id; a record is parked at {@code park-after}.
   */
  private final Map<Long, Integer> doorbellTries = new HashMap<>();

  private final Map<Long, Integer> eventTries = new HashMap<>();

  private volatile boolean running;
  private Thread thread;

  public OutboxRelay(
      AgroalDataSource dataSource,
      EventSequencer eventSequencer,
      Outbox outbox,
      ApiConfig config,
      ApiMetrics metrics,
      Tracing tracing,
      @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig) {
    this.dataSource = dataSource;
    this.eventSequencer = eventSequencer;
    this.outbox = outbox;
    this.config = config;
    this.metrics = metrics;
    this.tracing = tracing;
    this.kafkaConfig = kafkaConfig;
  }

  void start(@Observes StartupEvent ev) {
    running = true;
    thread = new Thread(this::run, "outbox-relay");
    thread.setDaemon(true);
    thread.start();
  }

  /** The loop notices within one idle poll; what is not yet published waits for the next leader. */
  void stop(@Observes ShutdownEvent ev) throws InterruptedException {
    running = false;
    if (thread != null) {
      thread.join(config.outbox().idlePoll().toMillis() + 10_000);
    }
  }

  private void run() {
    KafkaProducer<String, String> producer = producer();
    tenantTopics =
        new TenantTopics(
            this::admin,
            config.outbox().createTenantTopics(),
            config.outbox().tenantTopicPartitions());
    try {
      while (running) {
        try (Connection lock = dataSource.getConnection()) {
          if (!tryLock(lock)) {
            sleep(Duration.ofSeconds(2));
            continue;
          }
          Log.info("outbox relay: this replica numbers events and publishes doorbells and events");
          try {
            relayWhileLeader(
                producer,
                lock,
                EventSignal.listenTo(lock, EventWakeups.DOORBELLS, EventWakeups.EVENTS_NUMBERED));
          } finally {
            // The connection goes back to the pool: with the lock still held, no replica (this
            // one included, on another pooled connection) could lead again.
            EventSignal.reset(lock);
          }
        } catch (Exception e) {
          if (running) {
            Log.warnf(
                "outbox relay: %s; doorbells stay in the outbox and events after the relay's"
                    + " cursor wait, retrying in 2 s",
                e.getMessage());
            sleep(Duration.ofSeconds(2));
          }
        }
      }
    } finally {
      producer.close(Duration.ofSeconds(5));
      tenantTopics.close();
    }
  }

  private void relayWhileLeader(
      KafkaProducer<String, String> producer, Connection lock, PGConnection pg) throws Exception {
    doorbellTries.clear();
    eventTries.clear();
    Sequencer sequencer = new Sequencer();
    Thread numbering = new Thread(sequencer, "event-sequencer");
    numbering.setDaemon(true);
    numbering.start();
    try {
      int batch = config.outbox().batchSize();
      // Woken while asleep by a doorbell's trigger or by a sequencer round that numbered events;
      // getNotifications throws when the connection is lost, and so detects a lost lock.
      PollThenSleep wakeups = pollThenSleep(lock, EventWakeups.RELAY_ASLEEP);
      long cursor = outbox.publishedEvents();
      boolean found = true;
      while (running) {
        // After a pass that found nothing, a one-statement look first (most idle polls find
        // nothing); after one that found work, or a wake-up by a writer, the read itself.
        Outbox.Unpublished next =
            found || outbox.hasUnpublished(cursor)
                ? outbox.unpublished(cursor, batch)
                : Outbox.Unpublished.NONE;
        found = !next.isEmpty();
        if (next.isEmpty()) {
          found = wakeups.idle();
          if (lock.isClosed()) {
            return;
          }
          continue;
        }
        cursor = publish(producer, next, cursor);
        wakeups.worked(next.doorbells().size() == batch || next.events().size() == batch);
      }
    } finally {
      sequencer.stop = true;
      numbering.join(config.outbox().idlePoll().toMillis() + 5_000);
    }
  }

  private PollThenSleep pollThenSleep(Connection c, long lockKey) throws Exception {
    return new PollThenSleep(
        c,
        lockKey,
        config.outbox().busyPoll().toMillis(),
        config.outbox().lingerPoll().toMillis(),
        config.outbox().linger().toMillis(),
        config.outbox().idlePoll().toMillis(),
        PollThenSleep.SLEEP);
  }

  /**
   * Numbers new events ({@link EventSequencer#sequenceEvents}) while this replica publishes, on a
   * thread and a connection of its own: the events reach replay and SSE whatever Kafka does (a
   * publish to an unreachable broker waits up to 30 s), and a doorbell never waits for a numbering
   * round. It polls while there are events to number, and sleeps once there have been none for a
   * while; a transaction that adds events wakes it then ({@link EventWakeups#EVENTS_WRITTEN}).
   */
  private final class Sequencer implements Runnable {
    volatile boolean stop;

    @Override
    public void run() {
      int batch = config.outbox().batchSize();
      while (running && !stop) {
        try (Connection listen = dataSource.getConnection()) {
          try {
            EventSignal.listenTo(listen, EventWakeups.EVENTS_WRITTEN);
            PollThenSleep wakeups = pollThenSleep(listen, EventWakeups.SEQUENCER_ASLEEP);
            boolean found = true;
            while (running && !stop) {
              // As the relay: after a round that found nothing, a one-statement look first.
              int taken =
                  found || eventSequencer.hasNewEvents() ? eventSequencer.sequenceEvents(batch) : 0;
              found = taken > 0;
              if (taken == 0) {
                found = wakeups.idle();
              } else {
                wakeups.worked(taken >= batch);
              }
            }
          } finally {
            EventSignal.reset(listen);
          }
        } catch (Exception e) {
          if (running && !stop) {
            Log.warnf(
                "event sequencer: %s; new events wait unnumbered in the events table (replay, SSE"
                    + " and Kafka do not see them yet), retrying in 2 s",
                e.getMessage());
            sleep(Duration.ofSeconds(2));
          }
        }
      }
    }
  }

  /**
   * Sends a batch, then records what Kafka acknowledged in one transaction: the doorbells' rows are
   * deleted, the cursor moves past the events acknowledged without a gap; the rest are sent again
   * later. Each record gets a PRODUCER span, child of the context stored with its row (the task's
   * trace), from the send to Kafka's acknowledgement; its {@code traceparent} (and {@code
   * tracestate}) go into the record's headers, so the consumer continues the trace. Answers the new
   * cursor.
   */
  private long publish(
      KafkaProducer<String, String> producer, Outbox.Unpublished batch, long cursor)
      throws Exception {
    List<OutboxMessage> all = new ArrayList<>(batch.doorbells());
    all.addAll(batch.events());
    boolean perTenant = config.outbox().topicPerTenant();
    Map<String, Exception> unavailable =
        perTenant && !batch.events().isEmpty()
            ? unavailableTenantTopics(
                batch.events().stream().map(m -> Topics.eventsOf(m.tenant())).toList())
            : Map.of();
    List<Future<RecordMetadata>> sent = new ArrayList<>(all.size());
    for (OutboxMessage m : all) {
      Timer latency = metrics.publishTimer(m.topic());
      String topic =
          perTenant && Topics.EVENTS.equals(m.topic()) ? Topics.eventsOf(m.tenant()) : m.topic();
      if (unavailable.containsKey(topic)) {
        // Refused like a record Kafka refused: sent again, and parked if it stays so.
        sent.add(java.util.concurrent.CompletableFuture.failedFuture(unavailable.get(topic)));
        continue;
      }
      ProducerRecord<String, String> record = new ProducerRecord<>(topic, m.key(), m.payload());
      Span span = PublishSpans.start(tracing.tracer(), m);
      TraceContexts.toKafka(TraceContexts.of(span), record.headers());
      if (Topics.EVENTS.equals(m.topic())) {
        record.headers().add(CloudEvent.KAFKA_CONTENT_TYPE_HEADER, STRUCTURED);
      }
      long start = System.nanoTime();
      try {
        sent.add(
            producer.send(
                record,
                // On the producer's I/O thread, when the broker acknowledged it: the latency of
                // this record, not of the batch we wait for below.
                (ack, e) -> {
                  if (e == null) {
                    latency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                  }
                  PublishSpans.end(span, ack, e);
                }));
      } catch (RuntimeException e) {
        PublishSpans.end(span, null, e);
        acknowledged(batch, sent, cursor);
        throw e;
      }
    }
    return acknowledged(batch, sent, cursor);
  }

  /**
   * The tenant topics among {@code topics} that are missing and may not be created, or cannot be
   * seen, with why: their events are refused, the other records go. Empty when all exist (the usual
   * case: one lookup per new topic for the life of the relay). When the broker does not answer at
   * all, the failure is thrown and the whole batch waits, as any publish to an unreachable broker.
   */
  private Map<String, Exception> unavailableTenantTopics(List<String> topics) throws Exception {
    try {
      tenantTopics.ensure(topics);
      return Map.of();
    } catch (Exception e) {
      if (unreachable(e)) {
        throw e;
      }
    }
    Map<String, Exception> unavailable = new HashMap<>();
    for (String topic : new java.util.TreeSet<>(topics)) {
      try {
        tenantTopics.ensure(List.of(topic));
      } catch (Exception e) {
        if (unreachable(e)) {
          throw e;
        }
        unavailable.put(topic, e);
      }
    }
    return unavailable;
  }

  /** Whether a failure is the broker not answering (a timeout), rather than about one topic. */
  private static boolean unreachable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.util.concurrent.TimeoutException
          || t instanceof org.apache.kafka.common.errors.TimeoutException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Waits for the acknowledgements of what was sent and records them: the doorbells acknowledged,
   * and the events up to the first one that was not (their order is the cursor's). What Kafka did
   * not acknowledge is sent again, unless it is parked ({@link RefusedRecords}): a record refused
   * {@code park-after} times while Kafka took others, or refused with an error no retry mends, is
   * set aside in the same transaction, and the cursor passes a parked event. When Kafka took
   * nothing (the broker is unreachable), the failure is thrown after the record is written.
   */
  private long acknowledged(
      Outbox.Unpublished batch, List<Future<RecordMetadata>> sent, long cursor) throws Exception {
    int doorbells = batch.doorbells().size();
    Throwable[] errors = new Throwable[sent.size()];
    boolean anyTaken = false;
    for (int i = 0; i < sent.size(); i++) {
      try {
        sent.get(i).get(30, TimeUnit.SECONDS);
        anyTaken = true;
      } catch (java.util.concurrent.ExecutionException e) {
        errors[i] = e.getCause() != null ? e.getCause() : e;
      } catch (Exception e) {
        errors[i] = e;
      }
    }
    List<Long> done = new ArrayList<>(doorbells);
    List<Outbox.Parked> parked = new ArrayList<>();
    long upTo = cursor;
    boolean gap = false;
    Throwable failure = null;
    long pauseMillis = 0;
    for (int i = 0; i < sent.size(); i++) {
      boolean event = i >= doorbells;
      OutboxMessage m = event ? batch.events().get(i - doorbells) : batch.doorbells().get(i);
      Map<Long, Integer> tries = event ? eventTries : doorbellTries;
      if (errors[i] == null) {
        tries.remove(m.id());
        if (!event) {
          done.add(m.id());
        } else if (!gap) {
          upTo = m.id();
        }
        continue;
      }
      Outbox.Parked park =
          RefusedRecords.park(m, event, errors[i], anyTaken, tries, config.outbox().parkAfter());
      if (park != null) {
        parked.add(park);
        metrics.parked(event ? "events" : "doorbells");
        if (event && !gap) {
          upTo = m.id();
        }
        continue;
      }
      failure = failure == null ? errors[i] : failure;
      gap |= event;
      int counted = tries.getOrDefault(m.id(), 0);
      pauseMillis = Math.max(pauseMillis, Math.min(8_000, 1_000L << Math.max(0, counted - 1)));
    }
    // Rows acknowledged so far are published; the rest are sent again (consumers dedupe).
    if (!done.isEmpty() || upTo != cursor || !parked.isEmpty()) {
      outbox.published(done, upTo, parked);
    }
    if (failure != null && !anyTaken) {
      throw failure instanceof Exception e ? e : new IllegalStateException(failure);
    }
    if (failure != null) {
      Log.warnf(
          "outbox relay: Kafka refused some records while it took others (first: %s); they are"
              + " sent again in %d ms, and parked after %d tries",
          failure.toString(), pauseMillis, config.outbox().parkAfter());
      // 1 s, doubling with the refusals counted up to 8 s: a record is parked after some seconds
      // of steady refusal rather than five passes in a row.
      sleep(Duration.ofMillis(pauseMillis));
    }
    return upTo;
  }

  private static boolean tryLock(Connection c) throws Exception {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("select pg_try_advisory_lock(" + LOCK_KEY + ")")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  /**
   * The relay's producer: the service's Kafka configuration (every {@code kafka.*} key, {@code
   * KAFKA_*} in the environment: brokers, security, timeouts) over the relay's defaults, and the
   * settings publishing relies on over both.
   */
  private KafkaProducer<String, String> producer() {
    KafkaClientProperties.Merged p =
        KafkaClientProperties.merge(
            kafkaConfig,
            Map.of(
                // No wait for more: the relay hands over a whole batch before it waits for the
                // acks, so records batch up by themselves while a request is in flight; an idle
                // doorbell goes at once.
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000,
                ProducerConfig.CLIENT_ID_CONFIG, "transfer-outbox-relay"),
            KafkaClientProperties.idempotentProducer(StringSerializer.class.getName()));
    Log.infof("outbox relay: Kafka producer %s", p.describe());
    return new KafkaProducer<>(p.properties());
  }

  /** An Admin client of the service's Kafka configuration (tenant topics only). */
  private Admin admin() {
    KafkaClientProperties.Merged p =
        KafkaClientProperties.merge(
            kafkaConfig,
            Map.of(AdminClientConfig.CLIENT_ID_CONFIG, "transfer-outbox-relay-admin"),
            Map.of());
    Log.infof("outbox relay: Kafka admin client %s", p.describe());
    return Admin.create(p.properties());
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
