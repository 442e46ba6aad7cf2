package transfer.ledger;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.telemetry.TraceContext;

/**
 * New tasks: single tasks and batches of one session, each written with its doorbell in the
 * transaction that decides it. Several submits may share one transaction and one commit ({@link
 * #submitAll}, which {@link SubmitGroups} uses for concurrent single submits); each is decided on
 * its own. With an Idempotency-Key, a repeated request answers the tasks of the first one.
 */
public final class Submissions {
  private static final Logger LOG = Logger.getLogger(Submissions.class);
  private final Tx tx;
  private final SubmitWriter writer;

  Submissions(Tx tx, Sessions sessions, TaskInsert inserts, Outbox outbox, EventWriter events) {
    this.tx = tx;
    this.writer = new SubmitWriter(tx, sessions, inserts, outbox, events);
  }

  /** Whether an Idempotency-Key was used in this session already (a submit would replay). */
  public boolean idempotencyKeyUsed(String tenantId, String sessionId, String key) {
    return tx.run(
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
   * A request that is well formed but cannot be carried out as asked (a field of the request, why):
   * 422, nothing stored.
   */
  public static final class Unprocessable extends RuntimeException {
    private final String field;

    Unprocessable(String field, String message) {
      super(message, null, false, false);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /** A quota of the tenant leaves no room for the submit's tasks: nothing was stored. */
  public static final class QuotaReached extends RuntimeException {
    /** Which quota. */
    public enum Which {
      TASKS_IN_FLIGHT,
      BYTES_STORED
    }

    private final Which which;

    QuotaReached(Which which) {
      super("the tenant's " + which + " quota is reached", null, false, false);
      this.which = which;
    }

    public Which which() {
      return which;
    }
  }

  /**
   * Writes a new task and, when it may start now, its doorbell in the outbox: one transaction, so
   * that a crash after the commit cannot lose the announcement. With an {@code idempotencyKey}, a
   * repeated submit of the same body answers the first task; another body is an {@link
   * IdempotencyConflict}. {@code trace} (the submit's W3C trace context; null for none) is stored
   * with the task, and so goes with every doorbell of it and every event written without a context
   * of its own. A session that takes no new tasks is a {@link Sessions.SessionClosed}.
   */
  public Submitted submit(
      String tenantId,
      String sessionId,
      TaskRequest request,
      SessionConfig session,
      String idempotencyKey,
      TraceContext trace) {
    Submit.Outcome o =
        submitAll(
                List.of(
                    Submit.one(tenantId, sessionId, request, idempotencyKey, trace)
                        .withConfig(session)))
            .get(0);
    return new Submitted(o.tasksOrThrow().get(0), o.replayed());
  }

  /** The tasks a batch submit answers, in request order; {@code replayed} as for one task. */
  public record BatchSubmitted(List<TaskRow> tasks, boolean replayed) {}

  /**
   * Writes several tasks of one session in one transaction, all or none, with their doorbells: one
   * insert of all the tasks and one of all the doorbells. A refused reference names its task
   * ({@code tasks[i].field}). With an {@code idempotencyKey}, a repeated batch of the same body
   * answers the first batch's tasks; another body is an {@link IdempotencyConflict}. The key is
   * stored once per task, as {@code "batch <i> <key>"} (a key with spaces, which a single submit's
   * key cannot be). Every task stores {@code trace}, as a single submit's does.
   */
  public BatchSubmitted submitBatch(
      String tenantId,
      String sessionId,
      List<TaskRequest> requests,
      SessionConfig session,
      String idempotencyKey,
      TraceContext trace) {
    Submit.Outcome o =
        submitAll(
                List.of(
                    Submit.batch(tenantId, sessionId, requests, idempotencyKey, trace)
                        .withConfig(session)))
            .get(0);
    return new BatchSubmitted(o.tasksOrThrow(), o.replayed());
  }

  /**
   * Writes submits in one transaction and one commit, and answers each one's outcome, in order.
   * Each is decided on its own before anything is written (its session, its Idempotency-Key, its
   * tenant's quotas, what its tasks name), so a refused one stores nothing and leaves the others
   * be. When the transaction itself fails (a key raced by a concurrent submit, or the database
   * refused a row), it is tried once more, since a raced key is visible then and answers as a
   * replay; failing again, each submit is written in a transaction of its own, so that the one the
   * database refuses gets that refusal and the others are stored.
   */
  public List<Submit.Outcome> submitAll(List<Submit> submits) {
    if (submits.isEmpty()) {
      return List.of();
    }
    String what =
        submits.size() == 1
            ? "submit "
                + submits.get(0).tasks().size()
                + " task(s) to session "
                + submits.get(0).sessionId()
            : "submit " + submits.size() + " requests together";
    try {
      return onceMoreOnKeyRace(
          submits.stream().anyMatch(s -> s.idempotencyKey() != null),
          () -> tx.run(what, c -> writer.run(c, submits)));
    } catch (RuntimeException e) {
      if (submits.size() == 1 || !oneMayBeToBlame(e)) {
        return submits.stream().map(s -> Submit.Outcome.refused(e)).toList();
      }
      LOG.warnf(
          "%d submits written together failed (%s); each is written on its own now",
          submits.size(), e.getMessage());
      List<Submit.Outcome> out = new ArrayList<>(submits.size());
      for (Submit s : submits) {
        out.add(submitAll(List.of(s)).get(0));
      }
      return out;
    }
  }

  /**
   * Whether a failed transaction may have failed for one submit's data (a value or a constraint the
   * database refused, or a fault in this code), rather than for the database being unreachable,
   * shutting down or out of resources: then every submit alone would fail the same way, each after
   * its own wait.
   */
  private static boolean oneMayBeToBlame(RuntimeException e) {
    if (e.getCause() instanceof SQLException se) {
      String state = se.getSQLState() == null ? "" : se.getSQLState();
      return state.startsWith("22") || state.startsWith("23") || state.startsWith("54");
    }
    return !(e instanceof LedgerException);
  }

  /**
   * Runs a submit; when two identical keyed submits raced, the loser's key insert hit the winner's
   * row. That row is visible now, and a second try answers the winner's task(s).
   */
  private static <T> T onceMoreOnKeyRace(boolean keyed, java.util.function.Supplier<T> submit) {
    try {
      return submit.get();
    } catch (LedgerException e) {
      if (keyed && e.getCause() instanceof SQLException se && "23505".equals(se.getSQLState())) {
        return submit.get();
      }
      throw e;
    }
  }

  /** How a batch's Idempotency-Key is stored for its task {@code index}. */
  public static String batchKey(int index, String idempotencyKey) {
    return "batch " + index + " " + idempotencyKey;
  }
}
