package transfer.worker.claim;

import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.DatabindException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import transfer.contracts.Doorbell;
import transfer.contracts.Json;
import transfer.contracts.TaskIds;
import transfer.contracts.Topics;
import transfer.contracts.Topics.DeadLetterHeaders;

/**
 * What is a doorbell, and how a record that is none goes to {@link Topics#DEAD_LETTERS}: key and
 * value as they were, the record's own headers, and {@link DeadLetterHeaders} naming its topic,
 * partition, offset and timestamp, why it was refused and by which worker.
 */
final class DeadLetters {
  /** A value cut to this many bytes when the whole record cannot be written (too large). */
  static final int TRUNCATED_BYTES = 512 * 1024;

  private static final long SEND_TIMEOUT_SECONDS = 15;
  private static final int MAX_MESSAGE = 300;

  private DeadLetters() {}

  /**
   * Why a record is no doorbell: {@link #code()} is {@code empty}, {@code not_json} or {@code
   * wrong_shape}.
   */
  static final class Unreadable extends Exception {
    private final String code;

    Unreadable(String code, String message) {
      super(message, null, false, false);
      this.code = code;
    }

    String code() {
      return code;
    }
  }

  /** The doorbell in this value, or why there is none. */
  static Doorbell read(byte[] value) throws Unreadable {
    if (value == null) {
      throw new Unreadable("empty", "the record has no value (a tombstone)");
    }
    if (value.length == 0) {
      throw new Unreadable("empty", "the value is empty");
    }
    Doorbell bell;
    try {
      bell = Json.mapper().readValue(value, Doorbell.class);
    } catch (StreamReadException e) {
      throw new Unreadable("not_json", brief(e.getOriginalMessage()));
    } catch (DatabindException e) {
      throw new Unreadable("wrong_shape", brief(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new Unreadable("not_json", brief(e.getMessage()));
    }
    if (bell == null) {
      throw new Unreadable("wrong_shape", "JSON null, not a doorbell object");
    }
    if (!TaskIds.isTaskId(bell.taskId())) {
      throw new Unreadable("wrong_shape", "taskId is missing or not a task id");
    }
    if (bell.sessionId() == null || bell.sessionId().isBlank()) {
      throw new Unreadable("wrong_shape", "sessionId is missing");
    }
    return bell;
  }

  /**
   * Writes the record to the dead-letter topic and waits for Kafka's acknowledgement. A record too
   * large to be written whole (its value near the broker's limit, plus these headers) is written
   * with its value cut to {@link #TRUNCATED_BYTES}, marked so.
   *
   * @throws KafkaException when it was not written; nothing is lost, the caller tries again
   */
  static RecordMetadata send(
      Producer<byte[], byte[]> producer,
      ConsumerRecord<byte[], byte[]> r,
      Unreadable why,
      String workerId) {
    try {
      return await(producer, record(r, why, workerId, r.value()));
    } catch (RecordTooLargeException e) {
      byte[] cut = Arrays.copyOf(r.value(), Math.min(r.value().length, TRUNCATED_BYTES));
      ProducerRecord<byte[], byte[]> smaller = record(r, why, workerId, cut);
      add(smaller.headers(), DeadLetterHeaders.TRUNCATED, "true");
      add(smaller.headers(), DeadLetterHeaders.ORIGINAL_SIZE, String.valueOf(r.value().length));
      return await(producer, smaller);
    }
  }

  private static RecordMetadata await(
      Producer<byte[], byte[]> producer, ProducerRecord<byte[], byte[]> record) {
    try {
      return producer.send(record).get(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof KafkaException k) {
        throw k;
      }
      throw new KafkaException(e.getCause());
    } catch (TimeoutException e) {
      throw new KafkaException("no acknowledgement within " + SEND_TIMEOUT_SECONDS + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KafkaException("interrupted", e);
    }
  }

  private static ProducerRecord<byte[], byte[]> record(
      ConsumerRecord<byte[], byte[]> r, Unreadable why, String workerId, byte[] value) {
    ProducerRecord<byte[], byte[]> out =
        new ProducerRecord<>(Topics.DEAD_LETTERS, null, r.key(), value);
    for (Header h : r.headers()) {
      out.headers().add(h);
    }
    add(out.headers(), DeadLetterHeaders.TOPIC, r.topic());
    add(out.headers(), DeadLetterHeaders.PARTITION, String.valueOf(r.partition()));
    add(out.headers(), DeadLetterHeaders.OFFSET, String.valueOf(r.offset()));
    add(out.headers(), DeadLetterHeaders.TIMESTAMP, String.valueOf(r.timestamp()));
    add(out.headers(), DeadLetterHeaders.ERROR, why.code());
    add(out.headers(), DeadLetterHeaders.MESSAGE, why.getMessage());
    add(out.headers(), DeadLetterHeaders.WORKER, workerId);
    return out;
  }

  private static void add(Headers headers, String name, String value) {
    headers.add(name, value.getBytes(StandardCharsets.UTF_8));
  }

  /** A key (or any bytes) for a log line: at most 64 printable characters. */
  static String printable(byte[] bytes) {
    if (bytes == null) {
      return "none";
    }
    String s = new String(bytes, 0, Math.min(bytes.length, 64), StandardCharsets.UTF_8);
    return s.replaceAll("[^\\x20-\\x7e]", "?") + (bytes.length > 64 ? "…" : "");
  }

  static String describe(Exception e) {
    return brief(e.getClass().getSimpleName() + ": " + e.getMessage());
  }

  /** One line, short enough for a log: a parser's message may quote the bad input. */
  private static String brief(String message) {
    if (message == null) {
      return "no detail";
    }
    String line = message.replaceAll("[\\x00-\\x1f\\x7f]+", " ").trim();
    return line.length() > MAX_MESSAGE ? line.substring(0, MAX_MESSAGE) + "…" : line;
  }
}
