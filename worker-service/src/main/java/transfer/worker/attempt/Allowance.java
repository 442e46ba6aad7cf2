package transfer.worker.attempt;

import io.vertx.core.Future;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.ledger.Lease;
import transfer.ledger.Reservations;

/**
 * A download's room in its tenant's bytes-stored quota (V18, {@link Reservations}): past the first
 * {@code unreserved} bytes, the download reserves room before it writes more, a step at a time, so
 * that it counts against the quota as it grows and downloads at once share the room left. The first
 * bytes go unreserved so that a small download costs the ledger nothing more: it counts once
 * complete, and at most {@code unreserved} bytes per running download go uncounted meanwhile.
 */
final class Allowance {
  /** Asks the ledger for room (off the event loop), answered on the attempt's context. */
  @FunctionalInterface
  interface Reserver {
    Future<Reservations.Grant> reserve(Lease lease, String tenantId, long wanted);
  }

  /** How a worker's downloads reserve room: {@code transfer.quota.*}. */
  record Terms(Reserver reserver, long unreserved, long step) {}

  private final Attempt attempt;
  private final Terms terms;

  /** What the ledger has reserved for the task, as far as this attempt knows. */
  private long reserved;

  private boolean asking;

  Allowance(Attempt attempt, Terms terms) {
    this.attempt = attempt;
    this.terms = terms;
  }

  /** Whether {@code position} bytes of the body need room first (none is being asked for). */
  boolean needs(long position) {
    return !asking && position > Math.max(reserved, terms.unreserved());
  }

  /**
   * Asks for room for {@code position} bytes and a step beyond (not beyond {@code total}, the
   * announced size, when known). Completes with null when there is room for {@code position}; with
   * the error to fail the attempt with when the quota has none left; with a failure when the ledger
   * could not be asked.
   */
  Future<TaskError> ask(long position, Long total) {
    long wanted = position + terms.step();
    if (total != null) {
      wanted = Math.max(position, Math.min(wanted, total));
    }
    asking = true;
    return terms
        .reserver()
        .reserve(attempt.lease(), attempt.task().tenantId(), wanted)
        .map(
            g -> {
              asking = false;
              reserved = Math.max(reserved, g.reserved());
              if (!g.held() || reserved >= position) {
                return null; // a lost lease ends the attempt through its heartbeat
              }
              return TaskError.of(
                  ErrorCodes.QUOTA_EXCEEDED,
                  String.format(
                      "the tenant's bytes-stored quota of %d bytes has no room for this download"
                          + " past byte %d (%d in use); delete objects or downloads, then resume"
                          + " it with its resumeData",
                      g.quota(), reserved, g.used()),
                  false);
            })
        .onFailure(e -> asking = false);
  }
}
