package transfer.deploy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import transfer.client.DedupeStore;
import transfer.client.InMemoryDedupeStore;
import transfer.client.KafkaEventFeed;
import transfer.client.TransferListener;
import transfer.contracts.CloudEvent;

/**
 * A consuming service in a JVM of its own, for {@link ClientFeedsClusterIT}: a {@link
 * KafkaEventFeed} whose listener "works" on each event for a while, then appends it to a journal
 * file before returning. The test kills it ({@code destroyForcibly}) or stops it ({@code destroy},
 * SIGTERM) midway, starts it again with the same group, and reads the journal.
 *
 * <p>Arguments: bootstrap servers, group id, journal file, work per event in milliseconds, the
 * store ({@code journal}: the journal itself is the {@link DedupeStore}, written with the effect;
 * {@code memory}: the default in-memory store), then the session ids to follow.
 */
public final class FeedProcess {
  private FeedProcess() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String group = args[1];
    Journal journal = new Journal(Path.of(args[2]));
    long workMs = Long.parseLong(args[3]);
    DedupeStore store = args[4].equals("journal") ? journal : new InMemoryDedupeStore();
    String[] sessions = Arrays.copyOfRange(args, 5, args.length);

    TransferListener listener =
        new TransferListener() {
          @Override
          public void onEvent(CloudEvent event) {
            try {
              Thread.sleep(workMs); // the work a service does for an event
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new IllegalStateException("interrupted while working on " + event.id(), e);
            }
            journal.append(event);
          }
        };
    KafkaEventFeed feed =
        KafkaEventFeed.builder()
            .bootstrapServers(bootstrap)
            .groupId(group)
            .listener(listener)
            .dedupeStore(store)
            .sessions(sessions)
            .maxPollRecords(20)
            // A relaunched replica takes its partitions back at once (static membership).
            .property("group.instance.id", group + "-replica-1")
            .property("session.timeout.ms", 10_000)
            .build();
    Runtime.getRuntime().addShutdownHook(new Thread(feed::close, "feed-shutdown"));
    feed.start();
    System.out.println("feed started, journal has " + journal.size() + " event(s)");
  }

  /**
   * The events the listener handled, one line each ({@code session sequence id type}), appended in
   * one write per event (a killed process leaves whole lines). Read back at start, it is also a
   * {@link DedupeStore} that is always exactly as current as the listener's effect.
   */
  static final class Journal implements DedupeStore {
    private final FileChannel out;
    private final Map<String, Long> last = new HashMap<>();
    private final Set<String> ids = new HashSet<>();
    private int size;

    Journal(Path file) throws IOException {
      if (Files.exists(file)) {
        for (Line l : read(file)) {
          remember(l.session(), l.sequence(), l.id());
        }
      }
      if (Files.exists(file) && Files.size(file) > 0) {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
          f.seek(f.length() - 1);
          if (f.read() != '\n') {
            f.write('\n'); // end a line a killed run left half written
          }
        }
      }
      out =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    /** One journal line. */
    record Line(String session, long sequence, String id, String type) {}

    static List<Line> read(Path file) throws IOException {
      return Files.readAllLines(file).stream()
          .map(s -> s.split(" "))
          .filter(f -> f.length == 4)
          .map(f -> new Line(f[0], Long.parseLong(f[1]), f[2], f[3]))
          .toList();
    }

    synchronized void append(CloudEvent e) {
      String session = e.source().substring("/sessions/".length());
      byte[] line =
          (session + " " + e.sequence() + " " + e.id() + " " + e.type() + "\n")
              .getBytes(StandardCharsets.UTF_8);
      try {
        ByteBuffer b = ByteBuffer.wrap(line);
        while (b.hasRemaining()) {
          out.write(b);
        }
      } catch (IOException x) {
        throw new IllegalStateException("cannot append to the journal", x);
      }
      remember(session, e.sequence(), e.id());
    }

    private void remember(String session, long sequence, String id) {
      last.merge(session, sequence, Math::max);
      ids.add(session + " " + id);
      size++;
    }

    synchronized int size() {
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
      // The listener's append was the record: nothing is left to write after it returned.
    }
  }
}
