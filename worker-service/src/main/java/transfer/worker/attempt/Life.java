package transfer.worker.attempt;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where an attempt is in its life. It moves forward only, and reaches {@link #ENDED} once:
 *
 * <pre>
 * RUNNING ───▶ FINISHING ───▶ ENDED
 *    │             │            ▲
 *    │             ▼            │
 *    └────────▶ ENDING ─────────┘
 * </pre>
 */
enum Life {
  /**
   * Moving bytes: heartbeats renew the lease, the watchdog looks for stalls, and a failure, a lost
   * lease or a hand-back ends the attempt.
   */
  RUNNING,

  /**
   * The bytes are all moved; the completion is being checked and committed. Nothing from outside
   * ends the attempt now (no heartbeat, stall, failure or hand-back): only the completion's own
   * answer, or its failure.
   */
  FINISHING,

  /** The end is decided and its ledger write is under way; nothing more is started. */
  ENDING,

  /** The outcome is recorded: counted, its span ended, logged, {@code finished} completed. */
  ENDED;

  /** The moves an attempt may make, and no other. */
  private static final Set<Life> FROM_RUNNING = EnumSet.of(FINISHING, ENDING);

  private static final Set<Life> FROM_FINISHING = EnumSet.of(ENDING, ENDED);

  private static final Set<Life> FROM_ENDING = EnumSet.of(ENDED);

  /** Whether an attempt may move from this stage to {@code next}. */
  boolean mayBecome(Life next) {
    return switch (this) {
      case RUNNING -> FROM_RUNNING.contains(next);
      case FINISHING -> FROM_FINISHING.contains(next);
      case ENDING -> FROM_ENDING.contains(next);
      case ENDED -> false;
    };
  }
}
