package transfer.worker.storage;

import java.io.IOException;

/**
 * Passes only once the ledger has just renewed the attempt's lease (blocking): asked just before a
 * body becomes visible under a destination the task named, which the ledger's fence cannot take
 * back. A name the cluster gives belongs to one attempt, so a refused completion deletes it; a
 * named destination is shared by every attempt of the task, and by the tenant.
 */
@FunctionalInterface
public interface LeaseGate {
  /**
   * @throws LeaseLapsed when the lease is lost, or the ledger did not renew it within the
   *     self-fence time
   */
  void pass() throws IOException;

  /** The attempt may no longer hold its lease: the body is not made visible. */
  final class LeaseLapsed extends IOException {
    public LeaseLapsed(String message) {
      super(message);
    }
  }
}
