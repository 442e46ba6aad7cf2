package transfer.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;
import org.jboss.logging.Logger;
import transfer.contracts.CloudEvent;
import transfer.contracts.Doorbell;
import transfer.contracts.ErrorCodes;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskIds;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.Topics;
import transfer.contracts.UploadSource;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Every statement of the task state machine, used by both services. A worker's write names the
 * lease epoch it holds ({@code WHERE id = ? AND lease_epoch = ? AND state = 'running'}); zero rows
 * means another worker (or the reaper) has taken the task over, and the caller must stop.
 *
 * <p>Events are written in the same transaction as the state they report, numbered per session
 * under the session row's lock, and put in the outbox for the relay to publish. Time comes from the
 * injected clock so that leases and backoff are testable without sleeping.
 */
public final class Ledger {
  public static final String OUTBOX_CHANNEL = "transfer_outbox";
  private static final Logger LOG = Logger.getLogger(Ledger.class);
  private static final String TASK_COLUMNS =
      "t.id, t.tenant_id, t.session_id, t.type, t.state, t.url, t.request, t.priority, t.attempt,"
          + " t.max_attempts, t.next_attempt_at, t.lease_owner, t.lease_epoch, t.lease_expires_at,"
          + " t.bytes_transferred, t.bytes_durable, t.bytes_expected, t.etag, t.last_modified,"
          + " t.location, t.sha256, t.error, t.created_at, t.updated_at, t.finished_at,"
          + " t.durable_epoch, t.deadline_at, t.host, t.discretionary, t.durable_task,"
          + " t.source_location, t.source_size, t.source_sha256, t.resume_data,"
          + " t.traceparent, t.tracestate";

  /** Replaces the checkpoint columns together when a checkpoint is given (a flag before each). */
  private static final String CHECKPOINT_SET =
      " bytes_durable = case when ? then ? else bytes_durable end,"
          + " durable_epoch = case when ? then ? else durable_epoch end,"
          + " etag = case when ? then ? else etag end,"
          + " last_modified = case when ? then ? else last_modified end,"
          + " durable_task = case when ? then null else durable_task end";

  private final DataSource dataSource;
  private final Clock clock;
  private final ObjectMapper json;

  /** The trace context this ledger's writes carry (see {@link #withTrace}); null: none. */
  private final TraceContext trace;

  public Ledger(DataSource dataSource, Clock clock) {
    this(dataSource, clock, Json.mapper(), null);
  }

  private Ledger(DataSource dataSource, Clock clock, ObjectMapper json, TraceContext trace) {
    this.dataSource = dataSource;
    this.clock = clock;
    this.json = json;
    this.trace = trace;
  }

  /**
   * This ledger, with writes that carry {@code trace} (a W3C trace context; null for none): a
   * submit stores it with its tasks (and so with every doorbell of them), and the events written
   * through it (a worker's progress, completion or failure) carry it to the outbox, where the
   * relay's span continues it. Without one, a task's events carry the task's own stored context.
   * Cheap: the same connections and clock.
   */
  public Ledger withTrace(TraceContext trace) {
    return trace == this.trace ? this : new Ledger(dataSource, clock, json, trace);
  }

  public Clock clock() {
    return clock;
  }

  // ---------------------------------------------------------------- tenants and keys

  /** Creates the tenant if missing and registers the key hash for it (idempotent). */
  public void ensureTenantKey(String tenantId, String keyId, byte[] keyHash) {
    tx(
        "register key for tenant " + tenantId,
        c -> {
          Timestamp now = now();
          execute(
              c,
              "insert into tenants (id, name, created_at) values (?, ?, ?)"
                  + " on conflict (id) do nothing",
              tenantId,
              tenantId,
              now);
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)"
                  + " on conflict (key_hash) do nothing",
              keyId,
              tenantId,
              keyHash,
              now);
          return null;
        });
  }

  /** The tenant owning a non-revoked key with this SHA-256 hash. */
  public Optional<String> tenantForKeyHash(byte[] keyHash) {
    return tx(
        "look up api key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select tenant_id from api_keys where key_hash = ? and revoked_at is null")) {
            ps.setBytes(1, keyHash);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
          }
        });
  }

  /** A tenant with this id exists already. */
  public static final class TenantExists extends RuntimeException {
    TenantExists(String tenantId) {
      super("tenant " + tenantId + " exists already", null, false, false);
    }
  }

  private static final String TENANT_COLUMNS =
      "id, name, created_at, quota_tasks_in_flight, quota_bytes_stored,"
          + " quota_requests_per_second, quota_burst";

  /**
   * Creates a tenant with its first key, in one transaction; a {@link TenantExists} when the id is
   * taken (nothing is written then).
   */
  public TenantRow createTenant(
      String tenantId, String name, QuotaOverrides quotas, String keyId, byte[] keyHash) {
    QuotaOverrides q = quotas == null ? QuotaOverrides.NONE : quotas;
    return tx(
        "create tenant " + tenantId,
        c -> {
          Timestamp now = now();
          int inserted =
              execute(
                  c,
                  "insert into tenants (id, name, created_at, quota_tasks_in_flight,"
                      + " quota_bytes_stored, quota_requests_per_second, quota_burst)"
                      + " values (?, ?, ?, ?, ?, ?, ?) on conflict (id) do nothing",
                  tenantId,
                  name,
                  now,
                  q.tasksInFlight(),
                  q.bytesStored(),
                  q.requestsPerSecond(),
                  q.burst());
          if (inserted == 0) {
            throw new TenantExists(tenantId);
          }
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)",
              keyId,
              tenantId,
              keyHash,
              now);
          return tenantById(c, tenantId, "").orElseThrow();
        });
  }

  public Optional<TenantRow> tenant(String tenantId) {
    return tx("read tenant " + tenantId, c -> tenantById(c, tenantId, ""));
  }

  /** Tenants ordered by id, after {@code afterId} (paging; null from the start). */
  public List<TenantRow> tenants(String afterId, int limit) {
    return tx(
        "list tenants",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select " + TENANT_COLUMNS + " from tenants where id > ? order by id limit ?")) {
            ps.setString(1, afterId == null ? "" : afterId);
            ps.setInt(2, limit);
            return rows(ps, Ledger::tenantRow);
          }
        });
  }

  /** Replaces a tenant's own quotas (null fields: the defaults); empty when there is no tenant. */
  public Optional<TenantRow> setQuotas(String tenantId, QuotaOverrides quotas) {
    QuotaOverrides q = quotas == null ? QuotaOverrides.NONE : quotas;
    return tx(
        "set quotas of tenant " + tenantId,
        c -> {
          int updated =
              execute(
                  c,
                  "update tenants set quota_tasks_in_flight = ?, quota_bytes_stored = ?,"
                      + " quota_requests_per_second = ?, quota_burst = ? where id = ?",
                  q.tasksInFlight(),
                  q.bytesStored(),
                  q.requestsPerSecond(),
                  q.burst(),
                  tenantId);
          return updated == 0 ? Optional.<TenantRow>empty() : tenantById(c, tenantId, "");
        });
  }

  /** Registers another key of a tenant; empty when there is no such tenant. */
  public Optional<ApiKeyRow> addKey(String tenantId, String keyId, byte[] keyHash) {
    return tx(
        "add a key to tenant " + tenantId,
        c -> {
          // FOR KEY SHARE: the tenant cannot vanish between the check and the insert.
          if (tenantById(c, tenantId, " for key share").isEmpty()) {
            return Optional.<ApiKeyRow>empty();
          }
          Timestamp now = now();
          execute(
              c,
              "insert into api_keys (id, tenant_id, key_hash, created_at) values (?, ?, ?, ?)",
              keyId,
              tenantId,
              keyHash,
              now);
          return Optional.of(new ApiKeyRow(keyId, tenantId, now.toInstant(), null));
        });
  }

  /** A tenant's keys, revoked ones included, oldest first. */
  public List<ApiKeyRow> keys(String tenantId) {
    return tx(
        "list keys of tenant " + tenantId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select id, tenant_id, created_at, revoked_at from api_keys"
                      + " where tenant_id = ? order by created_at, id")) {
            ps.setString(1, tenantId);
            return rows(
                ps,
                rs ->
                    new ApiKeyRow(
                        rs.getString(1),
                        rs.getString(2),
                        instant(rs, "created_at"),
                        instant(rs, "revoked_at")));
          }
        });
  }

  /**
   * Revokes a key of a tenant (again: a no-op, the first revocation time stays) and answers its
   * hash, so that the caller can drop it from its caches; empty when the tenant has no such key.
   */
  public Optional<byte[]> revokeKey(String tenantId, String keyId) {
    return tx(
        "revoke key " + keyId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "update api_keys set revoked_at = coalesce(revoked_at, ?)"
                      + " where tenant_id = ? and id = ? returning key_hash")) {
            ps.setTimestamp(1, now());
            ps.setString(2, tenantId);
            ps.setString(3, keyId);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.<byte[]>empty();
            }
          }
        });
  }

  /**
   * How many tasks of the tenant are not final (queued, waiting, running, suspended), counting no
   * further than {@code atMost}: a quota check needs to know only whether the quota is reached, and
   * the count stays cheap however many tasks a tenant has.
   */
  public long tasksInFlight(String tenantId, long atMost) {
    return tx(
        "count tasks in flight of tenant " + tenantId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select count(*) from (select 1 from tasks where tenant_id = ? and state in"
                      + " ('queued', 'waiting', 'running', 'suspended') limit ?) open")) {
            ps.setString(1, tenantId);
            ps.setLong(2, Math.max(0, atMost));
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              return rs.getLong(1);
            }
          }
        });
  }

  /**
   * Bytes the tenant holds in storage: its staged objects and the stored content of its completed
   * downloads that retention has not removed yet.
   */
  public long bytesStored(String tenantId) {
    return tx(
        "sum bytes stored of tenant " + tenantId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select coalesce((select sum(size) from objects where tenant_id = ?), 0)"
                      + " + coalesce((select sum(bytes_transferred) from tasks where tenant_id = ?"
                      + " and state = 'completed' and type = 'download'), 0)")) {
            ps.setString(1, tenantId);
            ps.setString(2, tenantId);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              return rs.getLong(1);
            }
          }
        });
  }

  /** Whether an Idempotency-Key was used in this session already (a submit would replay). */
  public boolean idempotencyKeyUsed(String tenantId, String sessionId, String key) {
    return tx(
        "look up idempotency key",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select 1 from idempotency_keys where tenant_id = ? and session_id = ?"
                      + " and key = ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, key);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next();
            }
          }
        });
  }

  private Optional<TenantRow> tenantById(Connection c, String tenantId, String lock)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("select " + TENANT_COLUMNS + " from tenants where id = ?" + lock)) {
      ps.setString(1, tenantId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(tenantRow(rs)) : Optional.empty();
      }
    }
  }

  private static TenantRow tenantRow(ResultSet rs) throws SQLException {
    return new TenantRow(
        rs.getString("id"),
        rs.getString("name"),
        instant(rs, "created_at"),
        new QuotaOverrides(
            (Long) rs.getObject("quota_tasks_in_flight"),
            (Long) rs.getObject("quota_bytes_stored"),
            (Double) rs.getObject("quota_requests_per_second"),
            (Integer) rs.getObject("quota_burst")));
  }

  // ---------------------------------------------------------------- sessions

  /** Creates the session or replaces its configuration; {@code created} tells which. */
  public SessionRow upsertSession(String tenantId, String sessionId, SessionConfig config) {
    return tx(
        "save session " + sessionId,
        c -> {
          Timestamp now = now();
          try (PreparedStatement ps =
              c.prepareStatement(
                  "insert into sessions (tenant_id, id, config, created_at, updated_at)"
                      + " values (?, ?, ?::jsonb, ?, ?)"
                      + " on conflict (tenant_id, id) do update"
                      + " set config = excluded.config, state = 'active',"
                      + " updated_at = excluded.updated_at"
                      + " returning tenant_id, id, state, config, created_at, updated_at, last_event_seq,"
                      + " (xmax = 0) as created")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, write(config.withDefaults()));
            ps.setTimestamp(4, now);
            ps.setTimestamp(5, now);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              return sessionRow(rs, rs.getBoolean("created"));
            }
          }
        });
  }

  public Optional<SessionRow> session(String tenantId, String sessionId) {
    return tx("read session " + sessionId, c -> sessionById(c, tenantId, sessionId, ""));
  }

  /** A tenant's sessions ordered by id, after {@code afterId} (paging; null from the start). */
  public List<SessionRow> sessions(String tenantId, String afterId, int limit) {
    return tx(
        "list sessions",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select tenant_id, id, state, config, created_at, updated_at, last_event_seq"
                      + " from sessions"
                      + " where tenant_id = ? and id > ? order by id limit ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, afterId == null ? "" : afterId);
            ps.setInt(3, limit);
            return rows(ps, rs -> sessionRow(rs, false));
          }
        });
  }

  /**
   * Invalidates a session. With {@code finishTasks} it only refuses new tasks and lets the open
   * ones finish ({@code finishTasksAndInvalidate}); without, every open task is canceled as well
   * ({@code invalidateAndCancel}), each with its completion event. Empty when there is no such
   * session.
   */
  public Optional<SessionRow> invalidateSession(
      String tenantId, String sessionId, boolean finishTasks) {
    // Two transactions, so that locks are always taken task first, session second, as a
    // completion takes them: the first closes the session, the second cancels its open tasks.
    Optional<Boolean> wasOpen =
        tx(
            "invalidate session " + sessionId,
            c -> {
              // FOR UPDATE waits for submits in flight (they hold the row FOR KEY SHARE): their
              // tasks are visible to the cancel below, and later submits see the new state.
              Optional<SessionRow> before = sessionById(c, tenantId, sessionId, " for update");
              if (before.isEmpty()) {
                return Optional.<Boolean>empty();
              }
              boolean active = "active".equals(before.get().state());
              // An invalidated session stays invalidated; only a PUT makes it active again.
              if (!(finishTasks && "invalidated".equals(before.get().state()))) {
                execute(
                    c,
                    "update sessions set state = ?, updated_at = ? where tenant_id = ? and id = ?",
                    finishTasks ? "finishing" : "invalidated",
                    now(),
                    tenantId,
                    sessionId);
              }
              if (finishTasks && active) {
                // Nothing open: tell a client waiting for the end of the session at once.
                appendDrainedIfIdle(c, tenantId, sessionId, null, UUID.randomUUID().toString());
              }
              return Optional.of(active);
            });
    if (wasOpen.isEmpty()) {
      return Optional.empty();
    }
    if (!finishTasks) {
      tx(
          "cancel the open tasks of session " + sessionId,
          c -> {
            List<TaskRow> open;
            try (PreparedStatement ps =
                c.prepareStatement(
                    "select "
                        + TASK_COLUMNS
                        + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.state in"
                        + " ('queued', 'waiting', 'running', 'suspended') order by t.created_at"
                        + " for update")) {
              ps.setString(1, tenantId);
              ps.setString(2, sessionId);
              open = rows(ps, this::taskRow);
            }
            for (TaskRow t : open) {
              cancelLocked(c, t, false);
            }
            if (!open.isEmpty()) {
              LOG.infof(
                  "session %s of tenant %s invalidated: canceled %d open task(s)",
                  sessionId, tenantId, open.size());
            } else if (wasOpen.get()) {
              appendDrainedIfIdle(c, tenantId, sessionId, null, UUID.randomUUID().toString());
            }
            return null;
          });
    }
    return session(tenantId, sessionId);
  }

  private Optional<SessionRow> sessionById(
      Connection c, String tenantId, String sessionId, String lock) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, id, state, config, created_at, updated_at, last_event_seq"
                + " from sessions"
                + " where tenant_id = ? and id = ?"
                + lock)) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(sessionRow(rs, false)) : Optional.empty();
      }
    }
  }

  // ---------------------------------------------------------------- submit

  /** The task a submit answers; {@code replayed} when an Idempotency-Key named an earlier one. */
  public record Submitted(TaskRow task, boolean replayed) {}

  /** The Idempotency-Key was used before with another request body. */
  public static final class IdempotencyConflict extends RuntimeException {
    private final String taskId;

    IdempotencyConflict(String taskId) {
      super(
          "the Idempotency-Key was used for another request (task " + taskId + ")",
          null,
          false,
          false);
      this.taskId = taskId;
    }

    public String taskId() {
      return taskId;
    }
  }

  /** The session does not exist ({@code state} null) or takes no new tasks. */
  public static final class SessionClosed extends RuntimeException {
    private final String state;

    SessionClosed(String sessionId, String state) {
      super(
          state == null
              ? "session " + sessionId + " does not exist"
              : "session " + sessionId + " is " + state + " and takes no new tasks",
          null,
          false,
          false);
      this.state = state;
    }

    /** The session's state, or null when there is no such session. */
    public String state() {
      return state;
    }
  }

  /** A request names something that does not exist for this tenant (a field of the request). */
  public static final class InvalidReference extends RuntimeException {
    private final String field;

    InvalidReference(String field, String message) {
      super(message, null, false, false);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /**
   * Writes a new task and, when it may start now, its doorbell in the outbox: one transaction, so
   * that a crash after the commit cannot lose the announcement. With an {@code idempotencyKey}, a
   * repeated submit of the same body answers the first task; another body is an {@link
   * IdempotencyConflict}.
   */
  public Submitted submit(
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey) {
    byte[] hash = sha256(write(request));
    return onceMoreOnKeyRace(
        idempotencyKey,
        () -> submitOnce(tenantId, sessionId, request, session, idempotencyKey, hash));
  }

  /**
   * Runs a submit; when two identical keyed submits raced, the loser's key insert hit the winner's
   * row. That row is visible now, and a second try answers the winner's task(s).
   */
  private static <T> T onceMoreOnKeyRace(
      String idempotencyKey, java.util.function.Supplier<T> submit) {
    try {
      return submit.get();
    } catch (LedgerException e) {
      if (idempotencyKey != null
          && e.getCause() instanceof SQLException se
          && "23505".equals(se.getSQLState())) {
        return submit.get();
      }
      throw e;
    }
  }

  private Submitted submitOnce(
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash) {
    return tx(
        "submit task to session " + sessionId,
        c -> {
          if (idempotencyKey != null) {
            Optional<String> earlier = keyedTask(c, tenantId, sessionId, idempotencyKey, hash);
            if (earlier.isPresent()) {
              return new Submitted(taskById(c, earlier.get()).orElseThrow(), true);
            }
          }
          requireActive(c, tenantId, sessionId);
          List<TaskRow> doorbells = new ArrayList<>(1);
          TaskRow row =
              insertTask(c, tenantId, sessionId, request, session, idempotencyKey, hash, doorbells);
          doorbells(c, doorbells);
          return new Submitted(row, false);
        });
  }

  /**
   * The task an Idempotency-Key was first used for, when it was used in this session; an {@link
   * IdempotencyConflict} when that was with another request body.
   */
  private Optional<String> keyedTask(
      Connection c, String tenantId, String sessionId, String key, byte[] hash)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select request_hash, task_id from idempotency_keys"
                + " where tenant_id = ? and session_id = ? and key = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, key);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        String earlier = rs.getString(2);
        if (!java.util.Arrays.equals(rs.getBytes(1), hash)) {
          throw new IdempotencyConflict(earlier);
        }
        return Optional.of(earlier);
      }
    }
  }

  /** The session must exist and be active; {@link SessionClosed} otherwise. */
  private void requireActive(Connection c, String tenantId, String sessionId) throws SQLException {
    // FOR KEY SHARE (what the foreign key takes anyway): submits run side by side, but not
    // across an invalidation, which locks the row FOR UPDATE.
    String sessionState =
        sessionById(c, tenantId, sessionId, " for key share")
            .map(SessionRow::state)
            .orElseThrow(() -> new SessionClosed(sessionId, null));
    if (!"active".equals(sessionState)) {
      throw new SessionClosed(sessionId, sessionState);
    }
  }

  /**
   * Inserts one task (and its Idempotency-Key, when given) in an open transaction, with this
   * ledger's trace context; a task that may start now is added to {@code doorbells}, for the caller
   * to announce.
   */
  private TaskRow insertTask(
      Connection c,
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash,
      List<TaskRow> doorbells)
      throws SQLException {
    TaskRequest stored = request;
    Ledger.Checkpoint resumeFrom = null;
    String prefixOwner = null;
    if (request.resumeData() != null) {
      ResumeData rd;
      try {
        rd = ResumeData.decode(request.resumeData());
      } catch (IllegalArgumentException e) {
        throw new InvalidReference("resumeData", e.getMessage());
      }
      // The pointer is the caller's to forge: its task id must be one before any lookup,
      // and the validators sent to the origin come from the ledger, never from it.
      TaskRow from =
          (TaskIds.isTaskId(rd.task()) ? taskById(c, rd.task()) : Optional.<TaskRow>empty())
              .filter(t -> t.tenantId().equals(tenantId))
              .filter(t -> t.type() == TaskType.DOWNLOAD)
              .filter(t -> t.state() == TaskState.CANCELED || t.state() == TaskState.FAILED)
              .filter(t -> t.bytesDurable() == rd.bytes())
              .filter(t -> t.durableEpoch() != null && t.durableEpoch() == rd.epoch())
              .orElseThrow(
                  () ->
                      new InvalidReference(
                          "resumeData",
                          "names no canceled or failed download of this tenant with that"
                              + " checkpoint (it may have expired)"));
      if (request.url() != null && !request.url().equals(from.url())) {
        throw new InvalidReference(
            "url", "must be left out or equal the URL of the task the resumeData came from");
      }
      resumeFrom = new Checkpoint(rd.bytes(), rd.epoch(), from.etag(), from.lastModified());
      prefixOwner = from.prefixOwner();
      stored =
          new TaskRequest(
              request.type(),
              from.url(),
              request.method(),
              request.headers(),
              request.expectedBytes(),
              request.sha256(),
              request.description(),
              request.priority(),
              request.earliestBeginAt(),
              request.metadata(),
              null,
              request.resumeData());
    }
    String sourceLocation = null;
    Long sourceSize = null;
    String sourceSha256 = null;
    if (request.type() == TaskType.UPLOAD) {
      UploadSource src = request.source();
      if (src.task() != null) {
        TaskRow from =
            taskById(c, src.task())
                .filter(t -> t.tenantId().equals(tenantId))
                .filter(t -> t.type() == TaskType.DOWNLOAD)
                .filter(t -> t.state() == TaskState.COMPLETED)
                .orElseThrow(
                    () ->
                        new InvalidReference(
                            "source.task",
                            "names no completed download of this tenant (it may have"
                                + " expired)"));
        sourceLocation = from.location();
        sourceSize = from.bytesTransferred();
        sourceSha256 = from.sha256();
      } else {
        StoredObject obj =
            objectIn(c, tenantId, sessionId, src.object())
                .orElseThrow(
                    () ->
                        new InvalidReference(
                            "source.object",
                            "names no object staged in session "
                                + sessionId
                                + " (PUT /v1/sessions/"
                                + sessionId
                                + "/objects/{name} first)"));
        sourceLocation = obj.location();
        sourceSize = obj.size();
        sourceSha256 = obj.sha256();
      }
    }
    String id = UUID.randomUUID().toString();
    Instant nowInstant = clock.instant();
    Timestamp now = Timestamp.from(nowInstant);
    boolean later =
        request.earliestBeginAt() != null && request.earliestBeginAt().isAfter(nowInstant);
    TaskState state = later ? TaskState.WAITING : TaskState.QUEUED;
    Long expected = request.expectedBytes() != null ? request.expectedBytes() : sourceSize;
    TaskRow row;
    try (PreparedStatement ps =
        c.prepareStatement(
            "insert into tasks as t (id, tenant_id, session_id, type, state, url, request,"
                + " priority, max_attempts, next_attempt_at, announced_at, bytes_expected,"
                + " created_at, updated_at, deadline_at, host, discretionary,"
                + " source_location, source_size, source_sha256, bytes_durable,"
                + " durable_epoch, durable_task, etag, last_modified, traceparent, tracestate)"
                + " values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                + " ?, ?, ?, ?, ?) returning "
                + TASK_COLUMNS)) {
      ps.setString(1, id);
      ps.setString(2, tenantId);
      ps.setString(3, sessionId);
      ps.setString(4, request.type().wire());
      ps.setString(5, state.wire());
      ps.setString(6, stored.url());
      ps.setString(7, write(stored));
      ps.setDouble(8, request.priority() != null ? request.priority() : 0.5);
      ps.setInt(9, session.retry().maxAttempts());
      ps.setTimestamp(10, later ? Timestamp.from(request.earliestBeginAt()) : null);
      ps.setTimestamp(11, later ? null : now);
      setLong(ps, 12, expected);
      ps.setTimestamp(13, now);
      ps.setTimestamp(14, now);
      // The resource timeout counts from submission, as URLSession's does.
      ps.setTimestamp(15, Timestamp.from(nowInstant.plus(session.resourceTimeout())));
      ps.setString(16, hostOf(stored.url()));
      ps.setBoolean(17, Boolean.TRUE.equals(session.discretionary()));
      ps.setString(18, sourceLocation);
      setLong(ps, 19, sourceSize);
      ps.setString(20, sourceSha256);
      ps.setLong(21, resumeFrom != null ? resumeFrom.bytes() : 0);
      setLong(ps, 22, resumeFrom != null ? resumeFrom.epoch() : null);
      ps.setString(23, prefixOwner);
      ps.setString(24, resumeFrom != null ? resumeFrom.etag() : null);
      ps.setString(25, resumeFrom != null ? resumeFrom.lastModified() : null);
      ps.setString(26, trace != null ? trace.traceparent() : null);
      ps.setString(27, trace != null ? trace.tracestate() : null);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        row = taskRow(rs);
      }
    }
    if (idempotencyKey != null) {
      execute(
          c,
          "insert into idempotency_keys (tenant_id, session_id, key, request_hash, task_id,"
              + " created_at) values (?, ?, ?, ?, ?, ?)",
          tenantId,
          sessionId,
          idempotencyKey,
          hash,
          id,
          now);
    }
    if (!later) {
      doorbells.add(row);
    }
    return row;
  }

  /** The tasks a batch submit answers, in request order; {@code replayed} as for one task. */
  public record BatchSubmitted(List<TaskRow> tasks, boolean replayed) {}

  /**
   * Writes several tasks of one session in one transaction, all or none, with their doorbells. A
   * refused reference names its task ({@code tasks[i].field}). With an {@code idempotencyKey}, a
   * repeated batch of the same body answers the first batch's tasks; another body is an {@link
   * IdempotencyConflict}. The key is stored once per task, as {@code "batch <i> <key>"} (a key with
   * spaces, which a single submit's key cannot be).
   */
  public BatchSubmitted submitBatch(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      SessionConfig session,
      String idempotencyKey) {
    byte[] hash = sha256(write(requests));
    return onceMoreOnKeyRace(
        idempotencyKey,
        () -> submitBatchOnce(tenantId, sessionId, requests, session, idempotencyKey, hash));
  }

  private BatchSubmitted submitBatchOnce(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      SessionConfig session,
      String idempotencyKey,
      byte[] hash) {
    return tx(
        "submit " + requests.size() + " tasks to session " + sessionId,
        c -> {
          if (idempotencyKey != null) {
            Optional<String> first =
                keyedTask(c, tenantId, sessionId, batchKey(0, idempotencyKey), hash);
            if (first.isPresent()) {
              List<TaskRow> earlier = new ArrayList<>(requests.size());
              for (int i = 0; i < requests.size(); i++) {
                String id =
                    keyedTask(c, tenantId, sessionId, batchKey(i, idempotencyKey), hash)
                        .orElseThrow(() -> new IdempotencyConflict(first.get()));
                earlier.add(taskById(c, id).orElseThrow());
              }
              return new BatchSubmitted(earlier, true);
            }
          }
          requireActive(c, tenantId, sessionId);
          List<TaskRow> doorbells = new ArrayList<>(requests.size());
          List<TaskRow> rows = new ArrayList<>(requests.size());
          for (int i = 0; i < requests.size(); i++) {
            String key = idempotencyKey == null ? null : batchKey(i, idempotencyKey);
            try {
              rows.add(
                  insertTask(
                      c, tenantId, sessionId, requests.get(i), session, key, hash, doorbells));
            } catch (InvalidReference e) {
              throw new InvalidReference("tasks[" + i + "]." + e.field(), e.getMessage());
            }
          }
          doorbells(c, doorbells);
          return new BatchSubmitted(rows, false);
        });
  }

  /** How a batch's Idempotency-Key is stored for its task {@code index}. */
  public static String batchKey(int index, String idempotencyKey) {
    return "batch " + index + " " + idempotencyKey;
  }

  public Optional<TaskRow> task(String tenantId, String sessionId, String taskId) {
    return tx(
        "read task " + taskId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select "
                      + TASK_COLUMNS
                      + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.id = ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setString(3, taskId);
            try (ResultSet rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
            }
          }
        });
  }

  // ---------------------------------------------------------------- worker side

  /**
   * Claims a queued task for {@code owner}: one conditional update that bumps the fencing epoch and
   * the attempt. Empty when the task is not queued (already claimed, final, or unknown): the
   * doorbell was a duplicate or stale.
   */
  public Optional<TaskRow.Claim> claim(String taskId, String owner, Duration leaseTtl) {
    return tx("claim task " + taskId, c -> claimQueued(c, taskId, owner, leaseTtl));
  }

  /**
   * The best queued tasks by the URLSession scheduling order, leaving out those whose session or
   * host is at its limit: the limits are judged from the running tasks (few: at most the cluster's
   * slots), so the scan of the queue is one anti-join, however long the queue.
   */
  private static final String CANDIDATES =
      "with running as (select r.tenant_id, r.session_id, r.host, count(*) n from tasks r"
          + " where r.state = 'running' group by r.tenant_id, r.session_id, r.host),"
          + " full_hosts as (select x.tenant_id, x.session_id, x.host from running x join sessions"
          + " s on s.tenant_id = x.tenant_id and s.id = x.session_id"
          + " where x.n >= coalesce((s.config->>'maxConnectionsPerHost')::int, 6)),"
          + " full_sessions as (select x.tenant_id, x.session_id from running x join sessions s"
          + " on s.tenant_id = x.tenant_id and s.id = x.session_id"
          + " where s.config->>'maxConcurrentTransfers' is not null"
          + " group by x.tenant_id, x.session_id, s.config"
          + " having sum(x.n) >= (s.config->>'maxConcurrentTransfers')::int)"
          + " select t.id, t.tenant_id, t.session_id from tasks t where t.state = 'queued'"
          + " and not exists (select 1 from full_sessions f where f.tenant_id = t.tenant_id"
          + " and f.session_id = t.session_id)"
          + " and not exists (select 1 from full_hosts f where f.tenant_id = t.tenant_id"
          + " and f.session_id = t.session_id and f.host = t.host)"
          + " order by t.discretionary, t.priority desc, t.created_at limit ?";

  /**
   * Claims the best queued task this worker may start now (see {@link #CANDIDATES}), whichever
   * doorbell woke the worker: a doorbell only says that work exists, so priority decides, not the
   * order of announcement. Tasks passed over at a limit stay queued and are claimed when a slot of
   * their session frees up. Empty when nothing is claimable.
   */
  public Optional<TaskRow.Claim> claimNext(String owner, Duration leaseTtl) {
    return claimNext(owner, leaseTtl, 1).stream().findFirst();
  }

  /**
   * Claims up to {@code max} of the best tasks this worker may start now, in one transaction: the
   * sessions of the candidates are locked in one order (so two claiming workers never deadlock),
   * then each candidate's limits are counted again under the lock, so that two workers claiming in
   * one session cannot both take its last slot. Empty when nothing is claimable.
   */
  public List<TaskRow.Claim> claimNext(String owner, Duration leaseTtl, int max) {
    return tx(
        "claim up to " + max + " task(s)",
        c -> {
          // Found without a lock (most claims find a task nobody else wants), then counted again
          // under the sessions' locks by CLAIM_CANDIDATES: one transaction, one commit.
          List<String[]> candidates;
          try (PreparedStatement ps = c.prepareStatement(CANDIDATES)) {
            ps.setInt(1, Math.max(8, max * 2));
            candidates =
                rows(ps, rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
          }
          if (candidates.isEmpty()) {
            return List.of();
          }
          java.util.SortedSet<String> sessions = new java.util.TreeSet<>();
          for (String[] cand : candidates) {
            sessions.add("claim/" + cand[1] + "/" + cand[2]);
          }
          try (PreparedStatement ps =
              c.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 0))")) {
            for (String lock : sessions) {
              ps.setString(1, lock);
              ps.execute();
            }
          }
          Instant now = clock.instant();
          try (PreparedStatement ps = c.prepareStatement(CLAIM_CANDIDATES)) {
            java.sql.Array ids =
                c.createArrayOf("text", candidates.stream().map(cand -> cand[0]).toArray());
            ps.setArray(1, ids);
            ps.setArray(2, ids);
            ps.setInt(3, max);
            ps.setString(4, owner);
            ps.setTimestamp(5, Timestamp.from(now.plus(leaseTtl)));
            ps.setTimestamp(6, Timestamp.from(now));
            return rows(
                ps,
                rs ->
                    new TaskRow.Claim(
                        taskRow(rs),
                        read(rs.getString("session_config"), SessionConfig.class).withDefaults()));
          }
        });
  }

  /**
   * Claims up to {@code max} of the candidates (task ids) in one statement, run under their
   * sessions' locks: the limits are counted from the running tasks, and the candidates of one
   * session (and host) are ranked so that together they never pass its limit.
   */
  private static final String CLAIM_CANDIDATES =
      "with running as (select r.tenant_id, r.session_id, r.host, count(*) n from tasks r"
          + " where r.state = 'running' and (r.tenant_id, r.session_id) in (select c.tenant_id,"
          + " c.session_id from tasks c where c.id = any(?))"
          + " group by r.tenant_id, r.session_id, r.host),"
          + " ranked as (select t.id, t.discretionary, t.priority, t.created_at,"
          + " row_number() over (partition by t.tenant_id, t.session_id order by t.discretionary,"
          + " t.priority desc, t.created_at) as in_session,"
          + " row_number() over (partition by t.tenant_id, t.session_id, t.host order by"
          + " t.discretionary, t.priority desc, t.created_at) as in_host,"
          + " coalesce((select sum(x.n) from running x where x.tenant_id = t.tenant_id"
          + " and x.session_id = t.session_id), 0) as running_session,"
          + " coalesce((select x.n from running x where x.tenant_id = t.tenant_id"
          + " and x.session_id = t.session_id and x.host = t.host), 0) as running_host,"
          + " (s.config->>'maxConcurrentTransfers')::int as max_session,"
          + " coalesce((s.config->>'maxConnectionsPerHost')::int, 6) as max_host"
          + " from tasks t join sessions s on s.tenant_id = t.tenant_id and s.id = t.session_id"
          + " where t.id = any(?) and t.state = 'queued'),"
          + " picked as (select id from ranked where running_host + in_host <= max_host"
          + " and (max_session is null or running_session + in_session <= max_session)"
          + " order by discretionary, priority desc, created_at limit ?)"
          + " update tasks t set state = 'running', lease_owner = ?,"
          + " lease_epoch = t.lease_epoch + 1, lease_expires_at = ?,"
          + " attempt = t.attempt + 1, next_attempt_at = null, updated_at = ?"
          + " from picked p, sessions s where t.id = p.id and t.state = 'queued'"
          + " and s.tenant_id = t.tenant_id and s.id = t.session_id"
          + " returning "
          + TASK_COLUMNS
          + ", s.config as session_config";

  private Optional<TaskRow.Claim> claimQueued(
      Connection c, String taskId, String owner, Duration leaseTtl) throws SQLException {
    Instant now = clock.instant();
    try (PreparedStatement ps =
        c.prepareStatement(
            "update tasks t set state = 'running', lease_owner = ?,"
                + " lease_epoch = t.lease_epoch + 1, lease_expires_at = ?,"
                + " attempt = t.attempt + 1, next_attempt_at = null, updated_at = ?"
                + " from sessions s where t.id = ? and t.state = 'queued'"
                + " and s.tenant_id = t.tenant_id and s.id = t.session_id"
                + " returning "
                + TASK_COLUMNS
                + ", s.config as session_config")) {
      ps.setString(1, owner);
      ps.setTimestamp(2, Timestamp.from(now.plus(leaseTtl)));
      ps.setTimestamp(3, Timestamp.from(now));
      ps.setString(4, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        TaskRow row = taskRow(rs);
        SessionConfig cfg = read(rs.getString("session_config"), SessionConfig.class);
        return Optional.of(new TaskRow.Claim(row, cfg.withDefaults()));
      }
    }
  }

  /**
   * A durable prefix: {@code bytes} flushed to the temporary object of attempt {@code epoch}, and
   * the validators of the response they came from. The next attempt may resume from it.
   */
  public record Checkpoint(long bytes, long epoch, String etag, String lastModified) {}

  /**
   * What a worker reports at a heartbeat: progress, a new checkpoint (or null), and whether to
   * publish a progress event.
   */
  public record Heartbeat(
      long bytesTransferred,
      Checkpoint checkpoint,
      Long bytesExpected,
      boolean progressEvent,
      long bytesSinceLastEvent) {}

  /**
   * Renews the lease and records progress, fenced by the epoch. False means the worker no longer
   * owns the task and must stop at once.
   */
  public boolean heartbeat(String taskId, long epoch, Duration leaseTtl, Heartbeat hb) {
    return tx(
        "heartbeat task " + taskId,
        c -> {
          Instant now = clock.instant();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  taskId,
                  epoch,
                  "lease_expires_at = ?, bytes_transferred = ?,"
                      + " bytes_expected = coalesce(?, bytes_expected), updated_at = ?,"
                      + CHECKPOINT_SET,
                  ps -> {
                    ps.setTimestamp(1, Timestamp.from(now.plus(leaseTtl)));
                    ps.setLong(2, hb.bytesTransferred());
                    setLong(ps, 3, hb.bytesExpected());
                    ps.setTimestamp(4, Timestamp.from(now));
                    return bindCheckpoint(ps, 5, hb.checkpoint());
                  });
          if (row.isEmpty()) {
            return false;
          }
          if (hb.progressEvent()) {
            appendProgress(
                c, row.get(), hb.bytesSinceLastEvent(), hb.bytesTransferred(), hb.bytesExpected());
          }
          return true;
        });
  }

  /**
   * Marks a download completed under the fence and writes its {@code downloaded} and {@code
   * completed} events, whose ids derive from the task so that no retry can mint a second
   * completion. A last progress event (the whole size; {@code bytesSinceLastEvent} since the
   * previous one) comes first. False: fenced out; the caller deletes its object.
   */
  public boolean completeDownload(
      String taskId,
      long epoch,
      String location,
      long size,
      String sha256,
      long bytesSinceLastEvent) {
    return tx(
        "complete task " + taskId,
        c -> {
          Timestamp now = now();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  taskId,
                  epoch,
                  "state = 'completed', location = ?, sha256 = ?, bytes_transferred = ?,"
                      + " bytes_durable = ?, error = null, lease_owner = null,"
                      + " lease_expires_at = null, updated_at = ?, finished_at = ?",
                  ps -> {
                    ps.setString(1, location);
                    ps.setString(2, sha256);
                    ps.setLong(3, size);
                    ps.setLong(4, size);
                    ps.setTimestamp(5, now);
                    ps.setTimestamp(6, now);
                    return 7;
                  });
          if (row.isEmpty()) {
            return false;
          }
          appendProgress(c, row.get(), bytesSinceLastEvent, size, size);
          ObjectNode downloaded = json.createObjectNode();
          downloaded.put("location", location);
          downloaded.put("size", size);
          downloaded.put("sha256", sha256);
          appendTaskEvent(c, row.get(), EventTypes.DOWNLOADED, taskId + ":downloaded", downloaded);
          appendCompleted(c, row.get());
          return true;
        });
  }

  /**
   * Marks an upload completed under the fence: a last progress event (bytes sent) and its
   * completion event, whose data carries the target's answer status. False: fenced out.
   */
  public boolean completeUpload(
      String taskId, long epoch, long bytesSent, int httpStatus, long bytesSinceLastEvent) {
    return tx(
        "complete upload " + taskId,
        c -> {
          Timestamp now = now();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  taskId,
                  epoch,
                  "state = 'completed', sha256 = source_sha256, bytes_transferred = ?,"
                      + " error = null, lease_owner = null, lease_expires_at = null,"
                      + " updated_at = ?, finished_at = ?",
                  ps -> {
                    ps.setLong(1, bytesSent);
                    ps.setTimestamp(2, now);
                    ps.setTimestamp(3, now);
                    return 4;
                  });
          if (row.isEmpty()) {
            return false;
          }
          appendProgress(c, row.get(), bytesSinceLastEvent, bytesSent, bytesSent);
          appendCompleted(c, row.get(), httpStatus);
          return true;
        });
  }

  /** What became of a failed attempt. */
  public enum FailOutcome {
    /** Waiting for another attempt after the backoff. */
    RETRY_SCHEDULED,
    /** Final: the task failed and its completion event is written. */
    FAILED,
    /**
     * Final, and the completion offers resumeData: keep the temporary object of the durable prefix
     * (retention removes it).
     */
    FAILED_RESUMABLE,
    /** The worker no longer held the task; nothing was written. */
    FENCED
  }

  /**
   * Records a failed attempt under the fence: retried after {@code backoff} when the error is
   * retryable and attempts remain, else final with its completion event.
   */
  public FailOutcome failAttempt(String taskId, long epoch, TaskError error, Duration backoff) {
    return tx(
        "record failure of task " + taskId,
        c -> {
          Optional<TaskRow> current = lockRunning(c, taskId, epoch);
          if (current.isEmpty()) {
            return FailOutcome.FENCED;
          }
          TaskRow task = current.get();
          Instant now = clock.instant();
          if (error.retryable() && task.attempt() < task.maxAttempts()) {
            updateUnfenced(
                c,
                taskId,
                "state = 'waiting', next_attempt_at = ?, error = ?::jsonb, lease_owner = null,"
                    + " lease_expires_at = null, updated_at = ?",
                Timestamp.from(now.plus(backoff)),
                write(error),
                Timestamp.from(now));
            ringSession(c, task.tenantId(), task.sessionId());
            return FailOutcome.RETRY_SCHEDULED;
          }
          TaskError finalError = error;
          if (error.retryable()) {
            finalError =
                new TaskError(
                    ErrorCodes.ATTEMPTS_EXHAUSTED,
                    "gave up after "
                        + task.attempt()
                        + " attempts; last error "
                        + error.code()
                        + ": "
                        + error.message(),
                    error.httpStatus(),
                    false);
          }
          return finishFailed(c, task, finalError, now)
              ? FailOutcome.FAILED_RESUMABLE
              : FailOutcome.FAILED;
        });
  }

  /**
   * Hands a running task back (graceful stop): queued again with a fresh doorbell so another worker
   * continues at once; the attempt does not count.
   */
  public boolean release(String taskId, long epoch, Checkpoint checkpoint) {
    return tx(
        "hand back task " + taskId,
        c -> {
          Timestamp now = now();
          Optional<TaskRow> row =
              fencedUpdate(
                  c,
                  taskId,
                  epoch,
                  "state = 'queued', attempt = greatest(attempt - 1, 0), lease_owner = null,"
                      + " lease_expires_at = null, announced_at = ?, updated_at = ?,"
                      + CHECKPOINT_SET,
                  ps -> {
                    ps.setTimestamp(1, now);
                    ps.setTimestamp(2, now);
                    return bindCheckpoint(ps, 3, checkpoint);
                  });
          row.ifPresent(r -> doorbell(c, r));
          return row.isPresent();
        });
  }

  // ---------------------------------------------------------------- reaper

  /**
   * What {@link #reapExpiredLeases} did: tasks queued again, and tasks failed (no attempt left).
   */
  public record LeasesReaped(int requeued, int failed) {
    public int total() {
      return requeued + failed;
    }
  }

  /**
   * Leases that expired (the worker died or froze): back to queued with a new doorbell, or failed
   * when no attempt remains. Safe to run in every replica ({@code SKIP LOCKED}).
   */
  public LeasesReaped reapExpiredLeases(int limit) {
    return tx(
        "reap expired leases",
        c -> {
          Instant now = clock.instant();
          List<TaskRow> expired =
              selectForUpdate(
                  c,
                  "t.state = 'running' and t.lease_expires_at < ? order by t.lease_expires_at",
                  Timestamp.from(now),
                  limit);
          int failed = 0;
          for (TaskRow t : expired) {
            TaskError lost =
                TaskError.of(
                    ErrorCodes.LEASE_EXPIRED,
                    "worker "
                        + t.leaseOwner()
                        + " stopped renewing its lease (epoch "
                        + t.leaseEpoch()
                        + ")",
                    true);
            if (t.attempt() >= t.maxAttempts()) {
              try (LogFields f = LogFields.task(t)) {
                LOG.warnf(
                    "task %s: lease of %s (epoch %d) expired and no attempt remains; failing it",
                    t.id(), t.leaseOwner(), t.leaseEpoch());
              }
              finishFailed(
                  c,
                  t,
                  new TaskError(
                      ErrorCodes.ATTEMPTS_EXHAUSTED,
                      "gave up after " + t.attempt() + " attempts; " + lost.message(),
                      null,
                      false),
                  now);
              failed++;
            } else {
              try (LogFields f = LogFields.task(t)) {
                LOG.infof(
                    "task %s: lease of %s (epoch %d) expired at %s; queued again for another"
                        + " worker",
                    t.id(), t.leaseOwner(), t.leaseEpoch(), t.leaseExpiresAt());
              }
              updateUnfenced(
                  c,
                  t.id(),
                  "state = 'queued', lease_owner = null, lease_expires_at = null, error ="
                      + " ?::jsonb, announced_at = ?, updated_at = ?",
                  write(lost),
                  Timestamp.from(now),
                  Timestamp.from(now));
              doorbell(c, t);
            }
          }
          return new LeasesReaped(expired.size() - failed, failed);
        });
  }

  /**
   * Tasks past their {@code resourceTimeout} (all attempts together) fail with {@code
   * resource_timeout}. A running one loses its lease with it, so its worker is fenced out.
   */
  public int failOverdue(int limit) {
    return tx(
        "fail overdue tasks",
        c -> {
          Instant now = clock.instant();
          List<TaskRow> overdue =
              selectForUpdate(
                  c,
                  "t.state in ('queued', 'waiting', 'running', 'suspended') and t.deadline_at < ?"
                      + " order by t.deadline_at",
                  Timestamp.from(now),
                  limit);
          for (TaskRow t : overdue) {
            try (LogFields f = LogFields.task(t)) {
              LOG.infof(
                  "task %s: resourceTimeout passed at %s (attempt %d, %s); failing it",
                  t.id(), t.deadlineAt(), t.attempt(), t.state().wire());
            }
            finishFailed(
                c,
                t,
                TaskError.of(
                    ErrorCodes.RESOURCE_TIMEOUT,
                    "not finished within the session's resourceTimeout (deadline "
                        + t.deadlineAt()
                        + ")",
                    false),
                now);
          }
          return overdue.size();
        });
  }

  /** Waiting tasks whose time has come (retry backoff or earliestBeginAt): queued and announced. */
  public int promoteDueTasks(int limit) {
    return tx(
        "promote due tasks",
        c -> {
          Instant now = clock.instant();
          List<TaskRow> due =
              selectForUpdate(
                  c,
                  "t.state = 'waiting' and t.next_attempt_at <= ? order by t.next_attempt_at",
                  Timestamp.from(now),
                  limit);
          for (TaskRow t : due) {
            updateUnfenced(
                c,
                t.id(),
                "state = 'queued', next_attempt_at = null, announced_at = ?, updated_at = ?",
                Timestamp.from(now),
                Timestamp.from(now));
            doorbell(c, t);
          }
          return due.size();
        });
  }

  /**
   * Analyzes the task table when at least {@code changedRows} of its rows changed since its last
   * analyze (by anyone, autovacuum included), and no other replica is doing it. The claim's plan
   * depends on how many tasks the statistics say are queued and running, and a queue changes faster
   * than autovacuum looks with a default {@code autovacuum_naptime} of a minute (V7). True when it
   * analyzed.
   */
  public boolean analyzeTasksIfStale(long changedRows) {
    return tx(
        "analyze the task table",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("select pg_try_advisory_xact_lock(?)")) {
            ps.setLong(1, ANALYZE_LOCK);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              if (!rs.getBoolean(1)) {
                return false;
              }
            }
          }
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select coalesce(n_mod_since_analyze, 0) from pg_stat_user_tables"
                      + " where relid = 'tasks'::regclass")) {
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next() || rs.getLong(1) < changedRows) {
                return false;
              }
            }
          }
          try (Statement st = c.createStatement()) {
            st.execute("analyze tasks");
          }
          return true;
        });
  }

  private static final long ANALYZE_LOCK = 0x7472616e73616e61L; // "transana"

  /**
   * Queued tasks announced longer ago than {@code olderThan} and still unclaimed: their doorbell
   * may be lost (a topic recreated, an offset skipped), so ring again. A duplicate is harmless.
   */
  public int reannounceStale(Duration olderThan, int limit) {
    return tx(
        "re-announce stale tasks",
        c -> {
          Instant now = clock.instant();
          List<TaskRow> stale =
              selectForUpdate(
                  c,
                  "t.state = 'queued' and t.announced_at < ? order by t.announced_at",
                  Timestamp.from(now.minus(olderThan)),
                  limit);
          for (TaskRow t : stale) {
            updateUnfenced(c, t.id(), "announced_at = ?", Timestamp.from(now));
            doorbell(c, t);
          }
          if (!stale.isEmpty()) {
            LOG.infof(
                "re-announced %d queued tasks not claimed within %s", stale.size(), olderThan);
          }
          return stale.size();
        });
  }

  // ---------------------------------------------------------------- metrics

  /**
   * The queue as the metrics show it: open tasks by state with the oldest {@code updated_at} of
   * each (every move into a state sets it, so for queued tasks it is when they became queued), and
   * the outbox's rows with the oldest one's {@code created_at}. A state with no task is absent.
   */
  public record QueueStats(
      Map<TaskState, Long> tasks,
      Map<TaskState, Instant> oldest,
      long outboxRows,
      Instant oldestOutbox) {}

  /**
   * Reads {@link QueueStats} in two statements of one transaction. The task count reads the open
   * tasks only (the partial index {@code tasks_open_by_session} and their rows), never the finished
   * ones that retention keeps for days; the outbox holds only what Kafka has not acknowledged yet.
   */
  public QueueStats queueStats() {
    return tx(
        "read queue statistics",
        c -> {
          Map<TaskState, Long> tasks = new EnumMap<>(TaskState.class);
          Map<TaskState, Instant> oldest = new EnumMap<>(TaskState.class);
          try (PreparedStatement ps =
                  c.prepareStatement(
                      "select state, count(*), min(updated_at) from tasks where state in"
                          + " ('queued', 'waiting', 'running', 'suspended') group by state");
              ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              TaskState state = TaskState.fromWire(rs.getString(1));
              tasks.put(state, rs.getLong(2));
              oldest.put(state, rs.getTimestamp(3).toInstant());
            }
          }
          try (PreparedStatement ps =
                  c.prepareStatement("select count(*), min(created_at) from outbox");
              ResultSet rs = ps.executeQuery()) {
            rs.next();
            Timestamp first = rs.getTimestamp(2);
            return new QueueStats(
                tasks, oldest, rs.getLong(1), first == null ? null : first.toInstant());
          }
        });
  }

  // ---------------------------------------------------------------- task control

  /** A page of a session's tasks in creation order, optionally of some states only. */
  public List<TaskRow> tasks(
      String tenantId,
      String sessionId,
      java.util.Set<TaskState> states,
      String afterId,
      int limit) {
    return tx(
        "list tasks of session " + sessionId,
        c -> {
          StringBuilder sql =
              new StringBuilder(
                  "select "
                      + TASK_COLUMNS
                      + " from tasks t where t.tenant_id = ? and t.session_id = ?");
          if (states != null && !states.isEmpty()) {
            sql.append(" and t.state = any(?)");
          }
          if (afterId != null) {
            sql.append(
                " and (t.created_at, t.id) > (select a.created_at, a.id from tasks a where a.id = ?"
                    + " and a.tenant_id = t.tenant_id and a.session_id = t.session_id)");
          }
          sql.append(" order by t.created_at, t.id limit ?");
          try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int i = 1;
            ps.setString(i++, tenantId);
            ps.setString(i++, sessionId);
            if (states != null && !states.isEmpty()) {
              ps.setArray(
                  i++, c.createArrayOf("text", states.stream().map(TaskState::wire).toArray()));
            }
            if (afterId != null) {
              ps.setString(i++, afterId);
            }
            ps.setInt(i, limit);
            return rows(ps, this::taskRow);
          }
        });
  }

  /** The task is in a state the requested change cannot leave (a final one). */
  public static final class StateConflict extends RuntimeException {
    private final TaskState state;

    StateConflict(String taskId, TaskState state, String what) {
      super("task " + taskId + " is " + state.wire() + "; " + what, null, false, false);
      this.state = state;
    }

    public TaskState state() {
      return state;
    }
  }

  /** A canceled task and, when asked for and possible, the resume data of its stored prefix. */
  public record Canceled(TaskRow task, String resumeData) {}

  /**
   * Cancels a task (from any open state): final, with its completion event ({@code error.code}
   * {@code canceled}). A running task loses its lease, so its worker stops at its next heartbeat.
   * With {@code produceResumeData}, a download with a durable prefix and a validator answers resume
   * data a new task may continue from. Canceling a canceled task answers it again; a completed or
   * failed one is a {@link StateConflict}. Empty: no such task.
   */
  public Optional<Canceled> cancel(
      String tenantId, String sessionId, String taskId, boolean produceResumeData) {
    return tx(
        "cancel task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty()) {
            return Optional.<Canceled>empty();
          }
          TaskRow t = found.get();
          if (t.state() == TaskState.CANCELED) {
            return Optional.of(new Canceled(t, produceResumeData ? t.resumeData() : null));
          }
          if (t.state().isFinal()) {
            throw new StateConflict(taskId, t.state(), "only an open task can be canceled");
          }
          TaskRow canceled = cancelLocked(c, t, produceResumeData);
          return Optional.of(new Canceled(canceled, canceled.resumeData()));
        });
  }

  private TaskRow cancelLocked(Connection c, TaskRow t, boolean produceResumeData)
      throws SQLException {
    Instant now = clock.instant();
    String resume = produceResumeData ? resumeDataOf(t) : null;
    updateUnfenced(
        c,
        t.id(),
        "state = 'canceled', error = ?::jsonb, resume_data = ?, lease_owner = null,"
            + " lease_expires_at = null, next_attempt_at = null, updated_at = ?, finished_at = ?",
        write(TaskError.of(ErrorCodes.CANCELED, "canceled by the client", false)),
        resume,
        Timestamp.from(now),
        Timestamp.from(now));
    try (LogFields f = LogFields.task(t)) {
      LOG.infof(
          "task %s: canceled by the client while %s (attempt %d, %d durable bytes)%s",
          t.id(),
          t.state().wire(),
          t.attempt(),
          t.bytesDurable(),
          resume != null ? "; resume data produced" : "");
    }
    TaskRow after = taskById(c, t.id()).orElseThrow();
    appendCompleted(c, after);
    if (t.state() == TaskState.RUNNING) {
      ringSession(c, t.tenantId(), t.sessionId());
    }
    return after;
  }

  /** Resume data for a download's durable prefix, or null when nothing can be resumed. */
  private static String resumeDataOf(TaskRow t) {
    boolean strongEtag = t.etag() != null && !t.etag().startsWith("W/");
    if (t.type() != TaskType.DOWNLOAD
        || t.bytesDurable() <= 0
        || t.durableEpoch() == null
        || (!strongEtag && t.lastModified() == null)) {
      return null;
    }
    return new ResumeData(
            ResumeData.VERSION,
            t.id(),
            t.durableEpoch(),
            t.bytesDurable(),
            t.etag(),
            t.lastModified())
        .encode();
  }

  /**
   * Suspends an open task: it holds no worker until resumed. A running one gives up its lease (its
   * worker stops at the next heartbeat); the attempt does not count and its checkpoint stays.
   * Suspending a suspended task is a no-op; a final one is a {@link StateConflict}.
   */
  public Optional<TaskRow> suspend(String tenantId, String sessionId, String taskId) {
    return tx(
        "suspend task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty() || found.get().state() == TaskState.SUSPENDED) {
            return found;
          }
          TaskRow t = found.get();
          if (t.state().isFinal()) {
            throw new StateConflict(taskId, t.state(), "only an open task can be suspended");
          }
          boolean running = t.state() == TaskState.RUNNING;
          updateUnfenced(
              c,
              taskId,
              "state = 'suspended', attempt = case when ? then greatest(attempt - 1, 0) else"
                  + " attempt end, lease_owner = null, lease_expires_at = null,"
                  + " next_attempt_at = null, updated_at = ?",
              running,
              now());
          try (LogFields f = LogFields.task(t)) {
            LOG.infof(
                "task %s: suspended by the client while %s (%d durable bytes kept)",
                taskId, t.state().wire(), t.bytesDurable());
          }
          if (running) {
            ringSession(c, tenantId, sessionId);
          }
          return taskById(c, taskId);
        });
  }

  /**
   * Resumes a suspended task: queued and announced, to continue from its checkpoint. An open task
   * that is not suspended is answered as it is; a final one is a {@link StateConflict}.
   */
  public Optional<TaskRow> resume(String tenantId, String sessionId, String taskId) {
    return tx(
        "resume task " + taskId,
        c -> {
          Optional<TaskRow> found = lockTask(c, tenantId, sessionId, taskId);
          if (found.isEmpty() || found.get().state() != TaskState.SUSPENDED) {
            if (found.isPresent() && found.get().state().isFinal()) {
              throw new StateConflict(
                  taskId, found.get().state(), "only a suspended task can be resumed");
            }
            return found;
          }
          Timestamp now = now();
          updateUnfenced(c, taskId, "state = 'queued', announced_at = ?, updated_at = ?", now, now);
          doorbell(c, found.get());
          try (LogFields f = LogFields.task(found.get())) {
            LOG.infof("task %s: resumed by the client; queued", taskId);
          }
          return taskById(c, taskId);
        });
  }

  private Optional<TaskRow> lockTask(Connection c, String tenantId, String sessionId, String taskId)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where t.tenant_id = ? and t.session_id = ? and t.id = ?"
                + " for update")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, taskId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  /**
   * A slot of a session freed up (a running task ended or was suspended): ring for one of its
   * queued tasks, which a claim may have passed over while the session or host was at its limit.
   */
  private void ringSession(Connection c, String tenantId, String sessionId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select id, traceparent, tracestate from tasks where tenant_id = ? and session_id = ?"
                + " and state = 'queued' order by created_at limit 1")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          // That task's doorbell, in that task's trace.
          doorbells(
              c,
              List.of(rs.getString(1)),
              sessionId,
              List.of(Optional.ofNullable(TraceContext.of(rs.getString(2), rs.getString(3)))));
        }
      }
    }
  }

  // ---------------------------------------------------------------- objects

  /**
   * Records a staged object; answers the location of the object it replaced, if any, whose bytes
   * the caller deletes.
   */
  public Optional<String> putObject(StoredObject o) {
    return tx(
        "save object " + o.name(),
        c -> {
          String state =
              sessionById(c, o.tenantId(), o.sessionId(), " for key share")
                  .map(SessionRow::state)
                  .orElseThrow(() -> new SessionClosed(o.sessionId(), null));
          if (!"active".equals(state)) {
            throw new SessionClosed(o.sessionId(), state);
          }
          int inserted =
              execute(
                  c,
                  "insert into objects (tenant_id, session_id, name, location, size, sha256,"
                      + " created_at) values (?, ?, ?, ?, ?, ?, ?)"
                      + " on conflict (tenant_id, session_id, name) do nothing",
                  o.tenantId(),
                  o.sessionId(),
                  o.name(),
                  o.location(),
                  o.size(),
                  o.sha256(),
                  Timestamp.from(o.createdAt()));
          if (inserted == 1) {
            return Optional.<String>empty();
          }
          // Replacing: lock the row so that of two concurrent PUTs each answers the location
          // it replaced, and every replaced file is deleted exactly once.
          String before;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select location from objects where tenant_id = ? and session_id = ?"
                      + " and name = ? for update")) {
            ps.setString(1, o.tenantId());
            ps.setString(2, o.sessionId());
            ps.setString(3, o.name());
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                // Deleted in between: this PUT creates it after all.
                throw new LedgerException(
                    "object " + o.name() + " changed while it was replaced; retry the request",
                    null);
              }
              before = rs.getString(1);
            }
          }
          execute(
              c,
              "update objects set location = ?, size = ?, sha256 = ?, created_at = ?"
                  + " where tenant_id = ? and session_id = ? and name = ?",
              o.location(),
              o.size(),
              o.sha256(),
              Timestamp.from(o.createdAt()),
              o.tenantId(),
              o.sessionId(),
              o.name());
          return Optional.of(before);
        });
  }

  public Optional<StoredObject> object(String tenantId, String sessionId, String name) {
    return tx("read object " + name, c -> objectIn(c, tenantId, sessionId, name));
  }

  /** Forgets a staged object; answers it so that the caller deletes its bytes. */
  public Optional<StoredObject> deleteObject(String tenantId, String sessionId, String name) {
    return tx(
        "delete object " + name,
        c -> {
          Optional<StoredObject> o = objectIn(c, tenantId, sessionId, name);
          if (o.isPresent()) {
            execute(
                c,
                "delete from objects where tenant_id = ? and session_id = ? and name = ?",
                tenantId,
                sessionId,
                name);
          }
          return o;
        });
  }

  private Optional<StoredObject> objectIn(
      Connection c, String tenantId, String sessionId, String name) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select location, size, sha256, created_at from objects"
                + " where tenant_id = ? and session_id = ? and name = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            new StoredObject(
                tenantId,
                sessionId,
                name,
                rs.getString(1),
                rs.getLong(2),
                rs.getString(3),
                instant(rs, "created_at")));
      }
    }
  }

  // ---------------------------------------------------------------- retention

  /** What a purge removed: files of expired tasks to delete, and the counts. */
  public record Purged(List<String> taskIds, List<String> locations, int tasks, int events) {}

  /**
   * Removes finished tasks finished before {@code tasksBefore} (with their idempotency keys) and
   * events stored before {@code eventsBefore}, at most {@code limit} of each. The caller deletes
   * the returned tasks' stored objects and temporary objects.
   */
  public Purged purgeExpired(Instant tasksBefore, Instant eventsBefore, int limit) {
    return tx(
        "purge expired tasks and events",
        c -> {
          List<String> ids = new ArrayList<>();
          List<String> locations = new ArrayList<>();
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select id, location from tasks where state in ('completed', 'failed',"
                      + " 'canceled') and finished_at < ? order by finished_at limit ?"
                      + " for update skip locked")) {
            ps.setTimestamp(1, Timestamp.from(tasksBefore));
            ps.setInt(2, limit);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                ids.add(rs.getString(1));
                if (rs.getString(2) != null) {
                  locations.add(rs.getString(2));
                }
              }
            }
          }
          if (!ids.isEmpty()) {
            java.sql.Array arr = c.createArrayOf("text", ids.toArray());
            try (PreparedStatement ps =
                c.prepareStatement("delete from idempotency_keys where task_id = any(?)")) {
              ps.setArray(1, arr);
              ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("delete from tasks where id = any(?)")) {
              ps.setArray(1, arr);
              ps.executeUpdate();
            }
          }
          int events;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "delete from events where ctid = any(array(select ctid from events"
                      + " where time < ? limit ?))")) {
            ps.setTimestamp(1, Timestamp.from(eventsBefore));
            ps.setInt(2, limit);
            events = ps.executeUpdate();
          }
          return new Purged(ids, locations, ids.size(), events);
        });
  }

  // ---------------------------------------------------------------- outbox and events

  /** The oldest unpublished outbox rows, in the order they must be published. */
  public List<OutboxMessage> pendingOutbox(int limit) {
    return tx(
        "read outbox",
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select id, topic, msg_key, payload, traceparent, tracestate from outbox"
                      + " order by id limit ?")) {
            ps.setInt(1, limit);
            return rows(
                ps,
                rs ->
                    new OutboxMessage(
                        rs.getLong(1),
                        rs.getString(2),
                        rs.getString(3),
                        rs.getString(4),
                        TraceContext.of(rs.getString(5), rs.getString(6))));
          }
        });
  }

  public void deleteOutbox(List<Long> ids) {
    if (ids.isEmpty()) {
      return;
    }
    tx(
        "delete published outbox rows",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("delete from outbox where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", ids.toArray()));
            ps.executeUpdate();
          }
          return null;
        });
  }

  /** Stored events of a session after {@code afterSeq}, in order (replay). */
  public List<JsonNode> events(String tenantId, String sessionId, long afterSeq, int limit) {
    return tx(
        "read events of session " + sessionId,
        c -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select payload from events where tenant_id = ? and session_id = ? and seq > ?"
                      + " order by seq limit ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, sessionId);
            ps.setLong(3, afterSeq);
            ps.setInt(4, limit);
            return rows(ps, rs -> json.readTree(rs.getString(1)));
          }
        });
  }

  // ---------------------------------------------------------------- internals

  /** Failures after which the same bytes may still come: only these offer resumeData. */
  private static final java.util.Set<String> RESUMABLE_FAILURES =
      java.util.Set.of(
          ErrorCodes.ATTEMPTS_EXHAUSTED,
          ErrorCodes.RESOURCE_TIMEOUT,
          ErrorCodes.STALLED,
          ErrorCodes.CONNECTION_FAILED);

  /** Ends a task as failed with its completion event; true when it offers resumeData. */
  private boolean finishFailed(Connection c, TaskRow task, TaskError error, Instant now)
      throws SQLException {
    String resume = RESUMABLE_FAILURES.contains(error.code()) ? resumeDataOf(task) : null;
    // A download that failed with a durable prefix offers resumeData, as URLSession's
    // NSURLSessionDownloadTaskResumeData does; its temporary object is kept until retention.
    updateUnfenced(
        c,
        task.id(),
        "state = 'failed', error = ?::jsonb, resume_data = ?, lease_owner = null,"
            + " lease_expires_at = null, next_attempt_at = null, updated_at = ?, finished_at = ?",
        write(error),
        resume,
        Timestamp.from(now),
        Timestamp.from(now));
    TaskRow failed = taskById(c, task.id()).orElseThrow();
    appendCompleted(c, failed);
    if (task.state() == TaskState.RUNNING) {
      ringSession(c, task.tenantId(), task.sessionId());
    }
    return resume != null;
  }

  private void appendCompleted(Connection c, TaskRow task) throws SQLException {
    appendCompleted(c, task, null);
  }

  private void appendCompleted(Connection c, TaskRow task, Integer httpStatus) throws SQLException {
    ObjectNode data = json.createObjectNode();
    data.put("state", task.state().wire());
    data.set("error", task.error() == null ? null : json.valueToTree(task.error()));
    data.put("location", task.location());
    if (task.state() == TaskState.COMPLETED) {
      data.put("size", task.bytesTransferred());
    }
    data.put("sha256", task.sha256());
    if (httpStatus != null) {
      data.put("httpStatus", httpStatus);
    }
    if (task.resumeData() != null) {
      data.put("resumeData", task.resumeData());
    }
    // The session's drained event, when this was its last open task, is the sequencer's
    // (sequenceEvents): it sees every final transition of the session in one order.
    appendTaskEvent(c, task, EventTypes.COMPLETED, task.id() + ":completed", data);
  }

  /** The drained event when no task of the session is open (an invalidation of an idle session). */
  private void appendDrainedIfIdle(
      Connection c, String tenantId, String sessionId, String lastTaskId, String eventId)
      throws SQLException {
    Optional<ObjectNode> data = drainedData(c, tenantId, sessionId, lastTaskId, null);
    if (data.isPresent()) {
      appendEvent(
          c, tenantId, sessionId, EventTypes.SESSION_DRAINED, null, eventId, data.get(), trace);
    }
  }

  /**
   * The data of a {@code transfer.session.drained} event (the session's totals) when no task of the
   * session is open; empty otherwise. With {@code numbering} (the session's events the sequencer
   * numbers now; null for an invalidation's own drained event), also empty while other events of
   * the session wait: a later completion among them is the last one, and the batch that numbers it
   * writes the drained event. (Without that check, batches that split a session's last completions
   * wrote a drained event after each of them.)
   */
  private Optional<ObjectNode> drainedData(
      Connection c,
      String tenantId,
      String sessionId,
      String lastTaskId,
      List<PendingEvent> numbering)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select exists (select 1 from tasks where tenant_id = ? and session_id = ? and state"
                + " in ('queued', 'waiting', 'running', 'suspended'))")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (rs.getBoolean(1)) {
          return Optional.empty();
        }
      }
    }
    if (numbering != null) {
      // After the open-task check, in its own snapshot: every final transition it saw has
      // committed, and their pending events with it (one transaction each), so none is missed;
      // by position, since one that committed late may sit before this batch's.
      try (PreparedStatement ps =
          c.prepareStatement(
              "select exists (select 1 from pending_events where tenant_id = ?"
                  + " and session_id = ? and pos <> all(?))")) {
        ps.setString(1, tenantId);
        ps.setString(2, sessionId);
        ps.setArray(
            3, c.createArrayOf("bigint", numbering.stream().map(PendingEvent::pos).toArray()));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (rs.getBoolean(1)) {
            return Optional.empty();
          }
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select count(*) filter (where state = 'completed'),"
                + " count(*) filter (where state = 'failed'),"
                + " count(*) filter (where state = 'canceled')"
                + " from tasks where tenant_id = ? and session_id = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        ObjectNode data = json.createObjectNode();
        data.put("sessionId", sessionId);
        data.put("lastTaskId", lastTaskId);
        ObjectNode totals = data.putObject("tasks");
        totals.put("completed", rs.getLong(1));
        totals.put("failed", rs.getLong(2));
        totals.put("canceled", rs.getLong(3));
        return Optional.of(data);
      }
    }
  }

  /**
   * A progress event (URLSession's didWriteData / didSendBodyData): bytes since the previous one,
   * the total so far and the total expected (null when unknown). Progress ids are random: each is a
   * new fact, and a redelivered copy still carries the id it was stored with.
   */
  private void appendProgress(
      Connection c, TaskRow task, long sinceLastEvent, long total, Long expected)
      throws SQLException {
    ObjectNode data = json.createObjectNode();
    data.put("bytesTransferred", sinceLastEvent);
    data.put("totalBytesTransferred", total);
    if (expected != null) {
      data.put("totalBytesExpected", expected);
    } else {
      data.putNull("totalBytesExpected");
    }
    appendTaskEvent(c, task, EventTypes.PROGRESS, UUID.randomUUID().toString(), data);
  }

  /** Adds a task's event: {@code taskId}, {@code type}, {@code metadata} join {@code data}. */
  private void appendTaskEvent(
      Connection c, TaskRow task, String type, String eventId, ObjectNode data)
      throws SQLException {
    ObjectNode full = json.createObjectNode();
    full.put("taskId", task.id());
    full.put("taskType", task.type().wire());
    full.put("attempt", task.attempt());
    full.setAll(data);
    if (task.request().metadata() != null) {
      full.set("metadata", task.request().metadata());
    }
    // The writer's context (a worker's attempt), else the task's own: its events stay in its trace.
    appendEvent(
        c,
        task.tenantId(),
        task.sessionId(),
        type,
        task.id(),
        eventId,
        full,
        trace != null ? trace : task.trace());
  }

  /**
   * Adds an event without its number: {@link #sequenceEvents} numbers it after the commit, so that
   * transactions of one session never wait for each other here.
   */
  private void appendEvent(
      Connection c,
      String tenantId,
      String sessionId,
      String type,
      String subject,
      String eventId,
      JsonNode data,
      TraceContext context)
      throws SQLException {
    execute(
        c,
        "insert into pending_events (tenant_id, session_id, id, type, task_id, time, data,"
            + " traceparent, tracestate) values (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)",
        tenantId,
        sessionId,
        eventId,
        type,
        subject,
        Timestamp.from(clock.instant()),
        write(data),
        context == null ? null : context.traceparent(),
        context == null ? null : context.tracestate());
  }

  private static final long SEQUENCER_LOCK = 0x7472616e73657173L; // "transseqs"

  /** An event waiting for its number. */
  private record PendingEvent(
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
    return tx(
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
                    drainedData(c, tenantId, sessionId, lastCompletion.taskId(), session);
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
              Timestamp now = now();
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
            ps.setString(1, OUTBOX_CHANNEL);
            ps.execute();
          }
          return numbered;
        });
  }

  /**
   * One outbox row, with the trace context its publishing continues; the table's trigger wakes the
   * relay at commit (V6).
   */
  private static final String OUTBOX_INSERT =
      "insert into outbox (topic, msg_key, payload, created_at, traceparent, tracestate)"
          + " values (?, ?, ?, ?, ?, ?)";

  private static void bindOutbox(
      PreparedStatement ps,
      String topic,
      String key,
      String payload,
      Timestamp now,
      TraceContext context)
      throws SQLException {
    bind(
        ps,
        topic,
        key,
        payload,
        now,
        context == null ? null : context.traceparent(),
        context == null ? null : context.tracestate());
  }

  /**
   * The doorbells of tasks (of one session), in one round trip. Each carries its task's stored
   * trace context, whoever rings it (the submit, the reaper, a hand-back): a requeued task's next
   * attempt is in the trace of its submission.
   */
  private void doorbells(Connection c, List<TaskRow> tasks) throws SQLException {
    if (tasks.isEmpty()) {
      return;
    }
    doorbells(
        c,
        tasks.stream().map(TaskRow::id).toList(),
        tasks.get(0).sessionId(),
        tasks.stream().map(t -> Optional.ofNullable(t.trace())).toList());
  }

  private void doorbells(
      Connection c, List<String> taskIds, String sessionId, List<Optional<TraceContext>> traces)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(OUTBOX_INSERT)) {
      Timestamp now = now();
      for (int i = 0; i < taskIds.size(); i++) {
        String id = taskIds.get(i);
        bindOutbox(
            ps,
            Topics.TASKS,
            id,
            write(new Doorbell(id, sessionId)),
            now,
            traces.get(i).orElse(null));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private void doorbell(Connection c, TaskRow task) {
    try {
      doorbells(c, List.of(task));
    } catch (SQLException e) {
      throw new LedgerException("cannot write doorbell of task " + task.id(), e);
    }
  }

  /** A statement filling its parameters from index 1 and returning the next free index. */
  @FunctionalInterface
  private interface Binder {
    int bind(PreparedStatement ps) throws SQLException;
  }

  private Optional<TaskRow> fencedUpdate(
      Connection c, String taskId, long epoch, String setClause, Binder binder)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "update tasks t set "
                + setClause
                + " where t.id = ? and t.lease_epoch = ? and t.state = 'running' returning "
                + TASK_COLUMNS)) {
      int i = binder.bind(ps);
      ps.setString(i, taskId);
      ps.setLong(i + 1, epoch);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  private static int bindCheckpoint(PreparedStatement ps, int i, Checkpoint cp)
      throws SQLException {
    boolean has = cp != null;
    ps.setBoolean(i, has);
    ps.setLong(i + 1, has ? cp.bytes() : 0);
    ps.setBoolean(i + 2, has);
    ps.setLong(i + 3, has ? cp.epoch() : 0);
    ps.setBoolean(i + 4, has);
    ps.setString(i + 5, has ? cp.etag() : null);
    ps.setBoolean(i + 6, has);
    ps.setString(i + 7, has ? cp.lastModified() : null);
    // A checkpoint is always of this task's own temporary object.
    ps.setBoolean(i + 8, has);
    return i + 9;
  }

  private Optional<TaskRow> lockRunning(Connection c, String taskId, long epoch)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where t.id = ? and t.lease_epoch = ? and t.state = 'running'"
                + " for update")) {
      ps.setString(1, taskId);
      ps.setLong(2, epoch);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  private void updateUnfenced(Connection c, String taskId, String setClause, Object... params)
      throws SQLException {
    Object[] all = java.util.Arrays.copyOf(params, params.length + 1);
    all[params.length] = taskId;
    execute(c, "update tasks set " + setClause + " where id = ?", all);
  }

  /** One statement with positional parameters (null for SQL NULL); the number of rows changed. */
  private static int execute(Connection c, String sql, Object... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, params);
      return ps.executeUpdate();
    }
  }

  /** Sets positional parameters from index 1 (null for SQL NULL). */
  private static void bind(PreparedStatement ps, Object... params) throws SQLException {
    for (int i = 0; i < params.length; i++) {
      ps.setObject(i + 1, params[i]);
    }
  }

  private List<TaskRow> selectForUpdate(Connection c, String where, Timestamp at, int limit)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select "
                + TASK_COLUMNS
                + " from tasks t where "
                + where
                + " limit ? for update skip locked")) {
      ps.setTimestamp(1, at);
      ps.setInt(2, limit);
      return rows(ps, this::taskRow);
    }
  }

  private Optional<TaskRow> taskById(Connection c, String id) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("select " + TASK_COLUMNS + " from tasks t where t.id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(taskRow(rs)) : Optional.empty();
      }
    }
  }

  private TaskRow taskRow(ResultSet rs) throws SQLException {
    String error = rs.getString("error");
    return new TaskRow(
        rs.getString("id"),
        rs.getString("tenant_id"),
        rs.getString("session_id"),
        TaskType.fromWire(rs.getString("type")),
        TaskState.fromWire(rs.getString("state")),
        rs.getString("url"),
        read(rs.getString("request"), TaskRequest.class),
        rs.getDouble("priority"),
        rs.getInt("attempt"),
        rs.getInt("max_attempts"),
        instant(rs, "next_attempt_at"),
        rs.getString("lease_owner"),
        rs.getLong("lease_epoch"),
        instant(rs, "lease_expires_at"),
        rs.getLong("bytes_transferred"),
        rs.getLong("bytes_durable"),
        (Long) rs.getObject("bytes_expected"),
        rs.getString("etag"),
        rs.getString("last_modified"),
        rs.getString("location"),
        rs.getString("sha256"),
        error == null ? null : read(error, TaskError.class),
        instant(rs, "created_at"),
        instant(rs, "updated_at"),
        instant(rs, "finished_at"),
        (Long) rs.getObject("durable_epoch"),
        instant(rs, "deadline_at"),
        rs.getString("host"),
        rs.getBoolean("discretionary"),
        rs.getString("durable_task"),
        rs.getString("source_location"),
        (Long) rs.getObject("source_size"),
        rs.getString("source_sha256"),
        rs.getString("resume_data"),
        TraceContext.of(rs.getString("traceparent"), rs.getString("tracestate")));
  }

  private SessionRow sessionRow(ResultSet rs, boolean created) throws SQLException {
    return new SessionRow(
        rs.getString("tenant_id"),
        rs.getString("id"),
        rs.getString("state"),
        read(rs.getString("config"), SessionConfig.class),
        instant(rs, "created_at"),
        instant(rs, "updated_at"),
        rs.getLong("last_event_seq"),
        created);
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    Timestamp ts = rs.getTimestamp(column);
    return ts == null ? null : ts.toInstant();
  }

  /** {@code host:port} of a URL, lower case, the default port filled in: one per origin server. */
  static String hostOf(String url) {
    try {
      java.net.URI u = new java.net.URI(url);
      String host = u.getHost() == null ? "" : u.getHost().toLowerCase(java.util.Locale.ROOT);
      int port = u.getPort();
      if (port < 0) {
        port = "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
      }
      return host + ":" + port;
    } catch (java.net.URISyntaxException e) {
      return "";
    }
  }

  private static void setLong(PreparedStatement ps, int index, Long value) throws SQLException {
    if (value == null) {
      ps.setNull(index, java.sql.Types.BIGINT);
    } else {
      ps.setLong(index, value);
    }
  }

  private static byte[] sha256(String text) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private Timestamp now() {
    return Timestamp.from(clock.instant());
  }

  private String write(Object value) {
    try {
      return json.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
    }
  }

  private <T> T read(String text, Class<T> type) {
    try {
      return json.readValue(text, type);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("stored JSON is not a " + type.getSimpleName(), e);
    }
  }

  /** Reads one row of a result; may throw what the row's parsing throws ({@code E}). */
  @FunctionalInterface
  private interface RowReader<T, E extends Exception> {
    T read(ResultSet rs) throws SQLException, E;
  }

  /** Every row of the statement's result, read by {@code reader}, in order. */
  private static <T, E extends Exception> List<T> rows(PreparedStatement ps, RowReader<T, E> reader)
      throws SQLException, E {
    List<T> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(reader.read(rs));
      }
    }
    return out;
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws Exception;
  }

  private <T> T tx(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (Exception e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(auto);
      }
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new LedgerException("ledger: cannot " + what + ": " + e.getMessage(), e);
    }
  }
}
