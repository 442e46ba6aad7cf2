package transfer.client;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import transfer.contracts.CloudEvent;

/**
 * A durable {@link DedupeStore} in an append-only file, one line per handled event ({@code session
 * sequence id type}), read back when opened: a feed given it resumes exactly where the last run's
 * listener stopped, whatever the consumer offsets say (and an {@link SseEventFeed} resumes across a
 * restart at all).
 *
 * <p>Two ways to use it. Simply as the store: the feed appends each event after the listener
 * returned, so a process killed between the listener's effect and that append sees the event again
 * (at least once). Or as the listener's own record: the listener calls {@link #append} as the last
 * step of its work, so that the line is written exactly when the work is done; the feed's own
 * record then finds the line and writes nothing. Work that a kill can interrupt halfway must still
 * be idempotent (downloading the content to a file named by the task, say), but its record is
 * exactly-once: the listener never sees an event again once its line is written.
 *
 * <p>Each append is one {@code write} of a whole line: a killed process leaves whole lines (a power
 * loss may leave the last one half written; it is ended when the journal is opened again, and
 * skipped). With {@code sync} every line is also forced to the device. Keeps every id in memory:
 * meant for a service's own sessions, not for the whole topic; start a new file to compact.
 */
public final class EventJournal implements DedupeStore, AutoCloseable {
  private final Path file;
  private final FileChannel out;
  private final boolean sync;
  private final Map<String, Long> last = new HashMap<>();
  private final Set<String> ids = new HashSet<>();
  private int size;

  /** One journal line. */
  public record Entry(String sessionId, long sequence, String eventId, String type) {}

  private EventJournal(Path file, boolean sync) throws IOException {
    this.file = file;
    this.sync = sync;
    if (Files.exists(file) && Files.size(file) > 0) {
      try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
        f.seek(f.length() - 1);
        if (f.read() != '\n') {
          f.write('\n'); // end a line an interrupted write left half done
        }
      }
      for (Entry e : read(file)) {
        remember(e.sessionId(), e.sequence(), e.eventId());
      }
    }
    this.out =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
  }

  /** Opens (or creates) the journal; lines reach the OS at each append (survive a kill). */
  public static EventJournal open(Path file) throws IOException {
    return new EventJournal(file, false);
  }

  /** Opens the journal forcing every line to the device (survives a power loss; slower). */
  public static EventJournal openSynced(Path file) throws IOException {
    return new EventJournal(file, true);
  }

  /** Every whole line of a journal file, in order. */
  public static List<Entry> read(Path file) throws IOException {
    return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
        .map(s -> s.split(" "))
        .filter(f -> f.length == 4 && !f[1].isEmpty() && f[1].chars().allMatch(Character::isDigit))
        .map(f -> new Entry(f[0], Long.parseLong(f[1]), f[2], f[3]))
        .toList();
  }

  /**
   * Records a handled event; the session is the event's source ({@code /sessions/{sid}}). Answers
   * false, writing nothing, when the id was recorded before.
   */
  public boolean append(CloudEvent event) {
    String sid = Delivery.sessionOf(event);
    if (sid == null) {
      throw new IllegalArgumentException(
          "event " + event.id() + " has no session in its source '" + event.source() + "'");
    }
    return append(sid, event.id(), event.sequence(), event.type());
  }

  private synchronized boolean append(String sid, String id, long sequence, String type) {
    if (ids.contains(sid + " " + id)) {
      return false;
    }
    if (sid.contains(" ") || id.contains(" ") || sid.contains("\n") || id.contains("\n")) {
      throw new IllegalArgumentException("session and event ids must not contain spaces");
    }
    byte[] line =
        (sid + " " + sequence + " " + id + " " + (type == null ? "-" : type) + "\n")
            .getBytes(StandardCharsets.UTF_8);
    try {
      ByteBuffer b = ByteBuffer.wrap(line);
      while (b.hasRemaining()) {
        out.write(b);
      }
      if (sync) {
        out.force(false);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to the event journal " + file, e);
    }
    remember(sid, sequence, id);
    return true;
  }

  private void remember(String sid, long sequence, String id) {
    last.merge(sid, sequence, Math::max);
    ids.add(sid + " " + id);
    size++;
  }

  /** Lines in the journal. */
  public synchronized int size() {
    return size;
  }

  @Override
  public synchronized long lastSequence(String sessionId) {
    return last.getOrDefault(sessionId, 0L);
  }

  @Override
  public synchronized boolean contains(String sessionId, String eventId) {
    return ids.contains(sessionId + " " + eventId);
  }

  @Override
  public void record(String sessionId, String eventId, long sequence) {
    append(sessionId, eventId, sequence, null);
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }
}
