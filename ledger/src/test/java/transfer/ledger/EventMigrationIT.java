package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.CloudEvent;
import transfer.contracts.Json;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/**
 * Migration V9 on a ledger written before it: numbered events read back as they were stored, events
 * still waiting for their numbers are numbered after it, the drained totals start from the
 * session's history, and what the old outbox held is published once.
 */
class EventMigrationIT {
  private final SettableClock clock = new SettableClock(Instant.parse("2026-04-01T00:00:00Z"));
  private final String tenant = "t-" + UUID.randomUUID();
  private final String session = "s-" + UUID.randomUUID();

  @Test
  void eventsFromBeforeV9ReadTheSameAndPendingOnesAreNumberedAfterIt() throws Exception {
    PGSimpleDataSource db = LedgerSchema.of(EventMigrationIT.class, "8");
    Ledger ledger = new Ledger(db, clock);
    ledger
        .tenants()
        .ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
    String a = submit(db, "http://127.0.0.1/a");
    String b = submit(db, "http://127.0.0.1/b");
    complete(db, a);
    complete(db, b);
    Instant time = Instant.parse("2026-04-01T00:00:01.123456Z");
    // As V8 stored them: a's progress and completion numbered (the completion not yet published),
    // b's completion waiting for its number.
    String progress =
        StoredJson.write(
            cloudEvent(
                "p-" + a, "transfer.task.progress", a, time, 1, data("bytesTransferred", 10)));
    String completed =
        StoredJson.write(
            cloudEvent(
                a + ":completed",
                "transfer.task.completed",
                a,
                time,
                2,
                data("state", "completed")));
    try (Connection c = db.getConnection()) {
      for (String payload : List.of(progress, completed)) {
        JsonNode e = Json.mapper().readTree(payload);
        Sql.execute(
            c,
            "insert into events (tenant_id, session_id, seq, id, type, task_id, time, payload)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?::jsonb)",
            tenant,
            session,
            e.get("sequence").asLong(),
            e.get("id").asText(),
            e.get("type").asText(),
            a,
            Timestamp.from(time),
            payload);
      }
      Sql.execute(
          c,
          "update sessions set last_event_seq = 2 where tenant_id = ? and id = ?",
          tenant,
          session);
      Sql.execute(c, "delete from outbox");
      Sql.execute(
          c,
          "insert into outbox (topic, msg_key, payload, created_at) values"
              + " ('transfer-events', ?, ?, now())",
          session,
          completed);
      Sql.execute(
          c,
          "insert into pending_events (tenant_id, session_id, id, type, task_id, time, data)"
              + " values (?, ?, ?, 'transfer.task.completed', ?, ?, ?::jsonb)",
          tenant,
          session,
          b + ":completed",
          b,
          Timestamp.from(time),
          "{\"state\":\"completed\"}");
    }

    LedgerSchema.migrate(db, null);

    List<JsonNode> replayed = ledger.eventReplay().events(tenant, session, 0, 100);
    assertThat(replayed)
        .containsExactly(Json.mapper().readTree(progress), Json.mapper().readTree(completed));
    // The old outbox row is still published once; the moved events are not published again.
    long cursor = ledger.outbox().publishedEvents();
    assertThat(ledger.outbox().oldestDoorbells(100))
        .extracting(OutboxMessage::payload)
        .containsExactly(completed);
    assertThat(ledger.outbox().numberedEvents(cursor, 100)).isEmpty();

    assertThat(ledger.eventSequencer().sequenceEvents(100)).isEqualTo(2);
    List<JsonNode> all = ledger.eventReplay().events(tenant, session, 0, 100);
    assertThat(all).extracting(e -> e.get("sequence").asLong()).containsExactly(1L, 2L, 3L, 4L);
    assertThat(all.get(2).get("id").asText()).isEqualTo(b + ":completed");
    JsonNode drained = all.get(3);
    assertThat(drained.get("type").asText()).isEqualTo("transfer.session.drained");
    // a counted by the migration, b by the sequencer: each once.
    assertThat(drained.get("data").get("tasks").get("completed").asLong()).isEqualTo(2);
    assertThat(ledger.outbox().numberedEvents(cursor, 100))
        .extracting(m -> Json.mapper().readTree(m.payload()).get("sequence").asLong())
        .containsExactly(3L, 4L);
  }

  private CloudEvent cloudEvent(
      String id, String type, String task, Instant time, long seq, JsonNode data) {
    return new CloudEvent(
        CloudEvent.SPEC_VERSION,
        id,
        type,
        CloudEvent.sourceOf(session),
        task,
        time,
        seq,
        "application/json",
        data,
        tenant);
  }

  private static JsonNode data(String field, Object value) {
    return Json.mapper().valueToTree(java.util.Map.of(field, value));
  }

  /**
   * A task as V8's submit stored it: by hand, since today's statements read and write columns that
   * V8 does not have.
   */
  private String submit(PGSimpleDataSource db, String url) throws Exception {
    String id = UUID.randomUUID().toString();
    try (Connection c = db.getConnection()) {
      Sql.execute(
          c,
          "insert into tasks (id, tenant_id, session_id, type, state, url, request, priority,"
              + " max_attempts, announced_at, created_at, updated_at, deadline_at, host)"
              + " values (?, ?, ?, 'download', 'queued', ?, ?::jsonb, 0.5, 5, now(), now(), now(),"
              + " now() + interval '7 days', '127.0.0.1:80')",
          id,
          tenant,
          session,
          url,
          StoredJson.write(TaskRequest.download(url)));
    }
    return id;
  }

  /** Ends a task as completed the way V8's statements left it (through running). */
  private static void complete(PGSimpleDataSource db, String taskId) throws SQLException {
    try (Connection c = db.getConnection()) {
      Sql.execute(
          c,
          "update tasks set state = 'running', lease_owner = 'w', lease_epoch = 1,"
              + " lease_expires_at = now() + interval '1 minute' where id = ?",
          taskId);
      Sql.execute(
          c,
          "update tasks set state = 'completed', lease_owner = null, lease_expires_at = null,"
              + " finished_at = now() where id = ?",
          taskId);
    }
  }
}
