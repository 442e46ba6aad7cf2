package transfer.worker.claim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import transfer.contracts.Doorbell;
import transfer.contracts.Topics;
import transfer.contracts.Topics.DeadLetterHeaders;

class DeadLettersTest {
  private static final String TASK = UUID.randomUUID().toString();

  @Test
  void aDoorbellIsReadAndEverythingElseIsNamed() throws Exception {
    Doorbell bell = DeadLetters.read(bytes("{\"taskId\":\"" + TASK + "\",\"sessionId\":\"s\"}"));
    assertThat(bell.taskId()).isEqualTo(TASK);
    refused(null, "empty");
    refused(new byte[0], "empty");
    refused(bytes("garbage"), "not_json");
    refused(bytes("{\"taskId\":"), "not_json");
    refused(new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1}, "not_json");
    refused(bytes("null"), "wrong_shape");
    refused(bytes("[1,2]"), "wrong_shape");
    refused(bytes("\"a doorbell\""), "wrong_shape");
    refused(bytes("{}"), "wrong_shape");
    refused(bytes("{\"order\":17}"), "wrong_shape");
    refused(bytes("{\"taskId\":\"x\",\"sessionId\":\"s\"}"), "wrong_shape");
    refused(bytes("{\"taskId\":\"" + TASK + "\"}"), "wrong_shape");
    refused(bytes("x".repeat(2_000_000)), "not_json");
  }

  @Test
  void theDeadLetterKeepsKeyValueAndHeadersAndSaysWhereFromAndWhy() throws Exception {
    MockProducer<byte[], byte[]> producer =
        new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
    ConsumerRecord<byte[], byte[]> r =
        new ConsumerRecord<>("transfer-tasks", 7, 42L, bytes("k"), bytes("garbage"));
    r.headers().add("trace", bytes("t1"));
    RecordMetadata m = DeadLetters.send(producer, r, unreadable(r.value()), "worker-1");
    assertThat(m.topic()).isEqualTo(Topics.DEAD_LETTERS);
    ProducerRecord<byte[], byte[]> sent = producer.history().get(0);
    assertThat(sent.topic()).isEqualTo("transfer-tasks-dlq");
    assertThat(sent.key()).isEqualTo(bytes("k"));
    assertThat(sent.value()).isEqualTo(bytes("garbage"));
    assertThat(header(sent, "trace")).isEqualTo("t1");
    assertThat(header(sent, DeadLetterHeaders.TOPIC)).isEqualTo("transfer-tasks");
    assertThat(header(sent, DeadLetterHeaders.PARTITION)).isEqualTo("7");
    assertThat(header(sent, DeadLetterHeaders.OFFSET)).isEqualTo("42");
    assertThat(header(sent, DeadLetterHeaders.ERROR)).isEqualTo("not_json");
    assertThat(header(sent, DeadLetterHeaders.MESSAGE)).contains("garbage");
    assertThat(header(sent, DeadLetterHeaders.WORKER)).isEqualTo("worker-1");
    assertThat(sent.headers().lastHeader(DeadLetterHeaders.TRUNCATED)).isNull();
  }

  @Test
  void aValueTooLargeToMoveWholeIsMovedCutAndMarked() throws Exception {
    MockProducer<byte[], byte[]> producer =
        new MockProducer<>(false, null, new ByteArraySerializer(), new ByteArraySerializer());
    byte[] huge = bytes("y".repeat(1_048_000));
    ConsumerRecord<byte[], byte[]> r = new ConsumerRecord<>("transfer-tasks", 0, 1L, null, huge);
    Thread broker =
        new Thread(
            () -> {
              await(producer, 1);
              producer.errorNext(new RecordTooLargeException("too large"));
              await(producer, 2);
              producer.completeNext();
            });
    broker.start();
    DeadLetters.send(producer, r, unreadable(huge), "w");
    broker.join();
    ProducerRecord<byte[], byte[]> sent = producer.history().get(1);
    assertThat(sent.value()).hasSize(DeadLetters.TRUNCATED_BYTES);
    assertThat(header(sent, DeadLetterHeaders.TRUNCATED)).isEqualTo("true");
    assertThat(header(sent, DeadLetterHeaders.ORIGINAL_SIZE)).isEqualTo("1048000");
  }

  @Test
  void aFailedMoveIsAnErrorNotASkip() {
    MockProducer<byte[], byte[]> producer =
        new MockProducer<>(false, null, new ByteArraySerializer(), new ByteArraySerializer());
    ConsumerRecord<byte[], byte[]> r =
        new ConsumerRecord<>("transfer-tasks", 0, 1L, null, bytes("x"));
    Thread broker =
        new Thread(
            () -> {
              await(producer, 1);
              producer.errorNext(new KafkaException("broker away"));
            });
    broker.start();
    assertThatThrownBy(() -> DeadLetters.send(producer, r, unreadable(r.value()), "w"))
        .isInstanceOf(KafkaException.class)
        .hasMessageContaining("broker away");
  }

  private static void await(MockProducer<byte[], byte[]> producer, int sends) {
    while (producer.history().size() < sends) {
      Thread.onSpinWait();
    }
  }

  /** Why {@code value} is no doorbell. */
  static DeadLetters.Unreadable unreadable(byte[] value) {
    try {
      DeadLetters.read(value);
    } catch (DeadLetters.Unreadable e) {
      return e;
    }
    throw new AssertionError("readable");
  }

  private static void refused(byte[] value, String code) {
    assertThatThrownBy(() -> DeadLetters.read(value))
        .as(value == null ? "null" : DeadLetters.printable(value))
        .isInstanceOfSatisfying(
            DeadLetters.Unreadable.class, e -> assertThat(e.code()).isEqualTo(code));
  }

  private static String header(ProducerRecord<byte[], byte[]> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
