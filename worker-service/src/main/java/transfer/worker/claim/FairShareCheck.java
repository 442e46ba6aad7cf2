package transfer.worker.claim;

import java.time.Duration;
import java.util.List;
import org.jboss.logging.Logger;
import transfer.ledger.FairShares;
import transfer.worker.attempt.Slots;

/**
 * A worker's part in the tenants' fair shares: while all its slots are taken, it asks the ledger
 * now and then which of its transfers run above their tenant's fair share while another tenant's
 * tasks wait for a slot ({@link FairShares#handBacks}), and hands those back. Each is queued again
 * with its checkpoint (its attempt not counted) and resumes there later with a range request; the
 * freed slot claims at once, and the claim's fair order gives it to the tenant that waited. The
 * ledger picks the same transfers for every worker that asks in the same moment, so the cluster
 * hands back no more than the waiting tenants need.
 */
final class FairShareCheck {
  private static final Logger LOG = Logger.getLogger(DoorbellConsumer.class);

  private final FairShares fairShares;
  private final Slots slots;
  private final String workerId;
  private final Duration grace;

  /** When this worker last handed a transfer back ({@link System#nanoTime()}). */
  private long lastHandBackNanos = System.nanoTime() - Duration.ofDays(1).toNanos();

  FairShareCheck(FairShares fairShares, Slots slots, String workerId, Duration grace) {
    this.fairShares = fairShares;
    this.slots = slots;
    this.workerId = workerId;
    this.grace = grace;
  }

  /**
   * One check, when every slot is taken and no hand-back of this worker is younger than twice the
   * grace (the slot it freed claims first, and the ledger sees that claim before asking again).
   */
  void run() {
    if (!slots.allTaken() || System.nanoTime() - lastHandBackNanos < grace.toNanos() * 2) {
      return;
    }
    List<String> over;
    try {
      over = fairShares.handBacks(workerId, grace);
    } catch (RuntimeException e) {
      LOG.warnf(
          "cannot check the tenants' fair shares (%s); this worker asks again in %s",
          e.getMessage(), grace);
      return;
    }
    for (String taskId : over) {
      if (slots.handBack(taskId)) {
        lastHandBackNanos = System.nanoTime();
        LOG.infof("fair shares: handing task %s back to the queue", taskId);
      }
    }
  }
}
