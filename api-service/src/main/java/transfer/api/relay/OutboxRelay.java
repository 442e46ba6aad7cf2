package transfer.api.relay;

import io.agroal.api.AgroalDataSource;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringSerializer;
import transfer.api.ApiConfig;
import transfer.api.events.EventSignal;
import transfer.api.metrics.ApiMetrics;
import transfer.api.trace.Tracing;
import transfer.contracts.KafkaClientProperties;
import transfer.ledger.EventSequencer;
import transfer.ledger.EventWakeups;
import transfer.ledger.Outbox;

/**
 * Publishes to Kafka what waits for it in the ledger, in two lanes that do not wait for each other:
 * the outbox's doorbells ({@link DoorbellLane}) and the numbered events ({@link EventLane}). Beside
 * them, a loop numbers new events ({@link EventSequencer#sequenceEvents}). Each of the three runs
 * on a thread and a listening connection of its own ({@link WokenLoop}): a lane that waits (an
 * events topic whose metadata Kafka does not answer, an acknowledgement that takes the delivery
 * timeout) delays neither the other lane nor the numbering, and numbered events reach replay and
 * SSE whatever Kafka does.
 *
 * <p>One relay in the cluster runs at a time, the holder of a PostgreSQL advisory lock, so that one
 * session's events keep their order. The events lane listens on the connection that holds it; when
 * that connection fails the replica stops leading (its other loops stop too) and tries again 2 s
 * later, as the other replicas do. A leader whose lane Kafka has taken nothing from for {@code
 * transfer.outbox.step-down-after} steps down for {@link #STEP_DOWN_PAUSE}, so that another replica
 * may lead.
 */
@Singleton
public class OutboxRelay {
  private static final long LOCK_KEY = 0x7472616e73666572L; // "transfer"

  /** How long a leader that stepped down waits before it tries to lead again. */
  static final Duration STEP_DOWN_PAUSE = Duration.ofSeconds(5);

  private final AgroalDataSource dataSource;
  private final EventSequencer eventSequencer;
  private final Outbox outbox;
  private final ApiConfig config;
  private final ApiMetrics metrics;
  private final Tracing tracing;
  private final Map<String, Object> kafkaConfig;

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

  /** The loops notice within one idle poll; what is not yet published waits for the next leader. */
  void stop(@Observes ShutdownEvent ev) throws InterruptedException {
    running = false;
    if (thread != null) {
      thread.join(config.outbox().idlePoll().toMillis() + 10_000);
    }
  }

  private void run() {
    TenantTopics tenantTopics =
        new TenantTopics(
            this::admin,
            config.outbox().createTenantTopics(),
            config.outbox().tenantTopicPartitions());
    try {
      while (running) {
        boolean steppedDown = false;
        try (Connection lock = dataSource.getConnection()) {
          if (!tryLock(lock)) {
            WokenLoop.sleep(WokenLoop.RETRY);
            continue;
          }
          Log.info("outbox relay: this replica numbers events and publishes doorbells and events");
          try {
            steppedDown = lead(lock, tenantTopics);
          } finally {
            // The connection goes back to the pool: with the lock still held, no replica (this
            // one included, on another pooled connection) could lead again.
            EventSignal.reset(lock);
          }
        } catch (Exception e) {
          if (running) {
            Log.warnf(
                "outbox relay: %s; doorbells stay in the outbox and events after the relay's cursor"
                    + " wait, trying to lead again in %d s",
                e.getMessage(), WokenLoop.RETRY.toSeconds());
            WokenLoop.sleep(WokenLoop.RETRY);
          }
        }
        if (steppedDown && running) {
          // The other replicas try every 2 s: one of them takes the lead meanwhile, if any can.
          WokenLoop.sleep(STEP_DOWN_PAUSE);
        }
      }
    } finally {
      tenantTopics.close();
    }
  }

  /**
   * Leads until the lock's connection fails, the service stops, or a lane's passes have failed for
   * {@code transfer.outbox.step-down-after} (answers true then): the events lane here, on the
   * lock's connection; the sequencer and the doorbells lane on threads of their own, stopped when
   * this returns. Each lane has a Kafka producer of its own, made for this leadership: a lane whose
   * records wait (for metadata, or in the producer's buffer) takes nothing from the other's, and a
   * producer that failed for good is not kept.
   */
  private boolean lead(Connection lock, TenantTopics tenantTopics) throws Exception {
    AtomicBoolean leading = new AtomicBoolean(true);
    BooleanSupplier go = () -> running && leading.get();
    ApiConfig.Outbox c = config.outbox();
    List<Thread> others = new ArrayList<>();
    KafkaProducer<String, String> doorbells = producer("doorbells");
    KafkaProducer<String, String> events = producer("events");
    try {
      WokenLoop doorbellLoop =
          new WokenLoop(
              "outbox-doorbells",
              "doorbells stay in the outbox (workers still find their tasks by polling)",
              dataSource,
              c,
              EventWakeups.DOORBELLS,
              OptionalLong.of(EventWakeups.RELAY_ASLEEP),
              new DoorbellLane(doorbells, outbox, c, metrics, tracing),
              go);
      WokenLoop[] eventLoop = new WokenLoop[1];
      AtomicBoolean steppedDown = new AtomicBoolean();
      eventLoop[0] =
          new WokenLoop(
              "outbox-events",
              "numbered events after the relay's cursor wait (replay and SSE serve them)",
              dataSource,
              c,
              EventWakeups.EVENTS_NUMBERED,
              // The sequencer notifies once per round whether this lane sleeps or not.
              OptionalLong.empty(),
              new EventLane(events, tenantTopics, outbox, c, metrics, tracing),
              () ->
                  go.getAsBoolean()
                      && !stepDown(c.stepDownAfter(), steppedDown, doorbellLoop, eventLoop[0]));
      others.add(
          start(
              new WokenLoop(
                  "event-sequencer",
                  "new events wait unnumbered in the events table (replay, SSE and Kafka do not"
                      + " see them yet)",
                  dataSource,
                  c,
                  EventWakeups.EVENTS_WRITTEN,
                  OptionalLong.of(EventWakeups.SEQUENCER_ASLEEP),
                  sequencer(c.batchSize()),
                  go)));
      others.add(start(doorbellLoop));
      eventLoop[0].runOn(lock);
      return steppedDown.get();
    } finally {
      leading.set(false);
      for (Thread t : others) {
        // A lane may be waiting for Kafka's acknowledgements (up to 30 s).
        t.join(c.idlePoll().toMillis() + 35_000);
      }
      doorbells.close(Duration.ofSeconds(5));
      events.close(Duration.ofSeconds(5));
    }
  }

  /**
   * Whether to stop leading: a lane's passes have failed for {@code after} (Kafka takes nothing
   * from it). Another replica may reach Kafka where this one cannot (its network path, its
   * credentials), and the next leadership makes new producers.
   */
  private static boolean stepDown(Duration after, AtomicBoolean steppedDown, WokenLoop... lanes) {
    if (steppedDown.get()) {
      return true;
    }
    for (WokenLoop lane : lanes) {
      if (lane != null && lane.failingFor().compareTo(after) >= 0) {
        Log.warnf(
            "outbox relay: %s has failed for %d s; this replica stops leading for %d s, so that"
                + " another replica (which may reach Kafka) can lead, and leads again with new"
                + " Kafka producers if none does",
            lane.name(), lane.failingFor().toSeconds(), STEP_DOWN_PAUSE.toSeconds());
        steppedDown.set(true);
        return true;
      }
    }
    return false;
  }

  /** The sequencer's pass: one numbering round ({@link EventSequencer#sequenceEvents}). */
  private WokenLoop.Pass sequencer(int batch) {
    return new WokenLoop.Pass() {
      @Override
      public boolean look() {
        return eventSequencer.hasNewEvents();
      }

      @Override
      public int run() {
        return eventSequencer.sequenceEvents(batch);
      }
    };
  }

  private static Thread start(WokenLoop loop) {
    Thread t = new Thread(loop, loop.name());
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static boolean tryLock(Connection c) throws Exception {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("select pg_try_advisory_lock(" + LOCK_KEY + ")")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  /**
   * A lane's producer: the service's Kafka configuration (every {@code kafka.*} key, {@code
   * KAFKA_*} in the environment: brokers, security, timeouts) over the relay's defaults, and the
   * settings publishing relies on over both.
   */
  private KafkaProducer<String, String> producer(String lane) {
    KafkaClientProperties.Merged p =
        KafkaClientProperties.merge(
            kafkaConfig,
            Map.of(
                // No wait for more: a lane hands over a whole batch before it waits for the
                // acks, so records batch up by themselves while a request is in flight; an idle
                // doorbell goes at once.
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000,
                ProducerConfig.CLIENT_ID_CONFIG, "transfer-outbox-relay-" + lane),
            KafkaClientProperties.idempotentProducer(StringSerializer.class.getName()));
    Log.infof("outbox relay, %s: Kafka producer %s", lane, p.describe());
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
}
