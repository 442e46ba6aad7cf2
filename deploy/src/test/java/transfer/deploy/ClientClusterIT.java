package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.client.AuthenticationException;
import transfer.client.ConflictException;
import transfer.client.Content;
import transfer.client.EventPage;
import transfer.client.NotFoundException;
import transfer.client.Page;
import transfer.client.Problem;
import transfer.client.TransferApiException;
import transfer.client.TransferClient;
import transfer.client.ValidationException;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.ObjectView;
import transfer.contracts.RetryPolicy;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;
import transfer.contracts.UploadSource;
import transfer.testkit.Origin;

/**
 * The typed Java client against the real services: a download and an upload end to end, the
 * listing, control and batch calls, and real problem+json answers mapped to typed exceptions.
 */
class ClientClusterIT extends ClusterTest {
  private static TransferClient api;
  @TempDir static Path dir;

  @BeforeAll
  static void client() {
    api = cluster.transferClient();
  }

  private static String newSession() {
    String sid = "client-" + UUID.randomUUID();
    api.putSession(
        sid,
        new SessionConfig(
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            new RetryPolicy(3, Duration.ofMillis(200), Duration.ofMillis(500))));
    return sid;
  }

  private static TaskView awaitFinal(String sid, String tid) {
    return await()
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> api.task(sid, tid), t -> t.state().isFinal());
  }

  @Test
  void downloadsAndUploadsEndToEnd() throws Exception {
    String sid = newSession();
    long size = 5L << 20;
    String sha = Origin.sha256Hex(size, 801);

    // A download, its stored bytes streamed back to a file and verified.
    TaskView submitted = api.download(sid, origin.url("/bytes/" + size + "?seed=801"));
    assertThat(submitted.state()).isIn(TaskState.QUEUED, TaskState.RUNNING);
    TaskView done = awaitFinal(sid, submitted.id());
    assertThat(done.state()).as("%s", done).isEqualTo(TaskState.COMPLETED);
    assertThat(done.sha256()).isEqualTo(sha);
    Content content = api.downloadContent(sid, done.id(), dir.resolve("download.bin"));
    assertThat(content.size()).isEqualTo(size);
    assertThat(content.sha256()).isEqualTo(sha);
    assertThat(Files.size(dir.resolve("download.bin"))).isEqualTo(size);

    // An upload of a staged object, streamed from a file; the target receives exactly its bytes.
    Path file = dir.resolve("upload.bin");
    Origin.writeTo(file, 3L << 20, 802);
    ObjectView object = api.putObject(sid, "upload.bin", file);
    assertThat(object.size()).isEqualTo(3L << 20);
    assertThat(object.sha256()).isEqualTo(Origin.sha256Hex(3L << 20, 802));
    Content back = api.getObject(sid, "upload.bin", dir.resolve("object-back.bin"));
    assertThat(back.sha256()).isEqualTo(object.sha256());
    String path = "/up/" + UUID.randomUUID();
    TaskView upload = api.upload(sid, origin.url(path), "PUT", UploadSource.ofObject("upload.bin"));
    assertThat(awaitFinal(sid, upload.id()).state()).isEqualTo(TaskState.COMPLETED);
    List<Origin.RequestRecord> received =
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () -> origin.requests().stream().filter(r -> r.path().equals(path)).toList(),
                l -> l.size() == 1 && l.get(0).receivedSha256() != null);
    assertThat(received.get(0).receivedSha256()).isEqualTo(object.sha256());

    // The finished download's bytes uploaded too.
    String path2 = "/up/" + UUID.randomUUID();
    TaskView upload2 = api.upload(sid, origin.url(path2), "POST", UploadSource.ofTask(done.id()));
    assertThat(awaitFinal(sid, upload2.id()).state()).isEqualTo(TaskState.COMPLETED);

    // Listing, paged and filtered; the events, replayed.
    assertThat(api.allTasks(sid).map(TaskView::id))
        .containsExactly(done.id(), upload.id(), upload2.id());
    Page<TaskView> first = api.tasks(sid, Set.of(TaskState.COMPLETED), null, 2);
    assertThat(first.items()).hasSize(2);
    assertThat(first.hasNext()).isTrue();
    assertThat(api.tasks(sid, Set.of(TaskState.COMPLETED), first.next(), 2).items())
        .extracting(TaskView::id)
        .containsExactly(upload2.id());
    assertThat(api.allSessions().map(s -> s.id())).contains(sid);
    EventPage events = api.events(sid, 0, 1000);
    assertThat(events.events())
        .filteredOn(e -> e.type().equals(EventTypes.COMPLETED))
        .extracting(CloudEvent::subject)
        .containsExactly(done.id(), upload.id(), upload2.id());
    api.deleteObject(sid, "upload.bin");
    assertThatThrownBy(() -> api.getObject(sid, "upload.bin", dir.resolve("gone.bin")))
        .isInstanceOf(NotFoundException.class);
  }

  @Test
  void aSubmitRepeatedWithItsIdempotencyKeyIsTheSameTaskAndABatchIsOneRequest() {
    String sid = newSession();
    TaskRequest r = TaskRequest.download(origin.url("/bytes/1000?seed=803"));
    TaskView a = api.submit(sid, r, "order-803");
    TaskView b = api.submit(sid, r, "order-803");
    assertThat(b.id()).isEqualTo(a.id());
    assertThatThrownBy(
            () -> api.submit(sid, TaskRequest.download(origin.url("/bytes/2?seed=1")), "order-803"))
        .isInstanceOfSatisfying(
            ValidationException.class,
            e -> {
              assertThat(e.status()).isEqualTo(422);
              assertThat(e.problem().slug()).isEqualTo("idempotency-key-reused");
            });
    List<TaskView> batch =
        api.submitBatch(
            sid,
            List.of(
                TaskRequest.download(origin.url("/bytes/1000?seed=804")),
                TaskRequest.download(origin.url("/bytes/1000?seed=805"))));
    assertThat(batch).hasSize(2);
    batch.forEach(t -> assertThat(awaitFinal(sid, t.id()).state()).isEqualTo(TaskState.COMPLETED));
  }

  @Test
  void controlCallsSuspendResumeAndCancel() {
    String sid = newSession();
    // Served slowly, so it is still open while we steer it.
    TaskView t = api.download(sid, origin.url("/bytes/" + (4 << 20) + "?seed=806&rate=262144"));
    assertThat(api.suspend(sid, t.id()).state()).isEqualTo(TaskState.SUSPENDED);
    assertThat(api.resume(sid, t.id()).state()).isIn(TaskState.QUEUED, TaskState.RUNNING);
    var canceled = api.cancel(sid, t.id());
    assertThat(canceled.task().state()).isEqualTo(TaskState.CANCELED);
    // A completed task cannot be canceled: a real 409 problem.
    TaskView small = api.download(sid, origin.url("/bytes/1000?seed=807"));
    assertThat(awaitFinal(sid, small.id()).state()).isEqualTo(TaskState.COMPLETED);
    assertThatThrownBy(() -> api.cancel(sid, small.id()))
        .isInstanceOfSatisfying(
            ConflictException.class,
            e -> {
              assertThat(e.status()).isEqualTo(409);
              assertThat(e.kind()).isEqualTo(TransferApiException.Kind.CONFLICT);
            });
  }

  @Test
  void realProblemsBecomeTypedExceptions() {
    String sid = newSession();
    String missing = UUID.randomUUID().toString();
    assertThatThrownBy(() -> api.task(sid, missing))
        .isInstanceOfSatisfying(
            NotFoundException.class,
            e -> {
              assertThat(e.type()).isEqualTo("urn:transfer:problem:not-found");
              assertThat(e.title()).isEqualTo("Not Found");
              assertThat(e.status()).isEqualTo(404);
              assertThat(e.detail()).contains(missing);
              assertThat(e.instance()).isEqualTo("/v1/sessions/" + sid + "/tasks/" + missing);
              assertThat(e.getMessage()).contains("GET /v1/sessions/" + sid + "/tasks/" + missing);
            });

    TaskRequest bad =
        new TaskRequest(
            transfer.contracts.TaskType.DOWNLOAD,
            "ftp://example.com/x",
            null,
            null,
            -5L,
            "not-a-digest",
            null,
            7.0,
            null,
            null,
            null,
            null);
    assertThatThrownBy(() -> api.submit(sid, bad))
        .isInstanceOfSatisfying(
            ValidationException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.type()).isEqualTo("urn:transfer:problem:validation-failed");
              assertThat(e.fieldErrors())
                  .extracting(Problem.FieldError::field)
                  .contains("url", "expectedBytes", "sha256", "priority");
            });
    assertThat(api.allTasks(sid).count()).as("a refused request stores nothing").isZero();

    TransferClient stranger =
        TransferClient.builder()
            .baseUri("http://127.0.0.1:" + cluster.apiPort)
            .apiKey("not-a-key")
            .build();
    assertThatThrownBy(() -> stranger.session(sid))
        .isInstanceOfSatisfying(
            AuthenticationException.class, e -> assertThat(e.status()).isEqualTo(401));
  }
}
