package transfer.ledger;

import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * A task row this version cannot read: a column it must understand (the stored request, error or
 * response JSON, the type or the state) does not parse. It carries what the row's plain columns
 * say, so that the task can fail alone ({@link UnreadableTasks}) while every other task goes on.
 */
final class UnreadableTask extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final String taskId;
  private final String tenantId;
  private final String sessionId;
  private final String type;
  private final String state;
  private final int attempt;

  private UnreadableTask(
      String taskId,
      String tenantId,
      String sessionId,
      String type,
      String state,
      int attempt,
      RuntimeException cause) {
    super(
        "task "
            + taskId
            + " of session "
            + sessionId
            + " of tenant "
            + tenantId
            + ": its stored row cannot be read by this version ("
            + reason(cause)
            + ")",
        cause);
    this.taskId = taskId;
    this.tenantId = tenantId;
    this.sessionId = sessionId;
    this.type = type;
    this.state = state;
    this.attempt = attempt;
  }

  /** The task of the current row of {@code rs}, which failed to read with {@code cause}. */
  static UnreadableTask of(ResultSet rs, RuntimeException cause) throws SQLException {
    return new UnreadableTask(
        rs.getString("id"),
        rs.getString("tenant_id"),
        rs.getString("session_id"),
        rs.getString("type"),
        rs.getString("state"),
        rs.getInt("attempt"),
        cause);
  }

  /** What failed to read, in a line: the innermost message, without the stored text. */
  static String reason(Throwable cause) {
    Throwable t = cause;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    int line = message.indexOf('\n');
    return line < 0 ? message : message.substring(0, line);
  }

  String taskId() {
    return taskId;
  }

  String tenantId() {
    return tenantId;
  }

  String sessionId() {
    return sessionId;
  }

  /** The stored type, as stored (it may be one this version does not know). */
  String type() {
    return type;
  }

  /** The stored state, as stored. */
  String state() {
    return state;
  }

  int attempt() {
    return attempt;
  }
}
