package transfer.ledger;

import static transfer.ledger.Outbox.CHANNEL;
import static transfer.ledger.Outbox.OUTBOX_INSERT;
import static transfer.ledger.Outbox.bindOutbox;
import static transfer.ledger.Sql.bind;
import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.read;
import static transfer.ledger.StoredJson.write;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.SessionConfig;
import transfer.contracts.Topics;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Numbers the events that transactions wrote, after their commit: one sequencer at a time gives
 * each session's events their sequence and puts them in {@code events} and the outbox.
 */
public final class EventSequencer {
  private static final Logger LOG = Logger.getLogger(EventSequencer.class);
  private final Tx tx;
  private final Clock clock;
  private final ObjectMapper json = Json.mapper();
  private final EventWriter writer;

  EventSequencer(Tx tx, EventWriter writer) {
    this.tx = tx;
    this.clock = tx.clock();
    this.writer = writer;
  }

  private static final long SEQUENCER_LOCK = 0x7472616e73657173L; // "transseqs"

  /** An event waiting for its number. */
  record PendingEvent(
      long pos,
      String tenantId,
      String sessionId,
      String id,
      String type,
      String taskId,
      Instant time,
      JsonNode data,
      TraceContext trace) {}

  /**
   * Numbers up to {@code limit} pending events, oldest first: each session's next numbers, into
   * {@code events} and (unless the session sends no events) the outbox, in one transaction. One
   * sequencer runs at a time (a transaction-level advisory lock; others wait for it). A
   * transaction's events become pending at its commit, and a transaction that follows another's
   * commit adds later positions, so one task's events keep their order. After a task's completion,
   * when no task of its session is open any more, the session's {@code transfer.session.drained}
   * event follows; the sequencer sees every completion of a session in one order, so it is written
   * once, after the last. Answers the number of events numbered (0: nothing was pending).
   */
  public int sequenceEvents(int limit) {
    return tx.run(
        "number pending events",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
            ps.setLong(1, SEQUENCER_LOCK);
            ps.execute();
          }
          List<PendingEvent> pending;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select pos, tenant_id, session_id, id, type, task_id, time, data,"
                      + " traceparent, tracestate from pending_events order by pos limit ?")) {
            ps.setInt(1, limit);
            pending =
                rows(
                    ps,
                    rs ->
                        new PendingEvent(
                            rs.getLong(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getString(4),
                            rs.getString(5),
                            rs.getString(6),
                            rs.getTimestamp(7).toInstant(),
                            json.readTree(rs.getString(8)),
                            TraceContext.of(rs.getString(9), rs.getString(10))));
          }
          if (pending.isEmpty()) {
            return 0;
          }
          java.util.Map<List<String>, List<PendingEvent>> bySession =
              new java.util.LinkedHashMap<>();
          for (PendingEvent e : pending) {
            bySession
                .computeIfAbsent(List.of(e.tenantId(), e.sessionId()), k -> new ArrayList<>())
                .add(e);
          }
          int numbered = 0;
          try (PreparedStatement events =
                  c.prepareStatement(
                      "insert into events (tenant_id, session_id, seq, id, type, task_id, time,"
                          + " payload) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb)"
                          + " on conflict (id) do nothing");
              PreparedStatement outbox = c.prepareStatement(OUTBOX_INSERT)) {
            for (List<PendingEvent> session : bySession.values()) {
              List<PendingEvent> all = new ArrayList<>(session);
              PendingEvent lastCompletion = null;
              for (PendingEvent e : session) {
                if (EventTypes.COMPLETED.equals(e.type())) {
                  lastCompletion = e;
                }
              }
              String tenantId = all.get(0).tenantId();
              String sessionId = all.get(0).sessionId();
              if (lastCompletion != null) {
                Optional<ObjectNode> drained =
                    writer.drainedData(c, tenantId, sessionId, lastCompletion.taskId(), session);
                if (drained.isPresent()) {
                  all.add(
                      new PendingEvent(
                          -1,
                          tenantId,
                          sessionId,
                          lastCompletion.taskId() + ":drained",
                          EventTypes.SESSION_DRAINED,
                          null,
                          clock.instant(),
                          drained.get(),
                          // Caused by the session's last completion: in its trace.
                          lastCompletion.trace()));
                }
              }
              long last;
              boolean sendsEvents;
              try (PreparedStatement ps =
                  c.prepareStatement(
                      "update sessions set last_event_seq = last_event_seq + ?"
                          + " where tenant_id = ? and id = ? returning last_event_seq, config")) {
                ps.setInt(1, all.size());
                ps.setString(2, tenantId);
                ps.setString(3, sessionId);
                try (ResultSet rs = ps.executeQuery()) {
                  if (!rs.next()) {
                    try (LogFields f = LogFields.of(null, sessionId, tenantId, null, null)) {
                      LOG.warnf(
                          "%d event(s) of session %s of tenant %s dropped: the session no longer"
                              + " exists",
                          all.size(), sessionId, tenantId);
                    }
                    continue;
                  }
                  last = rs.getLong(1);
                  Boolean sends = read(rs.getString(2), SessionConfig.class).sendsEvents();
                  sendsEvents = sends == null || sends;
                }
              }
              long seq = last - all.size();
              Timestamp now = tx.now();
              for (PendingEvent e : all) {
                seq++;
                String payload =
                    write(
                        new CloudEvent(
                            CloudEvent.SPEC_VERSION,
                            e.id(),
                            e.type(),
                            CloudEvent.sourceOf(sessionId),
                            e.taskId(),
                            e.time(),
                            seq,
                            "application/json",
                            e.data(),
                            tenantId));
                bind(
                    events,
                    tenantId,
                    sessionId,
                    seq,
                    e.id(),
                    e.type(),
                    e.taskId(),
                    Timestamp.from(e.time()),
                    payload);
                events.addBatch();
                if (sendsEvents) {
                  bindOutbox(outbox, Topics.EVENTS, sessionId, payload, now, e.trace());
                  outbox.addBatch();
                }
                numbered++;
              }
            }
            events.executeBatch();
            outbox.executeBatch();
          }
          try (PreparedStatement ps =
              c.prepareStatement("delete from pending_events where pos = any(?)")) {
            ps.setArray(
                1, c.createArrayOf("bigint", pending.stream().map(PendingEvent::pos).toArray()));
            ps.executeUpdate();
          }
          // The open event streams wake at this commit even when no outbox row was written.
          try (PreparedStatement ps = c.prepareStatement("select pg_notify(?, '')")) {
            ps.setString(1, CHANNEL);
            ps.execute();
          }
          return numbered;
        });
  }
}
