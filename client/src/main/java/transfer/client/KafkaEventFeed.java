package transfer.client;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.StringDeserializer;
import transfer.contracts.CloudEvent;
import transfer.contracts.Topics;

/**
 * Feeds a {@link TransferListener} from the results topic ({@code transfer-events}): the
 * server-side "relaunch". Every replica of a service that uses the same {@code groupId} shares the
 * topic's partitions (Kafka consumer-group semantics): a session's events go to whichever replica
 * holds its partition now, whether or not that replica submitted its tasks, and after a restart the
 * group resumes where it stopped.
 *
 * <p>Guarantees (see DESIGN.md beside this class): per session, events are delivered in sequence
 * order and each at most once per {@link DedupeStore}; an offset is committed only after the
 * listener returned for every event before it, so a crash delivers again and never skips; the
 * committed offset carries the partition's per-session sequences, so redelivered copies on the
 * topic are dropped after a restart even with the in-memory store. The one window left: a process
 * killed after a listener returned and before the commit (at most one poll's records, {@link
 * Builder#maxPollRecords}) sees those events again, unless the store is written together with the
 * listener's effect.
 *
 * <p>Threading: one consumer thread per feed calls the listener for every session, one event after
 * another. A listener that throws gets the same event again after a pause (growing to {@code
 * maxRetryBackoff}); the partition does not move past it meanwhile.
 */
public final class KafkaEventFeed implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(KafkaEventFeed.class.getName());

  /** Kafka's default {@code offset.metadata.max.bytes} is 4096; stay well below it. */
  static final int MAX_METADATA_CHARS = 3000;

  private final Builder config;
  private final Delivery delivery;
  private final ObjectMapper json;
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Object pauseLock = new Object();
  private volatile boolean running;

  /** Whether an event of another tenant (or none) was skipped and said so at WARNING. */
  private final AtomicBoolean refusedOnce = new AtomicBoolean();

  /** Per partition held: session → last delivered sequence (most recent last). */
  private final Map<TopicPartition, LinkedHashMap<String, Long>> watermarks = new HashMap<>();

  /** Per partition: the next offset to commit, once something moved. */
  private final Map<TopicPartition, Long> pending = new HashMap<>();

  private Consumer<String, String> consumer;

  private KafkaEventFeed(Builder b) {
    this.config = b;
    this.json = b.json;
    this.delivery = new Delivery(b.listener, b.store, json);
    this.thread = new Thread(this::run, "transfer-events-" + b.groupId);
    this.thread.setDaemon(false);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Configuration of a {@link KafkaEventFeed}. */
  public static final class Builder {
    private String bootstrapServers;
    private String groupId;
    private TransferListener listener;
    private DedupeStore store = new InMemoryDedupeStore();
    private Predicate<String> sessions = s -> true;
    private String tenant;
    private String topic = Topics.EVENTS;
    private int maxPollRecords = 100;
    private Duration pollTimeout = Duration.ofMillis(500);
    private Duration initialRetryBackoff = Duration.ofSeconds(1);
    private Duration maxRetryBackoff = Duration.ofSeconds(30);
    private String autoOffsetReset = "earliest";
    private final Properties extra = new Properties();
    private Function<Properties, Consumer<String, String>> consumers = KafkaConsumer::new;
    private boolean customConsumers;
    private ObjectMapper json =
        transfer.contracts.Json.configure(new ObjectMapper())
            .disable(
                com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Builder() {}

    /** The Kafka brokers, {@code host:port,…}. */
    public Builder bootstrapServers(String servers) {
      this.bootstrapServers = Objects.requireNonNull(servers);
      return this;
    }

    /**
     * The consumer group: the service's name, the same in every replica and across restarts (a new
     * group starts at the oldest retained event, see {@link #autoOffsetReset}).
     */
    public Builder groupId(String groupId) {
      this.groupId = Objects.requireNonNull(groupId);
      return this;
    }

    public Builder listener(TransferListener listener) {
      this.listener = Objects.requireNonNull(listener);
      return this;
    }

    /** What was delivered (default {@link InMemoryDedupeStore}). */
    public Builder dedupeStore(DedupeStore store) {
      this.store = Objects.requireNonNull(store);
      return this;
    }

    /**
     * Only the events of this tenant reach the listener (each event names its tenant). The topic is
     * the cluster's and carries every tenant's events, and session ids are unique per tenant only:
     * set this whenever another tenant may use the same session ids, or their events would mix into
     * one session's order. An event that names no tenant or another one is skipped: every event of
     * the cluster names its tenant.
     */
    public Builder tenant(String tenantId) {
      this.tenant = Objects.requireNonNull(tenantId);
      return this;
    }

    /**
     * Only the sessions this accepts reach the listener (default all). The topic is the cluster's:
     * it carries every tenant's sessions, so a service names its own (and its {@link #tenant}).
     */
    public Builder sessions(Predicate<String> accept) {
      this.sessions = Objects.requireNonNull(accept);
      return this;
    }

    /** Only these sessions reach the listener. */
    public Builder sessions(String... ids) {
      Set<String> set = Set.copyOf(Arrays.asList(ids));
      return sessions(set::contains);
    }

    /** The results topic (default {@code transfer-events}). */
    public Builder topic(String topic) {
      this.topic = Objects.requireNonNull(topic);
      return this;
    }

    /**
     * Records per poll, and so at most how many events a killed process sees again with a store
     * that is not written with the listener's effect (default 100).
     */
    public Builder maxPollRecords(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxPollRecords must be at least 1");
      }
      this.maxPollRecords = n;
      return this;
    }

    /** The first and the longest pause before a failed listener call is tried again. */
    public Builder retryBackoff(Duration initial, Duration max) {
      this.initialRetryBackoff = Objects.requireNonNull(initial);
      this.maxRetryBackoff = Objects.requireNonNull(max);
      return this;
    }

    /**
     * Where a group without committed offsets starts: {@code earliest} (default: every retained
     * event, nothing submitted before the first start is missed) or {@code latest}.
     */
    public Builder autoOffsetReset(String value) {
      this.autoOffsetReset = Objects.requireNonNull(value);
      return this;
    }

    /** Any other consumer property (security, timeouts); the feed's own settings win. */
    public Builder property(String name, Object value) {
      extra.put(name, value);
      return this;
    }

    /**
     * Standard Kafka client properties ({@code bootstrap.servers}, {@code security.protocol},
     * {@code sasl.*}, {@code ssl.*}, timeouts), as {@link #property} each; {@code
     * bootstrap.servers} among them stands for {@link #bootstrapServers}.
     */
    public Builder properties(Map<?, ?> properties) {
      properties.forEach((k, v) -> extra.put(String.valueOf(k), v));
      return this;
    }

    /**
     * The properties of a Kafka client properties file, the kind Kafka's own tools take with {@code
     * --consumer.config} (the local cluster's secured mode writes one, {@code
     * kafka-client.properties}), as {@link #properties}.
     */
    public Builder propertiesFile(Path file) {
      Properties p = new Properties();
      try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        p.load(in);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read Kafka client properties " + file, e);
      }
      return properties(p);
    }

    Builder pollTimeout(Duration d) {
      this.pollTimeout = d;
      return this;
    }

    Builder consumerFactory(Function<Properties, Consumer<String, String>> factory) {
      this.consumers = factory;
      this.customConsumers = true;
      return this;
    }

    public KafkaEventFeed build() {
      if (bootstrapServers == null
          && !extra.containsKey(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG)
          && !customConsumers) {
        throw new IllegalStateException(
            "KafkaEventFeed needs bootstrapServers (or bootstrap.servers among its properties)");
      }
      if (groupId == null || groupId.isBlank()) {
        throw new IllegalStateException(
            "KafkaEventFeed needs groupId (the service's name: the same in every replica)");
      }
      if (listener == null) {
        throw new IllegalStateException("KafkaEventFeed needs a listener");
      }
      return new KafkaEventFeed(this);
    }

    Properties properties() {
      Properties p = new Properties();
      p.putAll(extra);
      if (bootstrapServers != null) {
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
      }
      p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, autoOffsetReset);
      p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords);
      p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "transfer-client-" + groupId);
      p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      return p;
    }
  }

  /** Starts the consumer thread; answers this feed. */
  public KafkaEventFeed start() {
    if (running || thread.isAlive()) {
      throw new IllegalStateException("this feed was started already");
    }
    running = true;
    thread.start();
    return this;
  }

  /** Whether the consumer thread runs. */
  public boolean isRunning() {
    return thread.isAlive();
  }

  /**
   * Stops: the listener call under way finishes, what was delivered is committed, the consumer
   * leaves the group (its partitions go to the other replicas at once). Waits up to 30 s.
   */
  @Override
  public void close() {
    running = false;
    synchronized (pauseLock) {
      pauseLock.notifyAll();
    }
    if (Thread.currentThread() != thread) {
      try {
        stopped.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void run() {
    try (Consumer<String, String> c = config.consumers.apply(config.properties())) {
      consumer = c;
      c.subscribe(List.of(config.topic), new Rebalance());
      Duration backoff = config.initialRetryBackoff;
      while (running) {
        ConsumerRecords<String, String> records;
        try {
          records = c.poll(config.pollTimeout);
        } catch (RetriableException e) {
          // A broker away or slow (a timeout in a rebalance): poll again after a pause rather
          // than stop the feed.
          LOG.log(
              System.Logger.Level.WARNING,
              "the event feed of group {0} could not poll ({1}); trying again",
              config.groupId,
              e.toString());
          pause(backoff);
          backoff = min(backoff.multipliedBy(2), config.maxRetryBackoff);
          continue;
        }
        boolean failed = false;
        for (TopicPartition tp : records.partitions()) {
          for (ConsumerRecord<String, String> r : records.records(tp)) {
            if (!running) {
              // Stop between events: the rest is read again by whoever holds the partition.
              break;
            }
            try {
              handle(tp, r);
            } catch (RuntimeException listenerFailed) {
              failed = true;
              LOG.log(
                  System.Logger.Level.WARNING,
                  "the listener failed on the event at "
                      + tp
                      + " offset "
                      + r.offset()
                      + " (session "
                      + r.key()
                      + "); it is delivered again in "
                      + backoff.toMillis()
                      + " ms",
                  listenerFailed);
              c.seek(tp, r.offset());
              break; // the partition's later records come again after the seek
            }
            pending.put(tp, r.offset() + 1);
          }
        }
        commit(c);
        if (failed) {
          pause(backoff);
          backoff = min(backoff.multipliedBy(2), config.maxRetryBackoff);
        } else if (!records.isEmpty()) {
          backoff = config.initialRetryBackoff;
        }
      }
      commit(c);
    } catch (RuntimeException e) {
      LOG.log(
          System.Logger.Level.ERROR, "the event feed of group " + config.groupId + " stopped", e);
      try {
        config.listener.didBecomeInvalidWithError(null, e);
      } catch (RuntimeException ignored) {
        // the feed is stopping anyway
      }
    } finally {
      running = false;
      stopped.countDown();
    }
  }

  private void handle(TopicPartition tp, ConsumerRecord<String, String> r) {
    CloudEvent e;
    try {
      e = json.readValue(r.value(), CloudEvent.class);
    } catch (Exception notAnEvent) {
      LOG.log(
          System.Logger.Level.WARNING,
          "the record at {0} offset {1} is no CloudEvent and is skipped: {2}",
          tp,
          r.offset(),
          notAnEvent.getMessage());
      return;
    }
    // The key is the session (the topic's partitioning); an event without one names it in source.
    String sid = r.key() != null ? r.key() : Delivery.sessionOf(e);
    if (sid == null || !config.sessions.test(sid) || e.id() == null) {
      return;
    }
    if (config.tenant != null && !config.tenant.equals(e.tenant())) {
      // Another tenant's session of the same name, or an event that names no tenant: the
      // cluster's events all name theirs, so it did not come from the cluster.
      LOG.log(
          refusedOnce.getAndSet(true) ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING,
          "the event at {0} offset {1} names tenant {2}, not {3}: skipped (logged once at WARNING)",
          tp,
          r.offset(),
          e.tenant(),
          config.tenant);
      return;
    }
    LinkedHashMap<String, Long> marks = watermarks.computeIfAbsent(tp, k -> lru());
    Long floor = marks.get(sid);
    long known = floor == null ? 0 : floor;
    if (delivery.deliver(sid, e, known) == Delivery.Outcome.DELIVERED) {
      marks.put(sid, Math.max(delivery.store().lastSequence(sid), known));
    }
  }

  /** Commits the offsets that moved, each with its partition's per-session sequences. */
  private void commit(Consumer<String, String> c) {
    if (pending.isEmpty()) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    pending.forEach(
        (tp, offset) ->
            offsets.put(tp, new OffsetAndMetadata(offset, metadata(watermarks.get(tp)))));
    try {
      c.commitSync(offsets);
      pending.clear();
    } catch (CommitFailedException e) {
      // The group moved the partitions on (this consumer was too slow: max.poll.interval.ms):
      // their new owner starts at the last commit, and the floors and the store drop what this
      // one delivered since; with an in-memory store, those events are delivered again there.
      LOG.log(
          System.Logger.Level.WARNING,
          "offsets of group " + config.groupId + " not committed: the partitions were reassigned",
          e);
      pending.clear();
    } catch (RetriableException | RebalanceInProgressException e) {
      // The broker is unreachable for now, or a rebalance runs: committed at the next chance
      // (or, for partitions about to be revoked, by onPartitionsRevoked).
      LOG.log(
          System.Logger.Level.WARNING,
          "offsets of group {0} not committed yet ({1}); retrying",
          config.groupId,
          e.toString());
    }
  }

  /** The most recently delivered sessions' sequences that fit in the commit's metadata. */
  String metadata(LinkedHashMap<String, Long> marks) {
    if (marks == null || marks.isEmpty()) {
      return "";
    }
    List<Map.Entry<String, Long>> newestFirst = new ArrayList<>(marks.entrySet());
    java.util.Collections.reverse(newestFirst);
    Map<String, Long> kept = new LinkedHashMap<>();
    int size = 20;
    for (Map.Entry<String, Long> e : newestFirst) {
      size += e.getKey().length() + 24;
      if (size > MAX_METADATA_CHARS) {
        break;
      }
      kept.put(e.getKey(), e.getValue());
    }
    try {
      String s = json.writeValueAsString(Map.of("v", 1, "seq", kept));
      return s.length() <= MAX_METADATA_CHARS ? s : "";
    } catch (Exception e) {
      return "";
    }
  }

  /** The sequences a commit carried; empty when none or unreadable (another client's). */
  Map<String, Long> readMetadata(String metadata) {
    if (metadata == null || metadata.isEmpty()) {
      return Map.of();
    }
    try {
      Map<String, Object> m = json.readValue(metadata, new TypeReference<Map<String, Object>>() {});
      Map<String, Long> out = new HashMap<>();
      if (m.get("seq") instanceof Map<?, ?> seq) {
        seq.forEach((k, v) -> out.put(String.valueOf(k), ((Number) v).longValue()));
      }
      return out;
    } catch (Exception e) {
      return Map.of();
    }
  }

  private static LinkedHashMap<String, Long> lru() {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
        return size() > 100_000;
      }
    };
  }

  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      // Everything delivered is in pending (the listener runs on this thread): commit it before
      // another replica takes the partitions over.
      commit(consumer);
      // Whether or not that commit went through, these partitions are no longer this consumer's:
      // a later commit must not write an offset (without the floors) over their new owner's.
      partitions.forEach(
          tp -> {
            watermarks.remove(tp);
            pending.remove(tp);
          });
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      partitions.forEach(
          tp -> {
            watermarks.remove(tp);
            pending.remove(tp);
          });
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (partitions.isEmpty()) {
        return;
      }
      Map<TopicPartition, OffsetAndMetadata> committed;
      try {
        committed = consumer.committed(new HashSet<>(partitions));
      } catch (RuntimeException e) {
        // The broker did not answer in time (an exception here would stop the feed): go on
        // without the floors. Order still holds; a copy of an event delivered before the restart
        // may reach the listener again, unless the dedupe store is durable.
        LOG.log(
            System.Logger.Level.WARNING,
            "cannot read the committed floors of group {0} for {1} ({2}); events of these"
                + " partitions redelivered on the topic are dropped only by the dedupe store",
            config.groupId,
            partitions,
            e.toString());
        committed = Map.of();
      }
      for (TopicPartition tp : partitions) {
        OffsetAndMetadata om = committed.get(tp);
        LinkedHashMap<String, Long> marks = lru();
        if (om != null) {
          marks.putAll(readMetadata(om.metadata()));
        }
        watermarks.put(tp, marks);
      }
    }
  }

  private void pause(Duration d) {
    synchronized (pauseLock) {
      if (!running) {
        return;
      }
      try {
        pauseLock.wait(Math.max(1, d.toMillis()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        running = false;
      }
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
