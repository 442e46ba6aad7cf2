package transfer.contracts;

/** Kafka topic names shared by every service and client. */
public final class Topics {
  /** The doorbell: api-service to workers, key = task id, value = {@link Doorbell}. */
  public static final String TASKS = "transfer-tasks";

  /** The results topic: CloudEvents JSON, key = session id. */
  public static final String EVENTS = "transfer-events";

  /**
   * The prefix of the per-tenant results topics ({@code transfer.events.topic-per-tenant}): {@code
   * transfer-events.<tenant>}, each with one tenant's events only, so that a topic ACL gives a
   * tenant its own events and nothing else.
   */
  public static final String TENANT_EVENTS_PREFIX = EVENTS + ".";

  /** The results topic of one tenant when topics are per tenant. */
  public static String eventsOf(String tenantId) {
    return TENANT_EVENTS_PREFIX + tenantId;
  }

  /**
   * Records of {@link #TASKS} that are no {@link Doorbell} (not JSON, another shape, empty), moved
   * here by the worker that met them, key and value unchanged, with {@link DeadLetterHeaders}
   * saying where they came from and why.
   */
  public static final String DEAD_LETTERS = "transfer-tasks-dlq";

  /** Consumer group of the workers on {@link #TASKS}. */
  public static final String WORKER_GROUP = "transfer-workers";

  private Topics() {}

  /** Headers a worker adds to a record it moves to {@link #DEAD_LETTERS} (values UTF-8 text). */
  public static final class DeadLetterHeaders {
    /** Topic, partition, offset and timestamp (epoch milliseconds) of the original record. */
    public static final String TOPIC = "dlq.original.topic";

    public static final String PARTITION = "dlq.original.partition";
    public static final String OFFSET = "dlq.original.offset";
    public static final String TIMESTAMP = "dlq.original.timestamp";

    /** Why it is no doorbell: {@code empty}, {@code not_json} or {@code wrong_shape}. */
    public static final String ERROR = "dlq.error";

    /** The parser's or the check's message, for a human. */
    public static final String MESSAGE = "dlq.error.message";

    /** The worker that moved it. */
    public static final String WORKER = "dlq.worker";

    /** Present ({@code true}) when the value had to be cut to fit; then the original size. */
    public static final String TRUNCATED = "dlq.value.truncated";

    public static final String ORIGINAL_SIZE = "dlq.value.size";

    private DeadLetterHeaders() {}
  }
}
