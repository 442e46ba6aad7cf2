package transfer.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import transfer.client.DedupeStore;
import transfer.client.EventJournal;
import transfer.client.InMemoryDedupeStore;
import transfer.client.KafkaEventFeed;
import transfer.client.TransferListener;
import transfer.contracts.CloudEvent;

/**
 * A consuming service in a JVM of its own, for {@link ClientFeedsClusterIT}: a {@link
 * KafkaEventFeed} whose listener "works" on each event for a while, then appends it to a journal
 * file before returning (and, were it ever called again for an event it journaled, that event's id
 * to {@code <journal>.duplicates}). The test kills it ({@code destroyForcibly}) or stops it ({@code
 * destroy}, SIGTERM) midway, starts it again with the same group, and reads the journal.
 *
 * <p>Arguments: bootstrap servers, group id, journal file, work per event in milliseconds, the
 * store ({@code journal}: the {@link EventJournal} the listener appends to is also the {@link
 * DedupeStore}, so the record is written with the effect; {@code memory}: the default in-memory
 * store), then the session ids to follow.
 */
public final class FeedProcess {
  private FeedProcess() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String group = args[1];
    EventJournal journal = EventJournal.open(Path.of(args[2]));
    Path duplicates = Path.of(args[2] + ".duplicates");
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
            if (!journal.append(event)) {
              // Called again for an event it handled: the test fails on this file.
              try {
                Files.writeString(
                    duplicates,
                    event.id() + "\n",
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }
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
}
