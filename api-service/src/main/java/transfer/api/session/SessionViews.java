package transfer.api.session;

import transfer.contracts.Redaction;
import transfer.contracts.SessionView;
import transfer.ledger.SessionRow;

/** A session's ledger row as the API answers it. */
final class SessionViews {
  private SessionViews() {}

  /** The session as the API answers it: header values are write-only ({@link Redaction}). */
  static SessionView of(SessionRow session) {
    return new SessionView(
        session.id(),
        session.state().wire(),
        Redaction.config(session.config()),
        session.createdAt(),
        session.updatedAt(),
        session.lastEventSequence());
  }
}
