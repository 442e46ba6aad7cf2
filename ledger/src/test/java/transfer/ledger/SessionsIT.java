package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;

/**
 * Sessions: invalidation (cancel, or let the open tasks finish), the drained event of an
 * invalidation, paging.
 */
class SessionsIT extends LedgerFixture {
  SessionsIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void aSessionThatAsksForCreatedEventsGetsOnePerTaskAndOthersNone() {
    String announcing = "s-" + UUID.randomUUID();
    ledger
        .sessions()
        .upsertSession(
            tenant,
            announcing,
            new SessionConfig(
                null, null, null, null, null, null, null, null, null, null, null, true));
    TaskRow t = submitIn(announcing, withPriority("http://a.test/created", 0.7));
    submit(withPriority("http://a.test/quiet", 0.7));

    List<JsonNode> created =
        numberedEvents(tenant, announcing, 0, 100).stream()
            .filter(e -> e.get("type").asText().equals("transfer.task.created"))
            .toList();
    assertThat(created).hasSize(1);
    JsonNode e = created.get(0);
    assertThat(e.get("id").asText()).isEqualTo(t.id() + ":created");
    assertThat(e.at("/data/taskId").asText()).isEqualTo(t.id());
    assertThat(e.at("/data/url").asText()).isEqualTo("http://a.test/created");
    assertThat(e.at("/data/state").asText()).isEqualTo("queued");
    assertThat(e.at("/data/priority").asDouble()).isEqualTo(0.7);
    assertThat(numberedEvents(tenant, session, 0, 100))
        .noneMatch(x -> x.get("type").asText().equals("transfer.task.created"));
  }

  @Test
  void invalidateAndCancelEndsEveryOpenTaskThenTheSessionIsDrainedOnce() {
    TaskRow queued = submit(withPriority("http://a.test/q", 0.1));
    TaskRow running = submit(withPriority("http://a.test/r", 0.9));
    long epoch = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    TaskRow waiting =
        submit(
            new TaskRequest(
                TaskType.DOWNLOAD,
                "http://a.test/w",
                null,
                null,
                null,
                null,
                null,
                null,
                clock.instant().plusSeconds(3600),
                null,
                null,
                null));
    assertThat(waiting.state()).isEqualTo(TaskState.WAITING);

    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, false), SessionState.INVALIDATED);

    for (TaskRow t : List.of(queued, running, waiting)) {
      assertThat(task(t.id()).state()).isEqualTo(TaskState.CANCELED);
    }
    assertThat(heartbeat(running.id(), epoch)).isFalse();
    List<JsonNode> events = numberedEvents(tenant, session, 0, 100);
    assertThat(events)
        .extracting(e -> e.get("type").asText())
        .containsExactly(
            "transfer.session.invalidated",
            "transfer.task.completed",
            "transfer.task.completed",
            "transfer.task.completed",
            "transfer.session.drained");
    assertThat(events.get(0).at("/data/finishTasks").asBoolean()).isFalse();
    assertThat(events.get(0).at("/data/state").asText()).isEqualTo("invalidated");
    JsonNode drained = events.get(4).get("data");
    assertThat(drained.get("tasks").get("canceled").asLong()).isEqualTo(3);
  }

  @Test
  void finishTasksAndInvalidateLeavesOpenTasksAlone() {
    TaskRow running = submit(withPriority("http://a.test/r", 0.9));
    long epoch = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, true), SessionState.FINISHING);
    assertThat(task(running.id()).state()).isEqualTo(TaskState.RUNNING);
    assertThat(
            ledger
                .leases()
                .completeDownload(Lease.of(running.id(), epoch), "file:///r", 1, "00", 1))
        .isTrue();
    assertThat(lastOfType("transfer.session.drained")).isNotNull();
    SessionRowAssert.state(
        Optional.of(ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT)),
        SessionState.ACTIVE);
    assertThat(ledger.sessions().invalidateSession(tenant, "no-such-session", true)).isEmpty();
  }

  @Test
  void anInvalidatedSessionTakesNoNewTaskAndStaysInvalidated() {
    ledger.sessions().invalidateSession(tenant, session, false);
    assertThatThrownBy(() -> submit(withPriority("http://a.test/late", 0.5)))
        .isInstanceOf(Sessions.SessionClosed.class)
        .extracting(e -> ((Sessions.SessionClosed) e).state())
        .isEqualTo(SessionState.INVALIDATED);
    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, true), SessionState.INVALIDATED);
    assertThatThrownBy(
            () ->
                ledger
                    .submissions()
                    .submit(
                        tenant,
                        "never-created",
                        withPriority("http://a.test/x", 0.5),
                        SessionConfig.DEFAULT.withDefaults(),
                        null,
                        null))
        .isInstanceOf(Sessions.SessionClosed.class);
  }

  @Test
  void invalidatingAnIdleSessionDrainsItAtOnceAndOnlyOnce() {
    ledger.sessions().invalidateSession(tenant, session, true);
    ledger.sessions().invalidateSession(tenant, session, true);
    assertThat(numberedEvents(tenant, session, 0, 100))
        .extracting(e -> e.get("type").asText())
        .containsExactly("transfer.session.invalidated", "transfer.session.drained");
  }

  @Test
  void sessionsArePagedById() {
    String t2 = "t-" + UUID.randomUUID();
    ledger.tenants().ensureTenantKey(t2, "k-" + t2, UUID.randomUUID().toString().getBytes());
    for (String id : List.of("c", "a", "b")) {
      ledger.sessions().upsertSession(t2, id, SessionConfig.DEFAULT);
    }
    assertThat(ledger.sessions().sessions(t2, null, 2))
        .extracting(SessionRow::id)
        .containsExactly("a", "b");
    assertThat(ledger.sessions().sessions(t2, "b", 2))
        .extracting(SessionRow::id)
        .containsExactly("c");
  }

  private static final class SessionRowAssert {
    static void state(Optional<SessionRow> row, SessionState expected) {
      assertThat(row).isPresent();
      assertThat(row.get().state()).isEqualTo(expected);
    }
  }
}
