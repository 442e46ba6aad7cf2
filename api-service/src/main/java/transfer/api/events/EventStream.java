package transfer.api.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.logging.Log;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import transfer.contracts.Json;
import transfer.ledger.EventReplay;

/**
 * One open {@code text/event-stream} response: sends the session's stored events after {@code
 * lastSent}, in sequence order, then whatever is stored later.
 *
 * <p>Every field is read and written on the connection's Vert.x context (its event loop) only;
 * reads of the ledger run on the bounded {@code reader} executor and hand their result back with
 * {@link Context#runOnContext}. So at most one read per stream is in flight, at most one batch of
 * events is held in memory, and {@code lastSent} only ever moves forward by exactly the events
 * written. Since a session's sequence numbers are handed out under its row lock (commit order), a
 * read of {@code seq > lastSent} can never skip an event that commits later.
 */
final class EventStream {
  /** Events read from the ledger at once; also the most one stream holds in memory. */
  static final int BATCH = 500;

  /** The fallback read while the signal does not listen (a lost connection). */
  static final long POLL_MS = 1_000;

  /**
   * The fallback read while the signal listens: a stream is woken when its session's events are
   * numbered, and when listening (re)starts, so this read only bounds the delay of a wake-up lost
   * some other way. Idle streams then cost the ledger nothing between keep-alives, however many.
   */
  static final long LISTENING_POLL_MS = 15_000;

  static final long KEEP_ALIVE_MS = 15_000;

  private final Context context;
  private final HttpServerResponse response;
  private final EventReplay eventReplay;
  private final Executor reader;
  private final String tenantId;
  private final String sessionId;
  private final Runnable onClose;
  private final StreamCounts counts;

  private long lastSent;
  private boolean closed;
  private boolean reading;
  private boolean wanted; // a wake-up arrived while busy: read again afterwards
  private List<JsonNode> batch = List.of();
  private int next; // index of the first unwritten event of batch
  private boolean waitingForDrain;
  private boolean failing; // the last read failed (warned once until a read succeeds)
  private long timer = -1;
  private long lastReadAt;
  private long lastWriteAt;
  private EventSignal.Subscription subscription;
  private EventSignal signal;

  EventStream(
      Context context,
      HttpServerResponse response,
      EventReplay eventReplay,
      Executor reader,
      String tenantId,
      String sessionId,
      long after,
      Runnable onClose,
      StreamCounts counts) {
    this.context = context;
    this.response = response;
    this.eventReplay = eventReplay;
    this.reader = reader;
    this.tenantId = tenantId;
    this.sessionId = sessionId;
    this.lastSent = after;
    this.onClose = onClose;
    this.counts = counts;
  }

  /** Sends the headers and starts the first read. On the connection's context. */
  /** The tenant whose session this stream reads. */
  String tenantId() {
    return tenantId;
  }

  void start(EventSignal signal) {
    response.closeHandler(v -> close());
    response.exceptionHandler(
        e -> {
          Log.debugf("event stream of session %s: %s", sessionId, e.getMessage());
          close();
        });
    response
        .setStatusCode(200)
        .setChunked(true)
        .putHeader("Content-Type", "text/event-stream; charset=utf-8")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("X-Accel-Buffering", "no");
    // A comment flushes the headers now, so the client knows the stream is open even when there
    // is nothing to send yet.
    write(": stream of session " + sessionId + " after " + lastSent + "\n\n");
    if (closed) {
      return;
    }
    // Subscribe before the first read: anything committed after that read is signalled.
    this.signal = signal;
    subscription = signal.subscribe(tenantId, sessionId, () -> context.runOnContext(v -> wake()));
    timer = context.owner().setPeriodic(POLL_MS, id -> tick());
    wake();
  }

  /** Ends the response (application shutdown). Any thread. */
  void shutdown() {
    context.runOnContext(
        v -> {
          if (!closed) {
            close();
            try {
              response.end();
            } catch (IllegalStateException e) {
              // the client left at the same moment
            }
          }
        });
  }

  private void tick() {
    if (closed) {
      return;
    }
    long now = System.currentTimeMillis();
    // The fallback poll: without the signal, a second; with it, a keep-alive period.
    long poll = signal.listening() ? LISTENING_POLL_MS : POLL_MS;
    if (now - lastReadAt >= poll - 100) {
      wake();
    }
    if (now - lastWriteAt >= KEEP_ALIVE_MS && !response.writeQueueFull()) {
      write(": keep-alive\n\n");
    }
  }

  /** Something may have been stored: read, unless a read or a write is already under way. */
  private void wake() {
    if (closed) {
      return;
    }
    if (reading || waitingForDrain || next < batch.size()) {
      wanted = true;
      return;
    }
    read();
  }

  private void read() {
    reading = true;
    wanted = false;
    counts.reads.increment();
    lastReadAt = System.currentTimeMillis();
    long after = lastSent;
    try {
      reader.execute(
          () -> {
            List<JsonNode> found;
            try {
              found = eventReplay.events(tenantId, sessionId, after, BATCH);
            } catch (RuntimeException e) {
              context.runOnContext(v -> readFailed(e));
              return;
            }
            context.runOnContext(v -> received(found));
          });
    } catch (RejectedExecutionException e) {
      reading = false; // shutting down
    }
  }

  private void readFailed(RuntimeException e) {
    reading = false;
    // Nothing was sent, so nothing is lost: the next poll reads the same range again.
    if (!failing) {
      failing = true;
      Log.warnf("event stream of session %s: cannot read events (%s); retrying", sessionId, e);
    }
  }

  private void received(List<JsonNode> found) {
    reading = false;
    failing = false;
    if (closed) {
      return;
    }
    batch = found;
    next = 0;
    if (found.size() == BATCH) {
      wanted = true; // there may be more stored already
    }
    writeBatch();
  }

  /** Writes the rest of the batch until the connection's write queue is full. */
  private void writeBatch() {
    while (next < batch.size() && !closed) {
      if (response.writeQueueFull()) {
        waitingForDrain = true;
        counts.pauses.increment();
        response.drainHandler(
            v -> {
              waitingForDrain = false;
              response.drainHandler(null);
              writeBatch();
            });
        return;
      }
      JsonNode event = batch.get(next++);
      long seq = event.path("sequence").asLong(-1);
      if (seq <= lastSent) {
        continue; // never repeat (cannot happen: the read was after lastSent)
      }
      write(frame(seq, event));
      lastSent = seq;
    }
    if (closed) {
      return;
    }
    batch = List.of();
    next = 0;
    if (wanted) {
      read();
    }
  }

  static String frame(long seq, JsonNode event) {
    String type = event.path("type").asText("message").replaceAll("[\\r\\n]", "");
    String data;
    try {
      // Compact JSON escapes every line break inside strings: the event is one data line.
      data = Json.mapper().writeValueAsString(event);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize stored event " + seq, e);
    }
    return "id: " + seq + "\nevent: " + type + "\ndata: " + data + "\n\n";
  }

  private void write(String text) {
    if (closed) {
      return;
    }
    lastWriteAt = System.currentTimeMillis();
    try {
      response
          .write(text)
          .onFailure(
              e -> {
                Log.debugf("event stream of session %s closed: %s", sessionId, e.getMessage());
                close();
              });
    } catch (IllegalStateException e) {
      close(); // the response was already closed
    }
  }

  /** Releases the timer and the subscription; idempotent. On the connection's context. */
  private void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (timer >= 0) {
      context.owner().cancelTimer(timer);
      timer = -1;
    }
    if (subscription != null) {
      subscription.close();
    }
    batch = List.of();
    onClose.run();
  }
}
