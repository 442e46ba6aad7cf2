package transfer.api.relay;

import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import transfer.api.ApiConfig;
import transfer.api.metrics.ApiMetrics;
import transfer.api.trace.Tracing;
import transfer.ledger.Outbox;
import transfer.ledger.OutboxMessage;

/**
 * The doorbells lane: the outbox's rows, oldest first, to {@code transfer-tasks}; a row is deleted
 * once Kafka acknowledged it. Doorbells need no order among themselves (a worker claims whatever is
 * best when one rings), so each is recorded by itself, whatever became of the others. The lane
 * reads by id without a high-water mark, so a row that commits late is never skipped.
 */
final class DoorbellLane extends RelayLane {
  DoorbellLane(
      KafkaProducer<String, String> producer,
      Outbox outbox,
      ApiConfig.Outbox config,
      ApiMetrics metrics,
      Tracing tracing) {
    super(false, producer, outbox, config, metrics, tracing);
  }

  @Override
  public boolean look() {
    return outbox.hasDoorbells();
  }

  @Override
  List<OutboxMessage> next(int limit) {
    return outbox.oldestDoorbells(limit);
  }

  @Override
  ProducerRecord<String, String> record(OutboxMessage m) {
    return new ProducerRecord<>(m.topic(), m.key(), m.payload());
  }

  @Override
  void record(List<OutboxMessage> batch, Fate[] fates, List<Outbox.Parked> parked) {
    List<Long> taken = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      if (fates[i] == Fate.TAKEN) {
        taken.add(batch.get(i).id());
      }
    }
    outbox.doorbellsPublished(taken, parked);
  }
}
