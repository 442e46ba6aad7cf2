package transfer.client;

/**
 * What a feed has delivered, per session: the highest {@code sequence} and the ids of recent
 * events. A feed delivers an event only when its id is not {@link #contains known} and its sequence
 * is above {@link #lastSequence}; it {@link #record records} it after the listener returned.
 *
 * <p>The default, {@link InMemoryDedupeStore}, forgets everything when the process ends. {@link
 * KafkaEventFeed} then still resumes exactly after the last committed event (offsets, plus the
 * sequences it stores with them); what an in-memory store cannot cover is a process killed after
 * the listener returned and before the offset commit: those events come again. Closing that window
 * takes a store that is written in the same transaction as the listener's own effect: implement
 * this interface over your database (a table {@code (session_id, last_sequence)} updated in the
 * listener's transaction, with {@link #record} a no-op) and the listener sees each event exactly
 * once however the process ends. See DESIGN.md beside this class.
 *
 * <p>Implementations must be safe for calls from several threads ({@link SseEventFeed} runs one per
 * session); calls for one session never overlap.
 */
public interface DedupeStore {
  /** The highest sequence delivered for the session; 0 when none is known. */
  long lastSequence(String sessionId);

  /** Whether an event with this id was delivered for the session. */
  boolean contains(String sessionId, String eventId);

  /** Records that the event was delivered (its listener returned). */
  void record(String sessionId, String eventId, long sequence);
}
