package transfer.deploy.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import transfer.deploy.ApiClient;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * A chaos test's view of its sessions' events: on {@value TestInfra#EVENTS_TOPIC} and in the API's
 * replay, and the assertions every fault ends with (one completion per task, nothing on the topic
 * that the ledger did not record).
 */
final class SessionEvents {
  private final String bootstrap;
  private final ApiClient client;

  SessionEvents(String bootstrap, ApiClient client) {
    this.bootstrap = bootstrap;
    this.client = client;
  }

  /**
   * The session's events on {@code transfer-events}, read until every one of {@code taskIds} has a
   * completion event (or the timeout passes; the assertions then say what is missing).
   */
  List<JsonNode> eventsUntilCompleted(String sid, Collection<String> taskIds, Duration timeout) {
    Set<String> wanted = Set.copyOf(taskIds);
    return EventLog.readSession(
        bootstrap,
        TestInfra.EVENTS_TOPIC,
        sid,
        got -> completedTasks(got).containsAll(wanted),
        timeout);
  }

  /** The tasks that have a {@code transfer.task.completed} among {@code events}. */
  static Set<String> completedTasks(List<JsonNode> events) {
    return events.stream()
        .filter(e -> e.path("type").asText().equals("transfer.task.completed"))
        .map(e -> e.path("subject").asText())
        .collect(Collectors.toSet());
  }

  /**
   * Reads the session's events until each of {@code taskIds} completed (or {@code timeout}), then
   * {@link #assertExactlyOneCompletionEach}.
   */
  void assertOneCompletionEach(String sid, Collection<String> taskIds, Duration timeout) {
    assertExactlyOneCompletionEach(eventsUntilCompleted(sid, taskIds, timeout), taskIds);
  }

  /** {@link #assertOneCompletionEach(String, Collection, Duration)} as a soft assertion. */
  void assertOneCompletionEach(
      org.assertj.core.api.SoftAssertions soft,
      String sid,
      Collection<String> taskIds,
      Duration timeout) {
    soft.assertThatCode(() -> assertOneCompletionEach(sid, taskIds, timeout))
        .doesNotThrowAnyException();
  }

  /**
   * Exactly one completion per task: one distinct {@code transfer.task.completed} id, {@code
   * <task>:completed}, and any copy on the topic (a redelivery after a broker fault) identical to
   * the first. No completion for a task that is not one of {@code taskIds}.
   */
  static void assertExactlyOneCompletionEach(List<JsonNode> events, Collection<String> taskIds) {
    Map<String, List<JsonNode>> completedBySubject = new HashMap<>();
    for (JsonNode e : events) {
      if (e.path("type").asText().equals("transfer.task.completed")) {
        completedBySubject
            .computeIfAbsent(e.path("subject").asText(), k -> new ArrayList<>())
            .add(e);
      }
    }
    assertThat(completedBySubject.keySet())
        .as("tasks with a completion event")
        .containsExactlyInAnyOrderElementsOf(Set.copyOf(taskIds));
    for (Map.Entry<String, List<JsonNode>> c : completedBySubject.entrySet()) {
      List<JsonNode> copies = c.getValue();
      assertThat(copies.stream().map(e -> e.path("id").asText()).distinct())
          .as("distinct completion ids of task %s", c.getKey())
          .containsExactly(c.getKey() + ":completed");
      assertThat(copies)
          .as("every copy of the completion of task %s on the topic is the same event", c.getKey())
          .allMatch(e -> e.equals(copies.get(0)));
    }
  }

  /** The session's stored events, oldest first, from the API's replay (not from Kafka). */
  List<JsonNode> replay(String sid) throws Exception {
    return client.replay(sid);
  }

  /**
   * No phantom events: every event on the topic for this session is one the ledger recorded (same
   * id, same sequence), and every recorded event reached the topic.
   */
  void assertTopicMatchesLedger(String sid, List<JsonNode> topicEvents) throws Exception {
    Map<String, Long> recorded = new HashMap<>();
    for (JsonNode e : replay(sid)) {
      recorded.put(e.get("id").asText(), e.get("sequence").asLong());
    }
    Map<String, Long> onTopic = new HashMap<>();
    for (JsonNode e : topicEvents) {
      onTopic.put(e.get("id").asText(), e.get("sequence").asLong());
    }
    assertThat(onTopic).as("events on the topic vs. events in the ledger").isEqualTo(recorded);
  }
}
