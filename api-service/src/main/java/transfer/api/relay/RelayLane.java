package transfer.api.relay;

import io.micrometer.core.instrument.Timer;
import io.opentelemetry.api.trace.Span;
import io.quarkus.logging.Log;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.api.trace.Tracing;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;
import transfer.telemetry.TraceContexts;

/**
 * One lane of the relay (doorbells, or events), one pass at a time: reads its next batch from the
 * ledger, sends it on the lane's own producer, waits for Kafka's acknowledgements, and records them
 * in one transaction. Each lane runs on a thread of its own ({@link WokenLoop}), so a lane that
 * waits (an events topic whose metadata Kafka does not answer blocks a send up to {@code
 * max.block.ms}; an acknowledgement may take up to the delivery timeout) holds up only itself.
 *
 * <p>Each record gets a PRODUCER span, child of the context stored with its row (the task's trace),
 * from the send to Kafka's acknowledgement; its {@code traceparent} (and {@code tracestate}) go
 * into the record's headers, so the consumer continues the trace.
 */
abstract class RelayLane implements WokenLoop.Pass {
  /** What became of a record of a pass. */
  enum Fate {
    /** Kafka acknowledged it. */
    TAKEN,
    /** Set aside in {@code outbox_parked} ({@link RefusedRecords}). */
    PARKED,
    /** Sent again by a later pass. */
    PENDING
  }

  /** Whether this is the events lane (else the doorbells lane). */
  final boolean events;

  /** The lane's name: its metric tag and its parked rows' {@code lane}. */
  final String name;

  final Outbox outbox;
  private final KafkaProducer<String, String> producer;
  private final ApiConfig.Outbox config;
  private final ApiMetrics metrics;
  private final Tracing tracing;

  /**
   * Counted refusals of the records Kafka refused while it took others (or refused for good), by
   * id; a record is parked at {@code park-after}.
   */
  private final Map<Long, Integer> tries = new HashMap<>();

  RelayLane(
      boolean events,
      KafkaProducer<String, String> producer,
      Outbox outbox,
      ApiConfig.Outbox config,
      ApiMetrics metrics,
      Tracing tracing) {
    this.events = events;
    this.name = events ? "events" : "doorbells";
    this.producer = producer;
    this.outbox = outbox;
    this.config = config;
    this.metrics = metrics;
    this.tracing = tracing;
  }

  /** Up to {@code limit} records that wait, in the order they are to be sent. */
  abstract List<OutboxMessage> next(int limit) throws Exception;

  /** The record that carries {@code m} to its topic. */
  abstract ProducerRecord<String, String> record(OutboxMessage m);

  /**
   * Topics of the batch that are missing and may not be made, with why, whose records are refused
   * without being sent. Empty for most lanes.
   */
  Map<String, Exception> unavailable(List<OutboxMessage> batch) throws Exception {
    return Map.of();
  }

  /**
   * Records in one transaction what became of a pass's records ({@code fates}, index by index), the
   * parked ones in {@code parked}. Called only when a record was taken or parked.
   */
  abstract void record(List<OutboxMessage> batch, Fate[] fates, List<Outbox.Parked> parked);

  @Override
  public int run() throws Exception {
    List<OutboxMessage> batch = next(config.batchSize());
    if (!batch.isEmpty()) {
      publish(batch);
    }
    return batch.size();
  }

  /**
   * Sends a batch, then records what Kafka acknowledged ({@link #acknowledged}). A send that waited
   * for its topic's metadata and timed out is not repeated for the rest of the batch's records of
   * that topic: each would wait {@code max.block.ms} again.
   */
  private void publish(List<OutboxMessage> batch) throws Exception {
    Map<String, Exception> unavailable = unavailable(batch);
    Map<String, Throwable> unseen = new HashMap<>();
    List<Future<RecordMetadata>> sent = new ArrayList<>(batch.size());
    for (OutboxMessage m : batch) {
      ProducerRecord<String, String> record = record(m);
      Throwable refused =
          unavailable.containsKey(record.topic())
              ? unavailable.get(record.topic())
              : unseen.get(record.topic());
      if (refused != null) {
        // Refused like a record Kafka refused: sent again, and parked if it stays so.
        sent.add(CompletableFuture.failedFuture(refused));
        continue;
      }
      Timer latency = metrics.publishTimer(m.topic());
      Span span = PublishSpans.start(tracing.tracer(), m);
      TraceContexts.toKafka(TraceContexts.of(span), record.headers());
      long start = System.nanoTime();
      Future<RecordMetadata> f;
      try {
        f =
            producer.send(
                record,
                // On the producer's I/O thread, when the broker acknowledged it: the latency of
                // this record, not of the batch we wait for below.
                (ack, e) -> {
                  if (e == null) {
                    latency.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                  }
                  PublishSpans.end(span, ack, e);
                });
      } catch (RuntimeException e) {
        PublishSpans.end(span, null, e);
        acknowledged(batch.subList(0, sent.size()), sent);
        throw e;
      }
      sent.add(f);
      Throwable failedAtOnce = failedAtOnce(f);
      if (failedAtOnce != null && RefusedRecords.unreachable(failedAtOnce)) {
        unseen.put(record.topic(), failedAtOnce);
      }
    }
    acknowledged(batch, sent);
  }

  /** The failure of a send that failed before it was handed to the broker, else null. */
  private static Throwable failedAtOnce(Future<RecordMetadata> f) {
    if (!f.isDone()) {
      return null;
    }
    try {
      f.get();
      return null;
    } catch (ExecutionException e) {
      return e.getCause() != null ? e.getCause() : e;
    } catch (Exception e) {
      return e;
    }
  }

  /**
   * Waits for the acknowledgements of what was sent and records them. What Kafka did not
   * acknowledge is sent again, unless it is parked ({@link RefusedRecords}): a record refused
   * {@code park-after} times while Kafka took others (or whose topic the broker said it cannot
   * have), or refused with an error no retry mends, is set aside in the same transaction. When
   * Kafka took nothing (the broker is unreachable), the failure is thrown after the record is
   * written.
   */
  private void acknowledged(List<OutboxMessage> batch, List<Future<RecordMetadata>> sent)
      throws Exception {
    Throwable[] errors = new Throwable[sent.size()];
    boolean anyTaken = false;
    for (int i = 0; i < sent.size(); i++) {
      try {
        sent.get(i).get(30, TimeUnit.SECONDS);
        anyTaken = true;
      } catch (ExecutionException e) {
        errors[i] = e.getCause() != null ? e.getCause() : e;
      } catch (Exception e) {
        errors[i] = e;
      }
    }
    Fate[] fates = new Fate[sent.size()];
    List<Outbox.Parked> parked = new ArrayList<>();
    Throwable failure = null;
    long pauseMillis = 0;
    for (int i = 0; i < sent.size(); i++) {
      OutboxMessage m = batch.get(i);
      if (errors[i] == null) {
        tries.remove(m.id());
        fates[i] = Fate.TAKEN;
        continue;
      }
      // The broker answered about this record's topic when it said the topic cannot be had.
      boolean answered = anyTaken || errors[i] instanceof TenantTopics.Refused;
      Outbox.Parked park =
          RefusedRecords.park(m, events, errors[i], answered, tries, config.parkAfter());
      if (park != null) {
        parked.add(park);
        metrics.parked(name);
        fates[i] = Fate.PARKED;
        continue;
      }
      fates[i] = Fate.PENDING;
      failure = failure == null ? errors[i] : failure;
      int counted = tries.getOrDefault(m.id(), 0);
      pauseMillis = Math.max(pauseMillis, Math.min(8_000, 1_000L << Math.max(0, counted - 1)));
    }
    if (anyTaken || !parked.isEmpty()) {
      record(batch.subList(0, sent.size()), fates, parked);
    }
    if (failure != null && !anyTaken) {
      throw failure instanceof Exception e ? e : new IllegalStateException(failure);
    }
    if (failure != null) {
      Log.warnf(
          "outbox relay, %s: Kafka refused some records while it took others (first: %s); they"
              + " are sent again in %d ms, and parked after %d tries",
          name, failure.toString(), pauseMillis, config.parkAfter());
      // 1 s, doubling with the refusals counted up to 8 s: a record is parked after some seconds
      // of steady refusal rather than five passes in a row.
      WokenLoop.sleep(Duration.ofMillis(pauseMillis));
    }
  }
}
