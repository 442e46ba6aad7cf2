package transfer.ledger;

import transfer.contracts.SessionConfig;

/** A task a worker now holds, with the configuration of its session. */
public record Claim(TaskRow task, SessionConfig session) {

  /** The epoch of this claim: the fencing token of the attempt. */
  public long epoch() {
    return task.leaseEpoch();
  }

  /** The handle every write of the attempt names (its events in the task's own trace). */
  public Lease lease() {
    return Lease.of(task.id(), task.leaseEpoch());
  }
}
