package transfer.contracts;

/** Kafka topic names shared by every service and client. */
public final class Topics {
  /** The doorbell: api-service to workers, key = task id, value = {@link Doorbell}. */
  public static final String TASKS = "transfer-tasks";

  /** The results topic: CloudEvents JSON, key = session id. */
  public static final String EVENTS = "transfer-events";

  /** Consumer group of the workers on {@link #TASKS}. */
  public static final String WORKER_GROUP = "transfer-workers";

  private Topics() {}
}
