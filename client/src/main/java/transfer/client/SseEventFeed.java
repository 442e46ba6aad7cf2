package transfer.client;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import transfer.contracts.CloudEvent;

/**
 * Feeds a {@link TransferListener} from the API's event streams ({@code GET
 * /v1/sessions/{sid}/events/stream}, Server-Sent Events), for services that cannot reach Kafka. One
 * connection per session; a connection that ends, breaks or stays silent past {@code idleTimeout}
 * (the server sends a keep-alive every 15 s) is opened again with a growing, jittered pause, asking
 * with {@code Last-Event-ID} for the events after the last one delivered. The same {@link
 * DedupeStore} rules as {@link KafkaEventFeed}: in order, each event once per store; with a durable
 * store the feed also resumes after a restart of the process.
 *
 * <p>Threading: one thread per session calls the listener for that session's events, one after
 * another; different sessions' callbacks may run at the same time. A listener that throws gets the
 * event again (the connection is opened again after the last delivered event).
 */
public final class SseEventFeed implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(SseEventFeed.class.getName());

  private final Builder config;
  private final Delivery delivery;
  private final List<Worker> workers = new ArrayList<>();
  private volatile boolean running;

  private SseEventFeed(Builder b) {
    this.config = b;
    // The API's stream: only the cluster writes it, each tenant's own.
    this.delivery = new Delivery(b.listener, b.store, b.client.json(), false);
    for (String sid : b.sessions) {
      workers.add(new Worker(sid));
    }
  }

  public static Builder builder(TransferClient client) {
    return new Builder(client);
  }

  /** Configuration of an {@link SseEventFeed}. */
  public static final class Builder {
    private final TransferClient client;
    private TransferListener listener;
    private final Set<String> sessions = new LinkedHashSet<>();
    private DedupeStore store = new InMemoryDedupeStore();
    private Duration initialBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration idleTimeout = Duration.ofSeconds(45);
    private long startAfter;

    private Builder(TransferClient client) {
      this.client = Objects.requireNonNull(client);
    }

    public Builder listener(TransferListener listener) {
      this.listener = Objects.requireNonNull(listener);
      return this;
    }

    /** The sessions to follow, one connection each. */
    public Builder sessions(String... ids) {
      for (String id : ids) {
        sessions.add(Objects.requireNonNull(id));
      }
      return this;
    }

    /** What was delivered (default {@link InMemoryDedupeStore}). */
    public Builder dedupeStore(DedupeStore store) {
      this.store = Objects.requireNonNull(store);
      return this;
    }

    /** The first and the longest pause before reconnecting (defaults 0.5 s and 30 s). */
    public Builder reconnectBackoff(Duration initial, Duration max) {
      this.initialBackoff = Objects.requireNonNull(initial);
      this.maxBackoff = Objects.requireNonNull(max);
      return this;
    }

    /** A connection silent this long (no event, no keep-alive) is reopened (default 45 s). */
    public Builder idleTimeout(Duration d) {
      this.idleTimeout = Objects.requireNonNull(d);
      return this;
    }

    /**
     * The sequence to start after for a session the store knows nothing of (default 0: the oldest
     * retained event).
     */
    public Builder startAfter(long sequence) {
      this.startAfter = sequence;
      return this;
    }

    public SseEventFeed build() {
      if (listener == null) {
        throw new IllegalStateException("SseEventFeed needs a listener");
      }
      if (sessions.isEmpty()) {
        throw new IllegalStateException("SseEventFeed needs at least one session id");
      }
      return new SseEventFeed(this);
    }
  }

  /** Opens a connection per session; answers this feed. */
  public SseEventFeed start() {
    if (running) {
      throw new IllegalStateException("this feed was started already");
    }
    running = true;
    workers.forEach(w -> w.thread.start());
    return this;
  }

  /** Whether any session's thread still runs. */
  public boolean isRunning() {
    return workers.stream().anyMatch(w -> w.thread.isAlive());
  }

  /** Stops every connection; a listener call under way finishes first. Waits up to 30 s. */
  @Override
  public void close() {
    running = false;
    workers.forEach(Worker::stop);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (Worker w : workers) {
      try {
        w.thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
  }

  /** One session's connection, reopened until the feed is closed. */
  private final class Worker {
    final String sessionId;
    final Thread thread;
    private final Object lock = new Object();
    private SseLines current; // guarded by lock
    private boolean opening; // guarded by lock: the thread waits for a stream's answer
    private volatile Duration serverRetry;
    private volatile boolean stopped;

    Worker(String sessionId) {
      this.sessionId = sessionId;
      this.thread = new Thread(this::run, "transfer-sse-" + sessionId);
    }

    void stop() {
      synchronized (lock) {
        stopped = true;
        if (current != null) {
          current.cancel();
        }
        if (opening) {
          // Waiting for the server's answer (up to the request timeout, and retries): the JDK
          // client's send gives up when its thread is interrupted. Never interrupted elsewhere,
          // so a listener call is never disturbed.
          thread.interrupt();
        }
        lock.notifyAll();
      }
    }

    private boolean active() {
      return running && !stopped;
    }

    private void run() {
      Duration backoff = config.initialBackoff;
      while (active()) {
        long connectedAt = System.nanoTime();
        boolean delivered = false;
        try {
          delivered = stream();
        } catch (NotFoundException | AuthenticationException | ValidationException e) {
          // Waiting will not help: the session is gone, or the key or the request is refused.
          LOG.log(System.Logger.Level.ERROR, "event stream of session " + sessionId + " ends", e);
          try {
            config.listener.didBecomeInvalidWithError(sessionId, e);
          } catch (RuntimeException ignored) {
            // nothing more to do for this session
          }
          return;
        } catch (ListenerFailed e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "the listener failed on an event of session "
                  + sessionId
                  + "; it is delivered again after reconnecting",
              e.getCause());
        } catch (RuntimeException | IOException e) {
          if (active()) {
            LOG.log(
                System.Logger.Level.INFO,
                "event stream of session {0} ended ({1}); reconnecting",
                sessionId,
                e.toString());
          }
        }
        if (!active()) {
          return;
        }
        boolean healthy =
            delivered || System.nanoTime() - connectedAt > TimeUnit.SECONDS.toNanos(10);
        if (healthy) {
          backoff = config.initialBackoff;
        }
        Duration wait = serverRetry != null && healthy ? serverRetry : jitter(backoff);
        if (!healthy) {
          backoff = min(backoff.multipliedBy(2), config.maxBackoff);
        }
        synchronized (lock) {
          if (!active()) {
            return;
          }
          try {
            lock.wait(Math.max(1, wait.toMillis()));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }

    /** One connection: answers whether it delivered anything. */
    private boolean stream() throws IOException {
      long after = Math.max(config.startAfter, delivery.store().lastSequence(sessionId));
      SseLines lines;
      synchronized (lock) {
        if (!active()) {
          return false;
        }
        opening = true;
      }
      try {
        lines = config.client.openEventStream(sessionId, after);
      } finally {
        synchronized (lock) {
          opening = false;
          Thread.interrupted(); // an interrupt from stop() has done its work
        }
      }
      synchronized (lock) {
        if (!active()) {
          lines.cancel();
          return false;
        }
        current = lines;
      }
      boolean delivered = false;
      try {
        StringBuilder data = new StringBuilder();
        boolean hasData = false;
        while (active()) {
          String line = lines.next(config.idleTimeout);
          if (line == null) {
            return delivered; // the server ended the stream (a restart), or close(): reconnect
          }
          if (line.isEmpty()) {
            if (hasData) {
              delivered |= dispatch(data.toString());
            }
            data.setLength(0);
            hasData = false;
            continue;
          }
          if (line.startsWith(":")) {
            continue; // a comment: the keep-alive
          }
          int colon = line.indexOf(':');
          String field = colon < 0 ? line : line.substring(0, colon);
          String value = colon < 0 ? "" : line.substring(colon + 1);
          if (value.startsWith(" ")) {
            value = value.substring(1);
          }
          switch (field) {
            case "data" -> {
              if (hasData) {
                data.append('\n');
              }
              data.append(value);
              hasData = true;
            }
            case "retry" -> {
              if (!value.isEmpty() && value.chars().allMatch(Character::isDigit)) {
                serverRetry = Duration.ofMillis(Long.parseLong(value));
              }
            }
            default -> {
              // id and event: the CloudEvent in data carries both (sequence, type)
            }
          }
        }
        return delivered;
      } finally {
        lines.cancel();
        synchronized (lock) {
          current = null;
        }
      }
    }

    private boolean dispatch(String data) {
      CloudEvent e;
      try {
        e = config.client.json().readValue(data, CloudEvent.class);
      } catch (IOException notAnEvent) {
        LOG.log(
            System.Logger.Level.WARNING,
            "event stream of session {0} sent data that is no CloudEvent; skipped: {1}",
            sessionId,
            notAnEvent.getMessage());
        return false;
      }
      try {
        return delivery.deliver(sessionId, e, 0) == Delivery.Outcome.DELIVERED;
      } catch (RuntimeException listenerFailed) {
        throw new ListenerFailed(listenerFailed);
      }
    }
  }

  /** The listener threw: reconnect after the last delivered event. */
  private static final class ListenerFailed extends RuntimeException {
    ListenerFailed(RuntimeException cause) {
      super(cause);
    }
  }

  private static Duration jitter(Duration d) {
    long ms = d.toMillis();
    return Duration.ofMillis(ms / 2 + ThreadLocalRandom.current().nextLong(ms / 2 + 1));
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
