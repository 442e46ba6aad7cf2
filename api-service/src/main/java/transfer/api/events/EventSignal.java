package transfer.api.events;

import io.agroal.api.AgroalDataSource;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import transfer.ledger.EventWakeups;

/**
 * Wakes the open event streams of this process when events may have been numbered: one {@code
 * LISTEN transfer_events_numbered} connection for the whole process, whatever the number of
 * streams. The sequencer notifies that channel at the commit of each round that numbered events
 * (one notification per round, not per event or per writer), so a notification means "read again",
 * never "here is the event".
 *
 * <p>The connection is taken from the pool only while streams are open (and for {@link #LINGER_MS}
 * after the last one closed, so reconnecting clients do not churn it). Bursts of notifications are
 * folded into at most one wake-up per {@link #COALESCE_MS}. A notification lost while the
 * connection is down costs nothing but latency: each stream also polls (see {@link EventStream}),
 * and every stream is woken once each time listening (re)starts.
 */
@Singleton
public class EventSignal {
  static final long COALESCE_MS = 50;
  static final long LINGER_MS = 30_000;
  private static final int WAIT_MS = 1_000;
  private static final long PROBE_MS = 10_000;

  private final AgroalDataSource dataSource;

  /** Each open stream's wake-up, by the tag of its session ({@link EventWakeups#sessionTag}). */
  private final Map<Runnable, String> subscribers = new ConcurrentHashMap<>();

  private final Object monitor = new Object();
  private volatile boolean running;
  private volatile boolean listening;
  private final AtomicLong notified = new AtomicLong();
  private Thread thread;

  public EventSignal(AgroalDataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** A registration; closing it stops the wake-ups. */
  public interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Calls {@code wake} (on the listener thread: it must only hand work elsewhere) whenever events
   * of the session may have been numbered, until the returned subscription is closed: a round that
   * numbered other sessions' events does not wake it.
   */
  public Subscription subscribe(String tenantId, String sessionId, Runnable wake) {
    subscribers.put(wake, EventWakeups.sessionTag(tenantId, sessionId));
    synchronized (monitor) {
      monitor.notifyAll();
    }
    return () -> subscribers.remove(wake);
  }

  /** True while the LISTEN connection is open (for health and tests). */
  public boolean listening() {
    return listening;
  }

  /** How many notifications woke the streams so far (tests). */
  public long notified() {
    return notified.get();
  }

  void start(@Observes StartupEvent ev) {
    running = true;
    thread = new Thread(this::run, "event-signal");
    thread.setDaemon(true);
    thread.start();
  }

  void stop(@Observes ShutdownEvent ev) throws InterruptedException {
    running = false;
    synchronized (monitor) {
      monitor.notifyAll();
    }
    if (thread != null) {
      thread.join(WAIT_MS + 5_000);
    }
  }

  private void run() {
    while (running) {
      try {
        synchronized (monitor) {
          while (running && subscribers.isEmpty()) {
            monitor.wait();
          }
        }
        if (running) {
          listen();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception e) {
        listening = false;
        if (running) {
          Log.warnf(
              "event streams: cannot listen for new events (%s); polling, retrying in 2 s", e);
          pause(2_000);
        }
      }
    }
  }

  /**
   * Makes {@code c} receive the ledger's notifications on {@code channels} ({@link EventWakeups}),
   * read with {@link PGConnection#getNotifications(int)}.
   */
  public static PGConnection listenTo(Connection c, String... channels) throws SQLException {
    c.setAutoCommit(true); // a LISTEN inside a transaction would start only at its commit
    try (Statement st = c.createStatement()) {
      for (String channel : channels) {
        st.execute("LISTEN " + channel);
      }
    }
    return c.unwrap(PGConnection.class);
  }

  /**
   * Undoes what a listening or leading connection holds before it goes back to the pool: its LISTEN
   * (an idle pooled connection would collect notifications without end) and its session advisory
   * locks (the relay's leadership: held by an idle pooled connection, no replica could take it
   * again). Quiet: a broken connection holds nothing on the server any more.
   */
  public static void reset(Connection c) {
    try {
      if (c.isClosed()) {
        return;
      }
      c.setAutoCommit(true);
      try (Statement st = c.createStatement()) {
        st.execute("UNLISTEN *");
        st.execute("select pg_advisory_unlock_all()");
      }
    } catch (SQLException e) {
      Log.debugf("could not reset a connection before returning it to the pool: %s", e);
    }
  }

  /** Listens while streams are open; returns the connection to the pool afterwards. */
  private void listen() throws Exception {
    try (Connection c = dataSource.getConnection()) {
      PGConnection pg = listenTo(c, EventWakeups.EVENTS_NUMBERED);
      listening = true;
      // Anything stored before LISTEN took effect was not notified to us.
      wakeAll();
      long emptySince = 0;
      long probedAt = System.currentTimeMillis();
      while (running) {
        if (subscribers.isEmpty()) {
          long now = System.currentTimeMillis();
          if (emptySince == 0) {
            emptySince = now;
          } else if (now - emptySince >= LINGER_MS) {
            break;
          }
        } else {
          emptySince = 0;
        }
        // A connection cut without a reset (a partition) would wait in silence for ever, the
        // streams trusting a signal that no longer comes: a query now and then fails on it
        // (socketTimeout) and sends us back to run() to reconnect.
        if (System.currentTimeMillis() - probedAt >= PROBE_MS) {
          try (java.sql.Statement st = c.createStatement()) {
            st.execute("select 1");
          }
          probedAt = System.currentTimeMillis();
        }
        // Throws once the connection is broken, which sends us back to run() to reconnect.
        PGNotification[] got = pg.getNotifications(WAIT_MS);
        if (got != null && got.length > 0) {
          notified.addAndGet(got.length);
          wake(got);
          // Let a burst of commits accumulate: the next call returns them all at once.
          pause(COALESCE_MS);
        }
      }
      listening = false;
      reset(c);
    } finally {
      listening = false;
    }
  }

  /** Wakes the streams of the sessions the notifications name (all, if one names none). */
  private void wake(PGNotification[] got) {
    Set<String> tags = new HashSet<>();
    for (PGNotification n : got) {
      Set<String> named = EventWakeups.numberedTags(n.getParameter());
      if (named.isEmpty()) {
        wakeAll();
        return;
      }
      tags.addAll(named);
    }
    for (Map.Entry<Runnable, String> s : subscribers.entrySet()) {
      if (tags.contains(s.getValue())) {
        run(s.getKey());
      }
    }
  }

  private void wakeAll() {
    for (Runnable wake : subscribers.keySet()) {
      run(wake);
    }
  }

  private static void run(Runnable wake) {
    try {
      wake.run();
    } catch (RuntimeException e) {
      Log.debugf(e, "event streams: a wake-up failed");
    }
  }

  private void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
