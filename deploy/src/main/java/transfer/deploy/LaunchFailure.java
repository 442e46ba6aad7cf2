package transfer.deploy;

/**
 * An expected failure of the launcher (a port in use, a jar not built, PostgreSQL not starting):
 * the user gets its message, not a stack trace, and the process exits with {@link #exitCode()}.
 */
final class LaunchFailure extends RuntimeException {

  private final int exitCode;

  LaunchFailure(int exitCode, String message) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
