package transfer.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;

/**
 * What the terminal shows of some tasks: each one's state, bytes and rate, from the session's
 * events (progress about once a second) and from polls of the task (state changes, and the truth if
 * an event is missed). Thread-safe: the event feed's thread writes, the drawing thread reads.
 */
final class Progress {

  /** One task's line. */
  static final class Line {
    final String taskId;
    String label;
    String state = "queued";
    long done;
    Long expected;
    double rate;
    boolean reported;
    private long rateAtMillis = -1;
    private long rateAtBytes;

    Line(String taskId, String label) {
      this.taskId = taskId;
      this.label = label;
    }

    boolean isFinal() {
      return state.equals("completed") || state.equals("failed") || state.equals("canceled");
    }
  }

  private final Map<String, Line> lines = new LinkedHashMap<>();
  private long tick;

  synchronized void track(TaskView task, String label) {
    Line l = lines.computeIfAbsent(task.id(), id -> new Line(id, label));
    apply(l, task);
  }

  /**
   * A task only its events have told about (watch: submitted after it began): running, its size
   * unknown until its first progress event or poll.
   */
  synchronized void discovered(String taskId, String label) {
    if (!lines.containsKey(taskId)) {
      Line l = new Line(taskId, label);
      l.state = "running";
      lines.put(taskId, l);
    }
  }

  synchronized boolean tracks(String taskId) {
    return lines.containsKey(taskId);
  }

  /** A poll of the task: its state is the truth; bytes only move forward. */
  synchronized void update(TaskView task) {
    Line l = lines.get(task.id());
    if (l != null) {
      apply(l, task);
    }
  }

  private static void apply(Line l, TaskView task) {
    // A waiting task says why: its origin is down, its credentials were refused, a retry.
    l.state =
        task.state() == TaskState.WAITING && task.waitingReason() != null
            ? "waiting (" + task.waitingReason() + ")"
            : task.state().wire();
    if (task.bytesExpected() != null) {
      l.expected = task.bytesExpected();
    }
    if (task.bytesTransferred() > l.done || task.state() == TaskState.COMPLETED) {
      l.done = task.bytesTransferred();
    }
  }

  /**
   * A progress event: the running total and the expected size. The rate is smoothed (half of the
   * new sample, half of the old), so one slow second does not make the ETA jump.
   */
  synchronized void progress(String taskId, long total, long expected, long nowMillis) {
    Line l = lines.get(taskId);
    if (l == null || l.isFinal()) {
      return;
    }
    l.state = "running";
    if (expected >= 0) {
      l.expected = expected;
    }
    if (l.rateAtMillis >= 0 && nowMillis > l.rateAtMillis && total >= l.rateAtBytes) {
      double sample = (total - l.rateAtBytes) * 1000.0 / (nowMillis - l.rateAtMillis);
      l.rate = l.rate == 0 ? sample : (l.rate + sample) / 2;
    }
    l.rateAtMillis = nowMillis;
    l.rateAtBytes = total;
    l.done = Math.max(l.done, total);
  }

  synchronized void state(String taskId, String state) {
    Line l = lines.get(taskId);
    if (l != null) {
      l.state = state;
    }
  }

  /** The tasks not known to be final yet. */
  synchronized List<String> open() {
    return lines.values().stream().filter(l -> !l.isFinal()).map(l -> l.taskId).toList();
  }

  /** The tasks that ended since the last call (each answered once). */
  synchronized List<String> endedUnreported() {
    List<String> out = new ArrayList<>();
    for (Line l : lines.values()) {
      if (l.isFinal() && !l.reported) {
        l.reported = true;
        out.add(l.taskId);
      }
    }
    return out;
  }

  synchronized boolean allFinal() {
    return lines.values().stream().allMatch(Line::isFinal);
  }

  synchronized List<String> render(int columns, boolean withFinal) {
    tick++;
    List<String> out = new ArrayList<>();
    for (Line l : lines.values()) {
      if (l.isFinal() && !withFinal) {
        continue;
      }
      out.add(Render.progressLine(l.label, l.state, l.done, l.expected, l.rate, tick, columns));
    }
    return out;
  }
}
