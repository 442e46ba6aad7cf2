package transfer.contracts;

/** CloudEvent {@code type} values on the results topic. */
public final class EventTypes {
  public static final String PROGRESS = "transfer.task.progress";
  public static final String DOWNLOADED = "transfer.task.downloaded";
  public static final String COMPLETED = "transfer.task.completed";

  /**
   * A task waits out a fault of the way to its origin (URLSession's {@code
   * taskIsWaitingForConnectivity}): once per waiting spell, with the reason, the last error, when
   * the next attempt is due and the task's deadline.
   */
  public static final String WAITING = "transfer.task.waiting";

  /**
   * The origin refused the task's credentials (401, 403, 407): the task waits for a {@code PATCH}
   * of its url or headers (URLSession's authentication challenge, answered by the service).
   */
  public static final String CREDENTIALS_REQUIRED = "transfer.task.credentials_required";

  public static final String SESSION_DRAINED = "transfer.session.drained";

  private EventTypes() {}
}
