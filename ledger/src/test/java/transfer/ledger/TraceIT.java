package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.MDC;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Where the ledger keeps a task's W3C trace context (V8) and which context each outbox row carries:
 * the submit's on the task and every doorbell of it (the reaper's too), the writer's on the events
 * it writes, the task's own on events written without one.
 */
class TraceIT extends LedgerFixture {
  static final TraceContext SUBMIT =
      new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=x1");
  static final TraceContext ATTEMPT =
      new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", null);

  TraceIT() {
    super("2026-01-01T00:00:00Z");
  }

  private TaskRow submitWith(TraceContext trace) {
    return ledger
        .submissions()
        .submit(
            tenant,
            session,
            TaskRequest.download("http://127.0.0.1/x"),
            SessionConfig.DEFAULT.withDefaults(),
            null,
            trace)
        .task();
  }

  @Test
  void aSubmitStoresItsContextWithTheTaskAndItsDoorbell() throws Exception {
    TaskRow t = submitWith(SUBMIT);
    assertThat(t.trace()).isEqualTo(SUBMIT);
    assertThat(ledger.taskControl().task(tenant, session, t.id()).orElseThrow().trace())
        .isEqualTo(SUBMIT);
    assertThat(outbox("transfer-tasks", t.id())).containsExactly(SUBMIT);
  }

  @Test
  void aBatchStoresTheContextWithEveryTask() throws Exception {
    var batch =
        ledger
            .submissions()
            .submitBatch(
                tenant,
                session,
                List.of(
                    TaskRequest.download("http://127.0.0.1/a"),
                    TaskRequest.download("http://127.0.0.1/b")),
                SessionConfig.DEFAULT.withDefaults(),
                null,
                SUBMIT);
    for (TaskRow t : batch.tasks()) {
      assertThat(t.trace()).isEqualTo(SUBMIT);
      assertThat(outbox("transfer-tasks", t.id())).containsExactly(SUBMIT);
    }
  }

  @Test
  void theReapersDoorbellOfAnExpiredLeaseCarriesTheTasksStoredContext() throws Exception {
    TaskRow t = submitWith(SUBMIT);
    TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow();
    clock.advance(Duration.ofSeconds(31));
    // The reaper's ledger has no context of its own.
    assertThat(ledger.reaping().reapExpiredLeases(100).requeued()).isEqualTo(1);
    assertThat(outbox("transfer-tasks", t.id())).containsExactly(SUBMIT, SUBMIT);
  }

  @Test
  void anAttemptsEventsCarryItsContextAndTheDrainedEventFollowsTheCompletion() throws Exception {
    TaskRow t = submitWith(SUBMIT);
    long epoch =
        TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    Lease attempt = Lease.of(t.id(), epoch).withTrace(ATTEMPT);
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    attempt, Duration.ofSeconds(30), new Leases.Heartbeat(5, null, 10L, true, 5)))
        .isTrue();
    assertThat(ledger.leases().completeDownload(attempt, "file:///x", 10, "00", 5)).isTrue();
    sequenceAll();
    // progress (heartbeat), progress (last), downloaded, completed, then drained: all the attempt's
    List<TraceContext> events = outbox("transfer-events", session);
    assertThat(events).hasSize(5).containsOnly(ATTEMPT);
  }

  @Test
  void aCancelsCompletionIsInTheTasksTrace() throws Exception {
    TaskRow t = submitWith(SUBMIT);
    ledger.taskControl().cancel(tenant, session, t.id(), false).orElseThrow();
    sequenceAll();
    assertThat(outbox("transfer-events", session)).isNotEmpty().containsOnly(SUBMIT);
  }

  @Test
  void withoutAContextNothingIsStored() throws Exception {
    TaskRow t = submitWith(null);
    assertThat(t.trace()).isNull();
    assertThat(outbox("transfer-tasks", t.id())).containsExactly((TraceContext) null);
  }

  @Test
  void logFieldsNameTheTaskAndItsTraceAndPutBackWhatWasThere() {
    TaskRow t = submitWith(SUBMIT);
    MDC.put("traceId", "request-trace");
    try {
      try (LogFields f = LogFields.task(t)) {
        assertThat(MDC.get("taskId")).isEqualTo(t.id());
        assertThat(MDC.get("sessionId")).isEqualTo(session);
        assertThat(MDC.get("tenant")).isEqualTo(tenant);
        assertThat(MDC.get("traceId")).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(MDC.get("spanId")).isEqualTo("00f067aa0ba902b7");
      }
      assertThat(MDC.get("traceId")).isEqualTo("request-trace");
      assertThat(MDC.get("taskId")).isNull();
      assertThat(MDC.get("spanId")).isNull();
    } finally {
      MDC.remove("traceId");
    }
  }

  private void sequenceAll() {
    while (ledger.eventSequencer().sequenceEvents(1000) > 0) {
      // numbered
    }
  }

  /**
   * The trace contexts of the records to publish of a topic and key, oldest first: the outbox's
   * rows, or the numbered events the relay reads.
   */
  private List<TraceContext> outbox(String topic, String key) throws Exception {
    if (topic.equals("transfer-events")) {
      return ledger.outbox().numberedEvents(0, 10_000).stream()
          .filter(m -> m.key().equals(key))
          .map(OutboxMessage::trace)
          .toList();
    }
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select traceparent, tracestate from outbox where topic = ? and msg_key = ?"
                    + " order by id")) {
      ps.setString(1, topic);
      ps.setString(2, key);
      try (ResultSet rs = ps.executeQuery()) {
        List<TraceContext> out = new ArrayList<>();
        while (rs.next()) {
          out.add(TraceContext.of(rs.getString(1), rs.getString(2)));
        }
        return out;
      }
    }
  }
}
