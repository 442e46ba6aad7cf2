package transfer.client;

import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The default {@link DedupeStore}: per session the highest sequence and the ids of the last {@code
 * idsPerSession} events, for at most {@code maxSessions} sessions (the least recently used are
 * forgotten). Lives as long as the process.
 */
public final class InMemoryDedupeStore implements DedupeStore {
  private final int idsPerSession;
  private final int maxSessions;
  private final Map<String, Session> sessions;

  private static final class Session {
    long last;
    final Set<String> ids = new HashSet<>();
    final ArrayDeque<String> order = new ArrayDeque<>();
  }

  /** 1,000 ids per session, 10,000 sessions. */
  public InMemoryDedupeStore() {
    this(1_000, 10_000);
  }

  public InMemoryDedupeStore(int idsPerSession, int maxSessions) {
    if (idsPerSession < 1 || maxSessions < 1) {
      throw new IllegalArgumentException("idsPerSession and maxSessions must be at least 1");
    }
    this.idsPerSession = idsPerSession;
    this.maxSessions = maxSessions;
    this.sessions =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Session> eldest) {
            return size() > InMemoryDedupeStore.this.maxSessions;
          }
        };
  }

  @Override
  public synchronized long lastSequence(String sessionId) {
    Session s = sessions.get(sessionId);
    return s == null ? 0 : s.last;
  }

  @Override
  public synchronized boolean contains(String sessionId, String eventId) {
    Session s = sessions.get(sessionId);
    return s != null && s.ids.contains(eventId);
  }

  @Override
  public synchronized void record(String sessionId, String eventId, long sequence) {
    Session s = sessions.computeIfAbsent(sessionId, k -> new Session());
    s.last = Math.max(s.last, sequence);
    if (s.ids.add(eventId)) {
      s.order.addLast(eventId);
      if (s.order.size() > idsPerSession) {
        s.ids.remove(s.order.removeFirst());
      }
    }
  }
}
