package transfer.telemetry;

import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.MDC;

/**
 * The fields a log line about a task carries ({@code taskId}, {@code sessionId}, {@code tenant},
 * {@code traceId}, {@code spanId}): put into the MDC for the lines logged inside a try block, and
 * on close put back as they were (a caller's own fields, such as a request's, survive). JSON logs
 * ({@code quarkus.log.console.json}, flat MDC fields) write them as top-level fields, so one query
 * finds a task's lines across services, and its trace.
 *
 * <pre>{@code
 * try (var f = LogFields.task(task)) {
 *   LOG.infof("task %s: ...", task.id());
 * }
 * }</pre>
 */
public final class LogFields implements AutoCloseable {
  public static final String TASK_ID = "taskId";
  public static final String SESSION_ID = "sessionId";
  public static final String TENANT = "tenant";
  public static final String TRACE_ID = "traceId";
  public static final String SPAN_ID = "spanId";

  private final List<String> keys = new ArrayList<>(5);
  private final List<Object> before = new ArrayList<>(5);

  /** What a log line about a task names: its ids and the trace it was submitted in (or null). */
  public interface Task {
    String id();

    String sessionId();

    String tenantId();

    TraceContext trace();
  }

  private LogFields() {}

  /** A task's fields, its trace being {@code trace} (the task's stored one when null). */
  public static LogFields task(Task task, TraceContext trace) {
    TraceContext t = trace != null ? trace : task.trace();
    return of(
        task.id(),
        task.sessionId(),
        task.tenantId(),
        t == null ? null : t.traceId(),
        t == null ? null : t.spanId());
  }

  /** A task's fields with its stored trace. */
  public static LogFields task(Task task) {
    return task(task, null);
  }

  /** The given fields; a null value leaves that field as it is. */
  public static LogFields of(
      String taskId, String sessionId, String tenant, String traceId, String spanId) {
    LogFields f = new LogFields();
    f.put(TASK_ID, taskId);
    f.put(SESSION_ID, sessionId);
    f.put(TENANT, tenant);
    f.put(TRACE_ID, traceId);
    f.put(SPAN_ID, spanId);
    return f;
  }

  private void put(String key, String value) {
    if (value != null) {
      keys.add(key);
      before.add(MDC.put(key, value));
    }
  }

  /** Puts the fields back as they were before. */
  @Override
  public void close() {
    for (int i = keys.size() - 1; i >= 0; i--) {
      Object old = before.get(i);
      if (old == null) {
        MDC.remove(keys.get(i));
      } else {
        MDC.put(keys.get(i), old);
      }
    }
  }
}
