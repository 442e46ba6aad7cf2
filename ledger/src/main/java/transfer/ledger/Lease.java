package transfer.ledger;

import transfer.telemetry.TraceContext;

/**
 * A worker's hold on a task, as every write of its attempt names it: the task, the epoch its claim
 * got (the fencing token), and the trace context the attempt's events carry (null: the task's own).
 * A write whose epoch is no longer the task's changes nothing. A plain value: it holds no
 * connection, so whatever writes for the attempt (a call of {@link Leases}, a batch of many leases)
 * takes it as it is.
 */
public record Lease(String taskId, long epoch, TraceContext trace) {

  /** A lease whose events carry the task's own trace context. */
  public static Lease of(String taskId, long epoch) {
    return new Lease(taskId, epoch, null);
  }

  /** This lease, its events carrying {@code trace} (the attempt's context; null: the task's). */
  public Lease withTrace(TraceContext trace) {
    return new Lease(taskId, epoch, trace);
  }
}
