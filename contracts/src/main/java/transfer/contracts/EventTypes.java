package transfer.contracts;

/** CloudEvent {@code type} values on the results topic. */
public final class EventTypes {
  /**
   * A task was created (URLSession's {@code didCreateTask}), in sessions that ask for it ({@code
   * sendsCreatedEvents}): its type, url, method, priority, description and metadata.
   */
  public static final String CREATED = "transfer.task.created";

  public static final String PROGRESS = "transfer.task.progress";
  public static final String DOWNLOADED = "transfer.task.downloaded";

  /**
   * A download continued the bytes stored by an earlier attempt, or a resumable upload the bytes
   * its target holds ({@code didResumeAtOffset}): its {@code fileOffset} and {@code
   * expectedTotalBytes}. At most one per attempt.
   */
  public static final String RESUMED = "transfer.task.resumed";

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

  /**
   * The session stopped taking tasks ({@code didBecomeInvalidWithError}): {@code DELETE} without
   * {@code finishTasks} (its open tasks are canceled after it) or with it (they finish).
   */
  public static final String SESSION_INVALIDATED = "transfer.session.invalidated";

  private EventTypes() {}
}
