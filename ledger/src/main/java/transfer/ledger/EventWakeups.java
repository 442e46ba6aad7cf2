package transfer.ledger;

/**
 * The ledger's notification channels, one per listener, and the advisory locks that say whether a
 * listener sleeps (migration V9).
 *
 * <p>A transaction that adds events ({@code events}) or doorbells ({@code outbox}) notifies at its
 * commit only while the listener sleeps: the sleeping listener holds its lock exclusively on its
 * listening connection, and the writer's trigger notifies when it cannot take that lock shared. An
 * awake listener polls and no writer notifies: a NOTIFY serialises every committing transaction
 * that sends one on one lock held through its WAL flush, which costs more than a poll while there
 * is work. A writer holds the shared lock until its commit, so a listener gets the lock (and may
 * sleep) only when no writer is between its insert and its commit; after taking it the listener
 * looks once more, so nothing committed before it sleeps waits for the next wake-up.
 */
public final class EventWakeups {
  /** New events to number: the sequencer's channel. */
  public static final String EVENTS_WRITTEN = "transfer_events_written";

  /**
   * Events numbered (once per sequencer round, whether anyone sleeps or not): the relay's events
   * lane's and the event streams' channel.
   */
  public static final String EVENTS_NUMBERED = "transfer_events_numbered";

  /** New doorbells in the outbox: the relay's doorbells lane's channel. */
  public static final String DOORBELLS = "transfer_doorbells";

  /** Held by the sequencer while it sleeps ('seqsleep'; V9's events trigger names it). */
  public static final long SEQUENCER_ASLEEP = 0x736571736c656570L;

  /**
   * Held by the relay's doorbells lane while it sleeps ('relsleep'; V9's outbox trigger names it).
   */
  public static final long RELAY_ASLEEP = 0x72656c736c656570L;

  /** Longest payload of {@link #EVENTS_NUMBERED} (PostgreSQL's limit is 8,000 bytes). */
  static final int MAX_PAYLOAD = 7_000;

  /**
   * A session's tag in the payload of {@link #EVENTS_NUMBERED}: a short hash of its tenant and id.
   * Two sessions may share one; that only wakes a stream that had nothing new.
   */
  public static String sessionTag(String tenantId, String sessionId) {
    return Integer.toHexString(tenantId.hashCode() * 31 + sessionId.hashCode());
  }

  /**
   * The payload of {@link #EVENTS_NUMBERED} for a round that numbered events of these sessions:
   * their tags, comma-separated; empty (every listener wakes) when they would not fit.
   */
  static String numberedPayload(java.util.Collection<EventSequencer.SessionKey> sessions) {
    StringBuilder out = new StringBuilder();
    for (EventSequencer.SessionKey k : sessions) {
      String tag = sessionTag(k.tenantId(), k.sessionId());
      if (out.length() + tag.length() + 1 > MAX_PAYLOAD) {
        return "";
      }
      if (out.length() > 0) {
        out.append(',');
      }
      out.append(tag);
    }
    return out.toString();
  }

  /**
   * The session tags a notification of {@link #EVENTS_NUMBERED} names; empty when it names none,
   * which means every session may have new events.
   */
  public static java.util.Set<String> numberedTags(String payload) {
    if (payload == null || payload.isEmpty()) {
      return java.util.Set.of();
    }
    return java.util.Set.of(payload.split(","));
  }

  private EventWakeups() {}
}
