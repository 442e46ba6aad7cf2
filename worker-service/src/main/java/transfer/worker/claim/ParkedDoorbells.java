package transfer.worker.claim;

import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Doorbells of sessions that had nothing claimable at this worker's last claim: parked, not claimed
 * for one by one. A claim that comes up short (fewer tasks than reserved slots) found nothing else
 * claimable; the named tasks it left queued ({@code Claims.Claimed#passedOver}) were passed over at
 * their session's or host's limit, and their sessions are then <em>blocked</em> (a named task that
 * another worker took blocks nothing: an empty queue is no limit). A later doorbell of a blocked
 * session takes no slot and runs no claim (each such claim would rank the queue only to find
 * nothing); it is counted here, and one claim for all of them runs when
 *
 * <ul>
 *   <li>a transfer on this worker ends (its freed slot claims at once, and unblocks every session:
 *       the limits have moved), or
 *   <li>the retry interval has passed since the first of them was parked (a slot of the session
 *       freed on another worker, which claimed something else with it).
 * </ul>
 *
 * A blocked session's tasks lose nothing meanwhile: it is at its limit because it has running
 * transfers, and each of them, when it ends, frees a slot whose claim (on whichever worker) takes
 * the best claimable task, theirs included. A parked doorbell's offset is committed like any other:
 * the task is in the ledger, not in the record.
 */
final class ParkedDoorbells {
  private final Set<String> blocked = ConcurrentHashMap.newKeySet();
  private final AtomicInteger parked = new AtomicInteger();

  /**
   * Parks a doorbell of a blocked session: true when {@code sessionId} is blocked (the doorbell is
   * counted and needs no claim of its own), false when it should be claimed for. The first parked
   * doorbell answers {@link Parked#FIRST}: the caller schedules the retry.
   */
  Parked park(String sessionId) {
    if (sessionId == null || !blocked.contains(sessionId)) {
      return Parked.NO;
    }
    return parked.getAndIncrement() == 0 ? Parked.FIRST : Parked.MORE;
  }

  /** What {@link #park} did with a doorbell. */
  enum Parked {
    /** Not parked: its session is not blocked; claim for it. */
    NO,
    /** Parked, the first since the last retry: schedule one. */
    FIRST,
    /** Parked; a retry is scheduled already. */
    MORE
  }

  /**
   * A claim for these doorbells' sessions came up short: nothing else was claimable, so their
   * sessions are blocked until the next freed slot or retry.
   */
  void block(Collection<String> sessionIds) {
    if (sessionIds.isEmpty()) {
      return;
    }
    for (String s : sessionIds) {
      if (s != null) {
        blocked.add(s);
      }
    }
  }

  /**
   * Unblocks every session (a slot freed, or the retry is due) and answers which were blocked and
   * how many doorbells were parked since the last release: the claim that follows is for them. If
   * that claim comes up short as well, nothing is claimable still, and the caller blocks the same
   * sessions again.
   */
  Released release() {
    Set<String> was = Set.copyOf(blocked);
    blocked.removeAll(was);
    return new Released(was, parked.getAndSet(0));
  }

  /** What {@link #release} unblocked: the sessions, and the doorbells parked meanwhile. */
  record Released(Set<String> sessions, int parked) {}

  /** Doorbells parked now (for tests and the gauge). */
  int parked() {
    return parked.get();
  }

  /** Whether a session is blocked now (for tests). */
  boolean isBlocked(String sessionId) {
    return blocked.contains(sessionId);
  }
}
