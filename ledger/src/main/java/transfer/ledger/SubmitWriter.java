package transfer.ledger;

import static transfer.ledger.StoredJson.write;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.ledger.Sessions.SessionClosed;
import transfer.ledger.Submissions.IdempotencyConflict;
import transfer.ledger.Submissions.InvalidReference;
import transfer.ledger.Submissions.QuotaReached;

/**
 * The transaction of one or many submits: what they all need is read in one statement each (their
 * sessions, Idempotency-Keys, the tasks and objects they name, their tenants' usage), each submit
 * is decided on its own in request order (session, replay or key conflict, quotas, references), and
 * the accepted ones are written together: one insert of all their tasks, one of their keys, one of
 * their doorbells, one of their {@code transfer.task.created} events (sessions that ask for them).
 * A refused submit writes nothing and does not affect the others.
 */
final class SubmitWriter {
  private final Tx tx;
  private final Sessions sessions;
  private final TaskInsert inserts;
  private final Outbox outbox;
  private final EventWriter events;

  SubmitWriter(Tx tx, Sessions sessions, TaskInsert inserts, Outbox outbox, EventWriter events) {
    this.tx = tx;
    this.sessions = sessions;
    this.inserts = inserts;
    this.outbox = outbox;
    this.events = events;
  }

  /** A stored Idempotency-Key: the hash of the body it was used with and the task it made. */
  private record StoredKey(byte[] hash, String taskId) {}

  /** A key as stored: a single submit's own, a batch's per task ({@link Submissions#batchKey}). */
  private record KeyId(String tenantId, String sessionId, String key) {}

  /** An accepted submit's place among the rows (or, for an in-group replay, whose tasks). */
  private record Accepted(List<String> taskIds, boolean replayed) {}

  /** A keyed submit accepted earlier in this transaction: its body's hash and its tasks. */
  private record Claimed(byte[] hash, List<String> taskIds) {}

  List<Submit.Outcome> run(Connection c, List<Submit> submits) throws SQLException {
    int n = submits.size();
    byte[][] hashes = new byte[n][];
    Set<Sessions.Key> sessionKeys = new LinkedHashSet<>();
    Set<KeyId> keyIds = new LinkedHashSet<>();
    Set<String> taskIds = new HashSet<>();
    Set<StagedObjects.Key> objectKeys = new HashSet<>();
    Set<String> tenants = new HashSet<>();
    for (int i = 0; i < n; i++) {
      Submit s = submits.get(i);
      sessionKeys.add(new Sessions.Key(s.tenantId(), s.sessionId()));
      if (s.idempotencyKey() != null) {
        // Only a keyed request is hashed: the hash serves only to tell a replay from a conflict.
        hashes[i] = sha256(s.batch() ? write(s.tasks()) : write(s.tasks().get(0)));
        for (int t = 0; t < s.tasks().size(); t++) {
          keyIds.add(keyId(s, t));
        }
      }
      if (s.quota() != null) {
        tenants.add(s.tenantId());
      }
      for (TaskRequest r : s.tasks()) {
        TaskInsert.taskIdsNamedBy(r, taskIds);
        StagedObjects.Key o = TaskInsert.objectNamedBy(s.tenantId(), s.sessionId(), r);
        if (o != null) {
          objectKeys.add(o);
        }
      }
    }
    Map<Sessions.Key, SessionRow> sessionRows = sessions.sessionsForSubmit(c, sessionKeys);
    Map<KeyId, StoredKey> storedKeys = storedKeys(c, keyIds);
    for (StoredKey k : storedKeys.values()) {
      taskIds.add(k.taskId());
    }
    TaskInsert.References refs =
        new TaskInsert.References(
            TaskRows.tasksByIds(c, taskIds), StagedObjects.objectsIn(c, objectKeys));
    Map<String, TenantUsage> usage = TenantUsage.of(c, tenants);

    Insert rows = Insert.rowsInto("tasks as t");
    Insert keys = Insert.rowsInto("idempotency_keys");
    Timestamp now = tx.now();
    Map<String, Long> added = new HashMap<>();
    Map<KeyId, Claimed> claimed = new HashMap<>();
    Set<String> announced = new LinkedHashSet<>(); // in submit order
    Object[] decided = new Object[n]; // an Accepted or a RuntimeException
    for (int i = 0; i < n; i++) {
      Submit s = submits.get(i);
      try {
        SessionRow session = sessionRows.get(new Sessions.Key(s.tenantId(), s.sessionId()));
        if (session == null) {
          throw new SessionClosed(s.sessionId(), null);
        }
        if (session.state() != SessionState.ACTIVE) {
          throw new SessionClosed(s.sessionId(), session.state());
        }
        if (s.idempotencyKey() != null) {
          Accepted replay = replay(s, hashes[i], storedKeys, claimed);
          if (replay != null) {
            decided[i] = replay;
            continue;
          }
        }
        if (s.quota() != null) {
          checkQuota(s, usage.get(s.tenantId()), added.getOrDefault(s.tenantId(), 0L));
        }
        SessionConfig cfg = s.config() != null ? s.config() : session.config().withDefaults();
        int mark = rows.rows();
        List<String> ids = new ArrayList<>(s.tasks().size());
        try {
          for (int t = 0; t < s.tasks().size(); t++) {
            try {
              ids.add(
                  inserts.addTask(
                      rows, refs, s.tenantId(), s.sessionId(), s.tasks().get(t), cfg, s.trace()));
            } catch (InvalidReference e) {
              throw s.batch()
                  ? new InvalidReference("tasks[" + t + "]." + e.field(), e.getMessage())
                  : e;
            } catch (Submissions.Unprocessable e) {
              throw s.batch()
                  ? new Submissions.Unprocessable("tasks[" + t + "]." + e.field(), e.getMessage())
                  : e;
            }
          }
        } catch (InvalidReference | Submissions.Unprocessable e) {
          // None of this submit's rows stay in the group's statement.
          rows.truncate(mark);
          throw e;
        }
        added.merge(s.tenantId(), (long) ids.size(), Long::sum);
        if (cfg.announcesCreation()) {
          announced.addAll(ids);
        }
        if (s.idempotencyKey() != null) {
          for (int t = 0; t < ids.size(); t++) {
            keys.row()
                .set("tenant_id", s.tenantId())
                .set("session_id", s.sessionId())
                .set("key", keyId(s, t).key())
                .set("request_hash", hashes[i])
                .set("task_id", ids.get(t))
                .set("created_at", now);
          }
          claimed.put(keyId(s, 0), new Claimed(hashes[i], ids));
        }
        decided[i] = new Accepted(ids, false);
      } catch (SessionClosed
          | QuotaReached
          | IdempotencyConflict
          | InvalidReference
          | Submissions.Unprocessable e) {
        decided[i] = e;
      }
    }

    // The writes: all accepted tasks, their keys, their doorbells; a statement each.
    Map<String, TaskRow> inserted = TaskInsert.insert(c, rows);
    TaskInsert.takeOverDurableStates(c, inserted.values());
    keys.execute(c);
    List<TaskRow> doorbells = new ArrayList<>();
    for (TaskRow row : inserted.values()) {
      if (row.state() == TaskState.QUEUED) {
        doorbells.add(row);
      }
    }
    outbox.doorbells(c, doorbells);
    if (!announced.isEmpty()) {
      List<EventWriter.NewEvent> created = new ArrayList<>(announced.size());
      for (String id : announced) {
        TaskRow row = inserted.get(id);
        if (row != null) {
          created.add(events.created(row));
        }
      }
      events.append(c, created);
    }

    List<Submit.Outcome> out = new ArrayList<>(n);
    for (Object d : decided) {
      if (d instanceof Accepted a) {
        List<TaskRow> tasks = new ArrayList<>(a.taskIds().size());
        for (String id : a.taskIds()) {
          TaskRow row = inserted.get(id);
          tasks.add(row != null ? row : refs.tasks().get(id));
        }
        out.add(Submit.Outcome.accepted(tasks, a.replayed()));
      } else {
        out.add(Submit.Outcome.refused((RuntimeException) d));
      }
    }
    return out;
  }

  /**
   * The earlier tasks a keyed submit's key answers (stored, or accepted earlier in this
   * transaction), or null when the key is new; an {@link IdempotencyConflict} when it was used with
   * another body.
   */
  private static Accepted replay(
      Submit s, byte[] hash, Map<KeyId, StoredKey> stored, Map<KeyId, Claimed> claimed) {
    Claimed inGroup = claimed.get(keyId(s, 0));
    if (inGroup != null) {
      if (!Arrays.equals(inGroup.hash(), hash)) {
        throw new IdempotencyConflict(inGroup.taskIds().get(0));
      }
      return new Accepted(inGroup.taskIds(), true);
    }
    StoredKey first = stored.get(keyId(s, 0));
    if (first == null) {
      return null;
    }
    List<String> earlier = new ArrayList<>(s.tasks().size());
    for (int t = 0; t < s.tasks().size(); t++) {
      StoredKey k = stored.get(keyId(s, t));
      if (k == null || !Arrays.equals(k.hash(), hash)) {
        throw new IdempotencyConflict(first.taskId());
      }
      earlier.add(k.taskId());
    }
    return new Accepted(earlier, true);
  }

  /**
   * New tasks must all fit below the tasks-in-flight quota (counting those this transaction
   * accepted already); a download needs the tenant below its bytes-stored quota.
   */
  private static void checkQuota(Submit s, TenantUsage usage, long addedEarlier) {
    if (usage.tasksInFlight() + addedEarlier + s.tasks().size() > s.quota().tasksInFlight()) {
      throw new QuotaReached(QuotaReached.Which.TASKS_IN_FLIGHT);
    }
    if (usage.bytesStored() >= s.quota().bytesStored()
        && s.tasks().stream().anyMatch(r -> r.type() == TaskType.DOWNLOAD)) {
      throw new QuotaReached(QuotaReached.Which.BYTES_STORED);
    }
  }

  private static KeyId keyId(Submit s, int task) {
    return new KeyId(
        s.tenantId(),
        s.sessionId(),
        s.batch() ? Submissions.batchKey(task, s.idempotencyKey()) : s.idempotencyKey());
  }

  /** The stored keys among {@code ids}, in one statement. */
  private static Map<KeyId, StoredKey> storedKeys(Connection c, Set<KeyId> ids)
      throws SQLException {
    Map<KeyId, StoredKey> out = new HashMap<>();
    if (ids.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, session_id, key, request_hash, task_id from idempotency_keys"
                + " where (tenant_id, session_id, key) in"
                + " (select * from unnest(?::text[], ?::text[], ?::text[]))")) {
      ps.setArray(1, c.createArrayOf("text", ids.stream().map(KeyId::tenantId).toArray()));
      ps.setArray(2, c.createArrayOf("text", ids.stream().map(KeyId::sessionId).toArray()));
      ps.setArray(3, c.createArrayOf("text", ids.stream().map(KeyId::key).toArray()));
      for (Map.Entry<KeyId, StoredKey> e :
          Sql.rows(
              ps,
              rs ->
                  Map.entry(
                      new KeyId(rs.getString(1), rs.getString(2), rs.getString(3)),
                      new StoredKey(rs.getBytes(4), rs.getString(5))))) {
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  static byte[] sha256(String text) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
