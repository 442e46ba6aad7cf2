package transfer.cli;

/**
 * What {@code ./transfer} exits with, for scripts. Stable: the README and {@code --help} list them.
 */
final class ExitCodes {
  private ExitCodes() {}

  /** The command did what it was asked: the transfer completed, the list was printed. */
  static final int OK = 0;

  /** The transfer ended but did not complete: failed (its error is printed). */
  static final int TRANSFER_FAILED = 1;

  /** The command line was wrong (picocli's own usage code). */
  static final int USAGE = 2;

  /** The transfer was canceled (by this command, another client, or its session). */
  static final int CANCELED = 3;

  /** The API refused the request (a 4xx problem: bad input, unknown id, bad key, quota). */
  static final int REFUSED = 4;

  /** The API could not be reached or failed (connection refused, 5xx, 503 after retries). */
  static final int UNAVAILABLE = 5;

  /** A file here could not be read or written (an upload's file, {@code -o}'s target). */
  static final int LOCAL = 6;

  /** A bug in the tool itself (an unexpected exception); the message says what. */
  static final int INTERNAL = 70;

  /** Interrupted (Ctrl-C) while waiting; the transfer itself goes on in the cluster. */
  static final int INTERRUPTED = 130;
}
