package transfer.api.relay;

import io.quarkus.logging.Log;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The per-tenant results topics ({@code transfer.outbox.topic-per-tenant}): before the relay
 * publishes to a tenant's topic for the first time, it makes sure the topic exists, and creates it
 * when it is missing and creating is allowed. Known topics are remembered, so this costs one Admin
 * call per new tenant, not per batch. A topic counts as known only once every partition has a
 * leader: a first produce to a topic created a moment ago can be refused (NOT_LEADER_OR_FOLLOWER),
 * and the idempotent producer's later batches then stall on out-of-order sequence numbers until the
 * relay's send times out.
 */
final class TenantTopics implements AutoCloseable {
  private static final long TIMEOUT_MS = 10_000;

  /**
   * The broker's answer that a tenant topic cannot be had: missing and not to be created, or
   * refused to this principal. It counts against the topic's records (they are parked after their
   * tries); a topic whose partitions have no leader yet is not this: its records wait.
   */
  static final class Refused extends IllegalStateException {
    Refused(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final Supplier<Admin> admins;
  private final boolean create;
  private final int partitions;
  private final Set<String> known = ConcurrentHashMap.newKeySet();
  private Admin admin; // made on need: no Admin client unless topics are per tenant

  TenantTopics(Supplier<Admin> admins, boolean create, int partitions) {
    this.admins = admins;
    this.create = create;
    this.partitions = partitions;
  }

  /**
   * Returns once every one of {@code topics} exists; throws, saying which topic and what to do,
   * when one is missing and cannot be created (the relay then tries the batch again later).
   */
  void ensure(Collection<String> topics) throws Exception {
    Set<String> unknown = new TreeSet<>(topics);
    unknown.removeAll(known);
    if (unknown.isEmpty()) {
      return;
    }
    Admin a = admin();
    List<String> missing = new ArrayList<>();
    for (Map.Entry<String, KafkaFuture<TopicDescription>> d :
        a.describeTopics(unknown).topicNameValues().entrySet()) {
      try {
        if (led(d.getValue().get(TIMEOUT_MS, TimeUnit.MILLISECONDS))) {
          known.add(d.getKey());
        } else {
          awaitLeaders(a, d.getKey());
        }
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
          String message = "cannot see the tenant topic " + d.getKey() + ": " + e.getCause();
          throw e.getCause() instanceof RetriableException
              ? new IllegalStateException(message, e.getCause())
              : new Refused(message, e.getCause());
        }
        missing.add(d.getKey());
      }
    }
    if (missing.isEmpty()) {
      return;
    }
    if (!create) {
      throw new Refused(
          "the tenant topics "
              + missing
              + " do not exist: create them (one per tenant, transfer-events.<tenant>), or let the"
              + " relay create them (transfer.outbox.create-tenant-topics=true)",
          null);
    }
    List<NewTopic> toCreate =
        missing.stream()
            .map(t -> new NewTopic(t, Optional.of(partitions), Optional.empty()))
            .toList();
    for (Map.Entry<String, KafkaFuture<Void>> c : a.createTopics(toCreate).values().entrySet()) {
      try {
        c.getValue().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        Log.infof(
            "outbox relay: created the tenant topic %s (%d partitions)", c.getKey(), partitions);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          String message =
              "cannot create the tenant topic "
                  + c.getKey()
                  + " ("
                  + e.getCause()
                  + "): grant the api-service's principal CREATE on the topics prefixed"
                  + " transfer-events., or create the topic";
          throw e.getCause() instanceof RetriableException
              ? new IllegalStateException(message, e.getCause())
              : new Refused(message, e.getCause());
        }
      }
      awaitLeaders(a, c.getKey());
    }
  }

  /** Returns once every partition of {@code topic} has a leader; throws after the timeout. */
  private void awaitLeaders(Admin a, String topic) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
    while (true) {
      try {
        if (led(
            a.describeTopics(List.of(topic))
                .topicNameValues()
                .get(topic)
                .get(TIMEOUT_MS, TimeUnit.MILLISECONDS))) {
          known.add(topic);
          return;
        }
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
          throw e;
        }
        // created, not visible yet
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "the tenant topic "
                + topic
                + " has partitions without a leader after "
                + TIMEOUT_MS
                + " ms; its events wait and the relay tries again");
      }
      Thread.sleep(100);
    }
  }

  /** Whether every partition of the topic has a leader. */
  static boolean led(TopicDescription d) {
    return !d.partitions().isEmpty()
        && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty());
  }

  private synchronized Admin admin() {
    if (admin == null) {
      admin = admins.get();
    }
    return admin;
  }

  @Override
  public synchronized void close() {
    if (admin != null) {
      admin.close(java.time.Duration.ofSeconds(5));
    }
  }
}
