package transfer.client.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import transfer.client.EventJournal;
import transfer.client.KafkaEventFeed;
import transfer.client.TaskEvent;
import transfer.client.TransferClient;
import transfer.client.TransferListener;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskView;

/**
 * The README's example service (compiled with the client's tests, so it stays true): it asks the
 * cluster to download a report, and reacts to the completion in its listener, exactly once, even
 * when the service is restarted (or killed) in the middle, and whichever replica gets the event.
 *
 * <pre>
 * TRANSFER_API=http://localhost:8080 TRANSFER_API_KEY=… KAFKA_BOOTSTRAP_SERVERS=localhost:9092 \
 *   java -cp … transfer.client.examples.ReportService https://example.com/report.csv
 * </pre>
 */
public final class ReportService implements TransferListener {
  private final TransferClient api;
  private final EventJournal handled;
  private final Path reports;

  ReportService(TransferClient api, EventJournal handled, Path reports) {
    this.api = api;
    this.handled = handled;
    this.reports = reports;
  }

  public static void main(String[] args) throws IOException {
    TransferClient api =
        TransferClient.builder()
            .baseUri(System.getenv("TRANSFER_API"))
            .apiKey(System.getenv("TRANSFER_API_KEY"))
            .build();
    api.putSession("reports", null); // idempotent: fine on every start

    // The Idempotency-Key names what the download is for: submitted again after a restart, it is
    // the same task, not a second one.
    String url = args[0];
    TaskView task =
        api.submit(
            "reports", TaskRequest.download(url), "report-" + Integer.toHexString(url.hashCode()));
    System.out.println("download " + task.id() + " is " + task.state().wire());

    // What this service has handled, kept on disk: the feed resumes after its last line.
    Path dir = Files.createDirectories(Path.of("reports"));
    EventJournal handled = EventJournal.open(dir.resolve("handled.journal"));
    KafkaEventFeed feed =
        KafkaEventFeed.builder()
            .bootstrapServers(System.getenv("KAFKA_BOOTSTRAP_SERVERS"))
            .groupId("report-service") // the same in every replica and after a restart
            .tenant(System.getenv("TRANSFER_TENANT")) // the topic has every tenant's events
            .sessions("reports")
            .dedupeStore(handled)
            .listener(new ReportService(api, handled, dir))
            .build()
            .start();
    Runtime.getRuntime().addShutdownHook(new Thread(feed::close)); // commit, leave the group
  }

  /** On the feed's thread; never concurrently for one session. */
  @Override
  public void didCompleteWithError(TaskEvent task, TaskError error) {
    if (error == null) {
      // Idempotent work: if the process dies before the journal line below, this runs again and
      // writes the same file.
      api.downloadContent("reports", task.taskId(), reports.resolve(task.taskId() + ".csv"));
      System.out.println("report " + task.taskId() + " is in " + reports);
    } else {
      System.out.println(
          "report " + task.taskId() + " failed: " + error.code() + " " + error.message());
    }
    // The record of this completion, written as the last step of handling it: once it is on
    // disk, no restart delivers the completion again.
    handled.append(task.event());
  }

  @Override
  public void didWriteData(TaskEvent task, long bytes, long total, long expected) {
    System.out.printf("report %s: %d of %d bytes%n", task.taskId(), total, expected);
  }
}
