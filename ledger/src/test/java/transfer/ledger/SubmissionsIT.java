package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.UploadSource;

/**
 * Submits: the task and its doorbell in one transaction, idempotency keys, resume data and upload
 * sources resolved against the ledger.
 */
class SubmissionsIT extends LedgerFixture {
  SubmissionsIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void submitWritesAQueuedTaskAndItsDoorbellInOneTransaction() throws Exception {
    TaskRow t = submit();
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    assertThat(outboxKeys("transfer-tasks")).contains(t.id());
  }

  @Test
  void theSameIdempotencyKeyAndBodyAnswerTheSameTaskAndAnotherBodyConflicts() {
    TaskRequest r = download("http://127.0.0.1/a");
    TaskRequest other = download("http://127.0.0.1/b");
    var cfg = SessionConfig.DEFAULT.withDefaults();
    var first = ledger.submissions().submit(tenant, session, r, cfg, "key-1", null);
    var again = ledger.submissions().submit(tenant, session, r, cfg, "key-1", null);
    assertThat(first.replayed()).isFalse();
    assertThat(again.replayed()).isTrue();
    assertThat(again.task().id()).isEqualTo(first.task().id());
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ledger.submissions().submit(tenant, session, other, cfg, "key-1", null))
        .isInstanceOf(Submissions.IdempotencyConflict.class);
    assertThat(ledger.submissions().submit(tenant, session, other, cfg, "key-2", null).task().id())
        .isNotEqualTo(first.task().id());
  }

  @Test
  void resumeDataOfAnotherTenantOrForgedIsRefused() {
    TaskRow t = submit(withPriority("http://a.test/big", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 100, "\"v1\"");
    String resumeData =
        ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow().resumeData();

    String otherTenant = "t-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(otherTenant, "k-" + otherTenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(otherTenant, "s", SessionConfig.DEFAULT);
    TaskRequest stolen = resumeWith(resumeData);
    assertThatThrownBy(
            () ->
                ledger
                    .submissions()
                    .submit(
                        otherTenant, "s", stolen, SessionConfig.DEFAULT.withDefaults(), null, null))
        .isInstanceOf(Submissions.InvalidReference.class)
        .extracting(e -> ((Submissions.InvalidReference) e).field())
        .isEqualTo("resumeData");
    String forged = new ResumeData(1, t.id(), c.epoch(), 999_999, "\"v1\"", null).encode();
    assertThatThrownBy(() -> submit(resumeWith(forged)))
        .isInstanceOf(Submissions.InvalidReference.class);
    assertThatThrownBy(() -> submit(resumeWith("not-resume-data")))
        .isInstanceOf(Submissions.InvalidReference.class);
  }

  @Test
  void aTaskContinuedFromResumeDataTakesOverTheStorageStateOfItsCheckpoint() {
    TaskRow t = submit(withPriority("http://a.test/s3", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    String state = "s3.v1 a2V5 dXBsb2Fk 5242880 1 c3RhdGU";
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    Lease.of(t.id(), c.epoch()),
                    TTL,
                    new Leases.Heartbeat(
                        5_242_880,
                        new Leases.Checkpoint(5_242_880, c.epoch(), "\"v1\"", null, state),
                        10_000_000L,
                        false,
                        0)))
        .isTrue();
    assertThat(ledger.taskControl().task(tenant, session, t.id()).orElseThrow().durableState())
        .as("recorded with the checkpoint")
        .isEqualTo(state);
    String resumeData =
        ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow().resumeData();

    TaskRow next = submit(resumeWith(resumeData));
    assertThat(next.durableState()).isEqualTo(state);
    assertThat(next.bytesDurable()).isEqualTo(5_242_880);
    assertThat(ledger.taskControl().task(tenant, session, t.id()).orElseThrow().durableState())
        .as("the canceled task names the upload no more")
        .isNull();
    TaskRow again = submit(resumeWith(resumeData));
    assertThat(again.durableState()).as("a second use has nothing to continue").isNull();
  }

  @Test
  void anUploadResolvesItsSourceAtSubmitAndCompletesWithTheTargetsStatus() {
    TaskRow download = submit(withPriority("http://a.test/src", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger
        .leases()
        .completeDownload(Lease.of(download.id(), e), "file:///store/src", 42, "ab".repeat(32), 42);

    TaskRow up =
        submit(TaskRequest.upload("http://b.test/put", "PUT", UploadSource.ofTask(download.id())));
    assertThat(up.sourceLocation()).isEqualTo("file:///store/src");
    assertThat(up.sourceSize()).isEqualTo(42);
    assertThat(up.bytesExpected()).isEqualTo(42);

    ledger
        .stagedObjects()
        .putObject(
            new StoredObject(
                tenant,
                session,
                "report.csv",
                "file:///store/o1",
                7,
                "cd".repeat(32),
                clock.instant()));
    TaskRow fromObject =
        submit(
            TaskRequest.upload("http://b.test/post", "POST", UploadSource.ofObject("report.csv")));
    assertThat(fromObject.sourceLocation()).isEqualTo("file:///store/o1");
    assertThat(fromObject.sourceSha256()).isEqualTo("cd".repeat(32));

    assertThatThrownBy(
            () ->
                submit(
                    TaskRequest.upload(
                        "http://b.test/x",
                        "PUT",
                        UploadSource.ofTask(UUID.randomUUID().toString()))))
        .isInstanceOf(Submissions.InvalidReference.class)
        .extracting(x -> ((Submissions.InvalidReference) x).field())
        .isEqualTo("source.task");
    assertThatThrownBy(
            () ->
                submit(TaskRequest.upload("http://b.test/x", "PUT", UploadSource.ofObject("nope"))))
        .isInstanceOf(Submissions.InvalidReference.class)
        .extracting(x -> ((Submissions.InvalidReference) x).field())
        .isEqualTo("source.object");

    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    assertThat(c.task().id()).isEqualTo(up.id());
    assertThat(ledger.leases().completeUpload(Lease.of(up.id(), c.epoch()), 42, 201, 42)).isTrue();
    TaskRow done = task(up.id());
    assertThat(done.state()).isEqualTo(TaskState.COMPLETED);
    assertThat(done.sha256()).isEqualTo("ab".repeat(32));
    assertThat(done.location()).isNull();
    JsonNode completed = lastOfType("transfer.task.completed");
    assertThat(completed.get("subject").asText()).isEqualTo(up.id());
    assertThat(completed.get("data").get("httpStatus").asInt()).isEqualTo(201);
    assertThat(completed.get("data").get("taskType").asText()).isEqualTo("upload");
  }
}
