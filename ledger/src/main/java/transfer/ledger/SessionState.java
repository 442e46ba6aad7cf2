package transfer.ledger;

import java.util.Locale;

/**
 * The states of a session ({@code sessions.state}). A PUT makes a session active again from either
 * of the others.
 */
public enum SessionState {
  /** Takes new tasks and staged objects. */
  ACTIVE,
  /** {@code finishTasksAndInvalidate}: no new tasks; the open ones finish. */
  FINISHING,
  /** {@code invalidateAndCancel}: no new tasks; every open task was canceled. */
  INVALIDATED;

  /** The lower-case name used on the wire and in the database. */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static SessionState fromWire(String value) {
    for (SessionState s : values()) {
      if (s.wire().equals(value)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown session state: " + value);
  }
}
