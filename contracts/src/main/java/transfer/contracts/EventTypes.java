package transfer.contracts;

/** CloudEvent {@code type} values on the results topic. */
public final class EventTypes {
  public static final String PROGRESS = "transfer.task.progress";
  public static final String DOWNLOADED = "transfer.task.downloaded";
  public static final String COMPLETED = "transfer.task.completed";
  public static final String SESSION_DRAINED = "transfer.session.drained";

  private EventTypes() {}
}
