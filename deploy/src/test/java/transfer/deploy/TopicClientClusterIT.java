package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;
import transfer.testkit.TestInfra;

/**
 * The results topic is enough to build on: a client that knows nothing but {@code transfer-events}
 * (a plain Kafka consumer in its own group, deduplicating by event id, restarted half-way as a
 * relaunched service would be) reconstructs, for every task, the same final state as the API
 * answers.
 */
class TopicClientClusterIT extends ClusterTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What the client knows of one task, from events alone. */
  record Known(String state, String errorCode, String sha256, String location, Long size) {}

  /**
   * The client: per-session order comes from the topic's key, duplicates are dropped by event id,
   * offsets are committed only after the events are applied (a crash re-reads, never skips).
   */
  static final class TopicOnlyClient implements AutoCloseable {
    private final KafkaConsumer<String, String> consumer;
    final Set<String> seenIds;
    final Map<String, Known> tasks;
    final Map<String, Integer> drained;
    final Map<String, Long> lastSequence;
    int duplicates;

    TopicOnlyClient(String group, TopicOnlyClient restoredFrom) {
      Properties p = new Properties();
      p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.shared().kafkaBootstrap());
      p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      consumer = new KafkaConsumer<>(p);
      consumer.subscribe(List.of(TestInfra.EVENTS_TOPIC));
      // The client's own store (a table in a real service) survives its restart.
      seenIds = restoredFrom == null ? new HashSet<>() : restoredFrom.seenIds;
      tasks = restoredFrom == null ? new LinkedHashMap<>() : restoredFrom.tasks;
      drained = restoredFrom == null ? new HashMap<>() : restoredFrom.drained;
      lastSequence = restoredFrom == null ? new HashMap<>() : restoredFrom.lastSequence;
    }

    /** Polls once, applies what came, and (when {@code commit}) commits after applying. */
    void pollOnce(String sessionId, boolean commit) throws Exception {
      for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
        if (!sessionId.equals(r.key())) {
          continue;
        }
        JsonNode e = JSON.readTree(r.value());
        if (!seenIds.add(e.get("id").asText())) {
          duplicates++;
          continue;
        }
        // Session ids are unique per tenant only: each event names its tenant.
        assertThat(e.path("tenant").asText()).as("the event's tenant").isEqualTo("default");
        long seq = e.get("sequence").asLong();
        assertThat(seq)
            .as("per-session order")
            .isGreaterThan(lastSequence.getOrDefault(r.key(), 0L));
        lastSequence.put(r.key(), seq);
        JsonNode d = e.get("data");
        switch (e.get("type").asText()) {
          case "transfer.task.completed" ->
              tasks.put(
                  e.get("subject").asText(),
                  new Known(
                      d.get("state").asText(),
                      d.path("error").isObject() ? d.get("error").get("code").asText() : null,
                      text(d, "sha256"),
                      text(d, "location"),
                      d.has("size") ? d.get("size").asLong() : null));
          case "transfer.session.drained" -> drained.merge(r.key(), 1, Integer::sum);
          default -> {}
        }
      }
      if (commit) {
        consumer.commitSync();
      }
    }

    @Override
    public void close() {
      consumer.close(Duration.ofSeconds(5));
    }

    private static String text(JsonNode d, String field) {
      JsonNode v = d.get(field);
      return v == null || v.isNull() ? null : v.asText();
    }
  }

  @Test
  void aClientOfTheResultsTopicAloneReconstructsEveryTasksFinalState() throws Exception {
    String sid = "topic-" + UUID.randomUUID();
    assertThat(
            cluster.call("PUT", "/v1/sessions/" + sid, "{\"retry\":{\"maxAttempts\":1}}").status())
        .isEqualTo(201);
    List<String> ids = new ArrayList<>();
    // First, so that the session cannot drain before every task is in: it waits until canceled.
    String later =
        submit(
            sid,
            "{\"type\":\"download\",\"url\":\""
                + origin.url("/bytes/10?seed=1")
                + "\",\"earliestBeginAt\":\""
                + Instant.now().plus(Duration.ofHours(1))
                + "\"}");
    for (int i = 0; i < 6; i++) {
      ids.add(
          submit(
              sid,
              "{\"type\":\"download\",\"url\":\""
                  + origin.url("/bytes/" + (100_000 + i) + "?seed=" + i)
                  + "\"}"));
    }
    ids.add(
        submit(
            sid, "{\"type\":\"download\",\"url\":\"" + origin.url("/bytes/10?status=404") + "\"}"));
    ids.add(
        submit(
            sid,
            "{\"type\":\"download\",\"url\":\""
                + origin.url("/bytes/1000?seed=9")
                + "\",\"sha256\":\""
                + "0".repeat(64)
                + "\"}"));
    assertThat(
            cluster
                .call("POST", "/v1/sessions/" + sid + "/tasks/" + later + "/cancel", "{}")
                .status())
        .isEqualTo(200);
    ids.add(later);

    String group = "topic-client-" + UUID.randomUUID();
    TopicOnlyClient first = new TopicOnlyClient(group, null);
    // Half-way: apply some events, then "crash" without committing the last batch.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              first.pollOnce(sid, true);
              return first.tasks.size() >= 3;
            });
    first.pollOnce(sid, false);
    first.close();

    try (TopicOnlyClient relaunched = new TopicOnlyClient(group, first)) {
      await()
          .atMost(Duration.ofSeconds(90))
          .until(
              () -> {
                relaunched.pollOnce(sid, true);
                return relaunched.tasks.keySet().containsAll(ids)
                    && relaunched.drained.containsKey(sid);
              });

      for (String id : ids) {
        JsonNode api = cluster.call("GET", "/v1/sessions/" + sid + "/tasks/" + id, null).body();
        Known known = relaunched.tasks.get(id);
        assertThat(known.state()).as("state of %s", id).isEqualTo(api.get("state").asText());
        assertThat(known.errorCode())
            .as("error of %s", id)
            .isEqualTo(api.path("error").isObject() ? api.get("error").get("code").asText() : null);
        assertThat(known.sha256()).as("sha256 of %s", id).isEqualTo(nullable(api, "sha256"));
        assertThat(known.location()).as("location of %s", id).isEqualTo(nullable(api, "location"));
        if (known.size() != null) {
          assertThat(known.size()).isEqualTo(api.get("bytesTransferred").asLong());
        }
      }
      Map<String, Long> states = new HashMap<>();
      relaunched.tasks.values().forEach(k -> states.merge(k.state(), 1L, Long::sum));
      assertThat(states)
          .containsEntry("completed", 6L)
          .containsEntry("failed", 2L)
          .containsEntry("canceled", 1L);
      assertThat(relaunched.tasks.get(ids.get(0)).sha256()).isEqualTo(Origin.sha256Hex(100_000, 0));
      assertThat(relaunched.drained.get(sid)).as("one drained event id").isEqualTo(1);
    }
  }

  private static String nullable(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static String submit(String sid, String body) throws Exception {
    ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
    assertThat(a.status()).as("submit %s: %s", body, a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }
}
