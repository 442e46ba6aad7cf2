package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.UploadSource;

/**
 * The URLSession-parity statements against a real PostgreSQL: scheduling (priority, discretionary,
 * the session and host limits), cancel with resumeData, suspend and resume, session invalidation,
 * the drained event, uploads' sources, and retention.
 */
class LedgerSessionControlIT {
  private static final Duration TTL = Duration.ofSeconds(30);
  private static PGSimpleDataSource ds;
  private final LedgerIT.SettableClock clock =
      new LedgerIT.SettableClock(Instant.parse("2026-03-01T00:00:00Z"));
  private Ledger ledger;
  private String tenant;
  private String session;

  @BeforeAll
  static void migrate() {
    ds = LedgerIT.migratedDataSource();
  }

  @BeforeEach
  void newTenantAndSession() throws Exception {
    // claimNext ranks every queued task of the database: park those other tests left behind.
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement("update tasks set state = 'suspended' where state = 'queued'")) {
      ps.executeUpdate();
    }
    ledger = new Ledger(ds, clock);
    tenant = "t-" + UUID.randomUUID();
    session = "s-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
  }

  // ---------------------------------------------------------------- scheduling

  @Test
  void aWorkerTakesTheHighestPriorityFirstAndDiscretionaryWorkLast() {
    String lazy = "lazy-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, lazy, config(null, null, true));
    TaskRow discretionary = submitIn(lazy, withPriority("http://a.test/d", 1.0));
    TaskRow low = submit(withPriority("http://a.test/1", 0.2));
    TaskRow high = submit(withPriority("http://b.test/2", 0.9));
    TaskRow mid = submit(withPriority("http://c.test/3", 0.5));

    assertThat(claimedIds(4)).containsExactly(high.id(), mid.id(), low.id(), discretionary.id());
  }

  @Test
  void aSessionAtMaxConcurrentTransfersIsPassedOverUntilASlotFreesUp() throws Exception {
    ledger.sessions().upsertSession(tenant, session, config(1, null, false));
    TaskRow first = submit(withPriority("http://a.test/1", 0.9));
    TaskRow second = submit(withPriority("http://b.test/2", 0.9));

    Claim running = ledger.claims().claimNext("w1", TTL).orElseThrow();
    assertThat(running.task().id()).isEqualTo(first.id());
    assertThat(ledger.claims().claimNext("w2", TTL))
        .as("the session's only slot is taken")
        .isEmpty();
    clearOutbox();

    assertThat(
            ledger
                .leases()
                .completeDownload(Lease.of(first.id(), running.epoch()), "file:///x", 1, "00", 1))
        .isTrue();
    // No doorbell: the worker whose transfer ended claims for its freed slot at once
    // (DoorbellConsumer), and gets the task passed over.
    assertThat(outboxKeys("transfer-tasks")).doesNotContain(second.id());
    assertThat(ledger.claims().claimNext("w2", TTL).orElseThrow().task().id())
        .isEqualTo(second.id());
  }

  @Test
  void maxConnectionsPerHostCountsRunningTasksOfTheSessionOnThatHost() {
    ledger.sessions().upsertSession(tenant, session, config(null, 2, false));
    List<String> hostA = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      hostA.add(submit(withPriority("http://a.test:8080/" + i, 0.9)).id());
    }
    TaskRow otherHost = submit(withPriority("http://b.test/x", 0.8));
    // The same host with another port is another origin.
    TaskRow otherPort = submit(withPriority("http://a.test:8081/y", 0.7));

    List<String> claimed = claimedIds(5);
    assertThat(claimed).containsExactly(hostA.get(0), hostA.get(1), otherHost.id(), otherPort.id());
  }

  // ---------------------------------------------------------------- cancel and resumeData

  @Test
  void cancelingARunningDownloadProducesResumeDataThatANewTaskContinuesFrom() {
    TaskRow t = submit(withPriority("http://a.test/big", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 4096, "\"v1\"");

    TaskControl.Canceled canceled =
        ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow();

    assertThat(canceled.task().state()).isEqualTo(TaskState.CANCELED);
    assertThat(canceled.task().error().code()).isEqualTo(ErrorCodes.CANCELED);
    assertThat(canceled.resumeData()).isNotBlank();
    assertThat(heartbeat(t.id(), c.epoch())).as("the worker is stopped").isFalse();
    JsonNode completed = lastOfType("transfer.task.completed");
    assertThat(completed.get("data").get("error").get("code").asText()).isEqualTo("canceled");
    assertThat(completed.get("data").get("resumeData").asText()).isEqualTo(canceled.resumeData());

    TaskRequest again =
        new TaskRequest(
            TaskType.DOWNLOAD,
            null,
            null,
            null,
            null,
            null,
            null,
            0.9,
            null,
            null,
            null,
            canceled.resumeData());
    TaskRow resumed = submit(again);
    assertThat(resumed.url()).isEqualTo("http://a.test/big");
    assertThat(resumed.bytesDurable()).isEqualTo(4096);
    assertThat(resumed.durableEpoch()).isEqualTo(c.epoch());
    assertThat(resumed.etag()).isEqualTo("\"v1\"");
    assertThat(resumed.prefixOwner()).isEqualTo(t.id());

    Claim c2 = ledger.claims().claimNext("w2", TTL).orElseThrow();
    assertThat(c2.task().id()).isEqualTo(resumed.id());
    checkpoint(resumed.id(), c2.epoch(), 8192, "\"v1\"");
    assertThat(task(resumed.id()).prefixOwner())
        .as("once the new task checkpoints, its own object holds the prefix")
        .isEqualTo(resumed.id());
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
  void noResumeDataWithoutADurablePrefixAndAValidator() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 100, "W/\"weak\"");
    assertThat(
            ledger.taskControl().cancel(tenant, session, t.id(), true).orElseThrow().resumeData())
        .isNull();
  }

  @Test
  void cancelIsIdempotentAndAFinishedTaskCannotBeCanceled() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    assertThat(ledger.taskControl().cancel(tenant, session, t.id(), false)).isPresent();
    assertThat(
            ledger
                .taskControl()
                .cancel(tenant, session, t.id(), false)
                .orElseThrow()
                .task()
                .state())
        .isEqualTo(TaskState.CANCELED);
    assertThat(numberedEvents(tenant, session, 0, 100))
        .filteredOn(e -> e.get("type").asText().equals("transfer.task.completed"))
        .hasSize(1);

    TaskRow done = submit(withPriority("http://a.test/y", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(done.id(), e), "file:///y", 1, "00", 1);
    assertThatThrownBy(() -> ledger.taskControl().cancel(tenant, session, done.id(), false))
        .isInstanceOf(TaskControl.StateConflict.class);
    assertThat(ledger.taskControl().cancel(tenant, session, UUID.randomUUID().toString(), false))
        .isEmpty();
  }

  @Test
  void aFinalFailureAfterADurablePrefixOffersResumeData() {
    ledger.sessions().upsertSession(tenant, session, LedgerIT.oneAttempt());
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 500, "\"v1\"");
    Leases.FailOutcome outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), c.epoch()),
                TaskError.of(ErrorCodes.CONNECTION_FAILED, "reset", true),
                Duration.ZERO);
    assertThat(outcome).isEqualTo(Leases.FailOutcome.FAILED_RESUMABLE);
    JsonNode data = lastOfType("transfer.task.completed").get("data");
    assertThat(data.get("error").get("code").asText()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
    assertThat(data.get("resumeData").asText()).isEqualTo(task(t.id()).resumeData());
    assertThat(submit(resumeWith(data.get("resumeData").asText())).bytesDurable()).isEqualTo(500);
  }

  // ---------------------------------------------------------------- suspend and resume

  @Test
  void aSuspendedTaskHoldsNoLeaseAndResumesFromItsCheckpoint() throws Exception {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    checkpoint(t.id(), c.epoch(), 1000, "\"v1\"");

    TaskRow suspended = ledger.taskControl().suspend(tenant, session, t.id()).orElseThrow();
    assertThat(suspended.state()).isEqualTo(TaskState.SUSPENDED);
    assertThat(suspended.leaseOwner()).isNull();
    assertThat(suspended.attempt()).as("a suspended attempt does not count").isZero();
    assertThat(heartbeat(t.id(), c.epoch())).isFalse();
    assertThat(ledger.claims().claimNext("w2", TTL)).isEmpty();
    assertThat(ledger.taskControl().suspend(tenant, session, t.id()).orElseThrow().state())
        .isEqualTo(TaskState.SUSPENDED);

    clearOutbox();
    assertThat(ledger.taskControl().resume(tenant, session, t.id()).orElseThrow().state())
        .isEqualTo(TaskState.QUEUED);
    assertThat(outboxKeys("transfer-tasks")).contains(t.id());
    Claim again = ledger.claims().claimNext("w2", TTL).orElseThrow();
    assertThat(again.task().bytesDurable()).isEqualTo(1000);
    assertThat(again.task().durableEpoch()).isEqualTo(c.epoch());
    assertThat(again.task().attempt()).isEqualTo(1);
  }

  @Test
  void aFinishedTaskCanBeNeitherSuspendedNorResumed() {
    TaskRow t = submit(withPriority("http://a.test/x", 0.9));
    ledger.taskControl().cancel(tenant, session, t.id(), false);
    assertThatThrownBy(() -> ledger.taskControl().suspend(tenant, session, t.id()))
        .isInstanceOf(TaskControl.StateConflict.class);
    assertThatThrownBy(() -> ledger.taskControl().resume(tenant, session, t.id()))
        .isInstanceOf(TaskControl.StateConflict.class);
  }

  // ---------------------------------------------------------------- sessions and drained

  @Test
  void invalidateAndCancelEndsEveryOpenTaskThenTheSessionIsDrainedOnce() {
    TaskRow queued = submit(withPriority("http://a.test/q", 0.1));
    TaskRow running = submit(withPriority("http://a.test/r", 0.9));
    long epoch = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    TaskRow waiting =
        submit(
            new TaskRequest(
                TaskType.DOWNLOAD,
                "http://a.test/w",
                null,
                null,
                null,
                null,
                null,
                null,
                clock.instant().plusSeconds(3600),
                null,
                null,
                null));
    assertThat(waiting.state()).isEqualTo(TaskState.WAITING);

    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, false), SessionState.INVALIDATED);

    for (TaskRow t : List.of(queued, running, waiting)) {
      assertThat(task(t.id()).state()).isEqualTo(TaskState.CANCELED);
    }
    assertThat(heartbeat(running.id(), epoch)).isFalse();
    List<JsonNode> events = numberedEvents(tenant, session, 0, 100);
    assertThat(events)
        .extracting(e -> e.get("type").asText())
        .containsExactly(
            "transfer.task.completed",
            "transfer.task.completed",
            "transfer.task.completed",
            "transfer.session.drained");
    JsonNode drained = events.get(3).get("data");
    assertThat(drained.get("tasks").get("canceled").asLong()).isEqualTo(3);
  }

  @Test
  void finishTasksAndInvalidateLeavesOpenTasksAlone() {
    TaskRow running = submit(withPriority("http://a.test/r", 0.9));
    long epoch = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, true), SessionState.FINISHING);
    assertThat(task(running.id()).state()).isEqualTo(TaskState.RUNNING);
    assertThat(
            ledger
                .leases()
                .completeDownload(Lease.of(running.id(), epoch), "file:///r", 1, "00", 1))
        .isTrue();
    assertThat(lastOfType("transfer.session.drained")).isNotNull();
    SessionRowAssert.state(
        Optional.of(ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT)),
        SessionState.ACTIVE);
    assertThat(ledger.sessions().invalidateSession(tenant, "no-such-session", true)).isEmpty();
  }

  @Test
  void anInvalidatedSessionTakesNoNewTaskAndStaysInvalidated() {
    ledger.sessions().invalidateSession(tenant, session, false);
    assertThatThrownBy(() -> submit(withPriority("http://a.test/late", 0.5)))
        .isInstanceOf(Sessions.SessionClosed.class)
        .extracting(e -> ((Sessions.SessionClosed) e).state())
        .isEqualTo(SessionState.INVALIDATED);
    SessionRowAssert.state(
        ledger.sessions().invalidateSession(tenant, session, true), SessionState.INVALIDATED);
    assertThatThrownBy(
            () ->
                ledger
                    .submissions()
                    .submit(
                        tenant,
                        "never-created",
                        withPriority("http://a.test/x", 0.5),
                        SessionConfig.DEFAULT.withDefaults(),
                        null,
                        null))
        .isInstanceOf(Sessions.SessionClosed.class);
  }

  @Test
  void invalidatingAnIdleSessionDrainsItAtOnceAndOnlyOnce() {
    ledger.sessions().invalidateSession(tenant, session, true);
    ledger.sessions().invalidateSession(tenant, session, true);
    assertThat(numberedEvents(tenant, session, 0, 100))
        .extracting(e -> e.get("type").asText())
        .containsExactly("transfer.session.drained");
  }

  @Test
  void theSessionIsDrainedOnlyWhenItsLastTaskEnds() {
    TaskRow a = submit(withPriority("http://a.test/a", 0.9));
    TaskRow b = submit(withPriority("http://a.test/b", 0.8));
    long ea = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    long eb = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(a.id(), ea), "file:///a", 1, "00", 1);
    assertThat(lastOfType("transfer.session.drained")).isNull();
    ledger
        .leases()
        .failAttempt(
            Lease.of(b.id(), eb),
            new TaskError(ErrorCodes.HTTP_STATUS, "404", 404, false),
            Duration.ZERO);
    List<JsonNode> events = numberedEvents(tenant, session, 0, 100);
    JsonNode last = events.get(events.size() - 1);
    assertThat(last.get("type").asText()).isEqualTo("transfer.session.drained");
    assertThat(last.get("id").asText()).isEqualTo(b.id() + ":drained");
    assertThat(last.get("data").get("tasks").get("completed").asLong()).isEqualTo(1);
    assertThat(last.get("data").get("tasks").get("failed").asLong()).isEqualTo(1);
  }

  @Test
  void aSessionThatSendsNoEventsStillStoresThemForReplay() throws Exception {
    ledger
        .sessions()
        .upsertSession(
            tenant, session, new SessionConfig(null, null, null, null, null, false, null, null));
    clearOutbox();
    TaskRow t = submit(withPriority("http://a.test/quiet", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///q", 1, "00", 1);
    assertThat(outboxKeys("transfer-events")).isEmpty();
    assertThat(numberedEvents(tenant, session, 0, 100))
        .extracting(n -> n.get("type").asText())
        .contains("transfer.task.completed", "transfer.session.drained");
  }

  @Test
  void sessionsArePagedById() {
    String t2 = "t-" + UUID.randomUUID();
    ledger.tenants().ensureTenantKey(t2, "k-" + t2, UUID.randomUUID().toString().getBytes());
    for (String id : List.of("c", "a", "b")) {
      ledger.sessions().upsertSession(t2, id, SessionConfig.DEFAULT);
    }
    assertThat(ledger.sessions().sessions(t2, null, 2))
        .extracting(SessionRow::id)
        .containsExactly("a", "b");
    assertThat(ledger.sessions().sessions(t2, "b", 2))
        .extracting(SessionRow::id)
        .containsExactly("c");
  }

  @Test
  void tasksArePagedInCreationOrderAndFilteredByState() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(submit(withPriority("http://a.test/" + i, 0.1)).id());
      clock.advance(Duration.ofMillis(10));
    }
    ledger.taskControl().cancel(tenant, session, ids.get(1), false);
    ledger.taskControl().cancel(tenant, session, ids.get(3), false);

    List<TaskRow> page1 = ledger.taskControl().tasks(tenant, session, null, null, 3);
    assertThat(page1).extracting(TaskRow::id).containsExactlyElementsOf(ids.subList(0, 3));
    assertThat(ledger.taskControl().tasks(tenant, session, null, ids.get(2), 3))
        .extracting(TaskRow::id)
        .containsExactlyElementsOf(ids.subList(3, 5));
    assertThat(ledger.taskControl().tasks(tenant, session, Set.of(TaskState.CANCELED), null, 10))
        .extracting(TaskRow::id)
        .containsExactly(ids.get(1), ids.get(3));
    assertThat(ledger.taskControl().tasks(tenant, "other", null, null, 10)).isEmpty();
  }

  // ---------------------------------------------------------------- uploads

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

  @Test
  void replacingAnObjectAnswersTheOldLocationAndDeletingForgetsIt() {
    var o1 = new StoredObject(tenant, session, "a.bin", "file:///o/1", 1, "00", clock.instant());
    assertThat(ledger.stagedObjects().putObject(o1)).isEmpty();
    var o2 = new StoredObject(tenant, session, "a.bin", "file:///o/2", 2, "11", clock.instant());
    assertThat(ledger.stagedObjects().putObject(o2)).contains("file:///o/1");
    assertThat(ledger.stagedObjects().object(tenant, session, "a.bin").orElseThrow().size())
        .isEqualTo(2);
    assertThat(ledger.stagedObjects().object("other-tenant", session, "a.bin")).isEmpty();
    assertThat(
            ledger.stagedObjects().deleteObject(tenant, session, "a.bin").orElseThrow().location())
        .isEqualTo("file:///o/2");
    assertThat(ledger.stagedObjects().object(tenant, session, "a.bin")).isEmpty();
  }

  // ---------------------------------------------------------------- retention

  @Test
  void finishedTasksAndOldEventsArePurgedAfterTheirRetention() {
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                withPriority("http://a.test/old", 0.9),
                SessionConfig.DEFAULT.withDefaults(),
                "key-" + UUID.randomUUID(),
                null)
            .task();
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///store/old", 1, "00", 1);
    TaskRow open = submit(withPriority("http://a.test/open", 0.1));
    ledger
        .eventSequencer()
        .sequenceEvents(100); // the relay's job, within milliseconds of the commit
    clock.advance(Duration.ofDays(8));

    Purging.Purged purged =
        ledger
            .purging()
            .purgeExpired(
                clock.instant().minus(Duration.ofDays(7)),
                clock.instant().minus(Duration.ofDays(7)),
                10_000);

    assertThat(purged.taskIds()).contains(t.id()).doesNotContain(open.id());
    assertThat(purged.locations()).contains("file:///store/old");
    assertThat(ledger.taskControl().task(tenant, session, t.id())).isEmpty();
    assertThat(ledger.taskControl().task(tenant, session, open.id())).isPresent();
    assertThat(numberedEvents(tenant, session, 0, 100)).isEmpty();
  }

  // ---------------------------------------------------------------- helpers

  private static SessionConfig config(
      Integer maxConcurrent, Integer perHost, boolean discretionary) {
    return new SessionConfig(maxConcurrent, perHost, null, null, discretionary, null, null, null);
  }

  private static TaskRequest withPriority(String url, double priority) {
    return new TaskRequest(
        TaskType.DOWNLOAD, url, null, null, null, null, null, priority, null, null, null, null);
  }

  private static TaskRequest resumeWith(String resumeData) {
    return new TaskRequest(
        TaskType.DOWNLOAD, null, null, null, null, null, null, null, null, null, null, resumeData);
  }

  private TaskRow submit(TaskRequest r) {
    return submitIn(session, r);
  }

  private TaskRow submitIn(String sid, TaskRequest r) {
    SessionConfig cfg =
        ledger.sessions().session(tenant, sid).orElseThrow().config().withDefaults();
    return ledger.submissions().submit(tenant, sid, r, cfg, null, null).task();
  }

  private List<String> claimedIds(int max) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < max; i++) {
      Optional<Claim> c = ledger.claims().claimNext("w", TTL);
      if (c.isEmpty()) {
        break;
      }
      out.add(c.get().task().id());
    }
    return out;
  }

  private TaskRow task(String id) {
    return ledger.taskControl().task(tenant, session, id).orElseThrow();
  }

  private void checkpoint(String id, long epoch, long bytes, String etag) {
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    Lease.of(id, epoch),
                    TTL,
                    new Leases.Heartbeat(
                        bytes,
                        new Leases.Checkpoint(bytes, epoch, etag, null),
                        bytes * 4,
                        false,
                        0)))
        .isTrue();
  }

  private boolean heartbeat(String id, long epoch) {
    return ledger
        .leases()
        .heartbeat(Lease.of(id, epoch), TTL, new Leases.Heartbeat(1, null, null, false, 0));
  }

  private JsonNode lastOfType(String type) {
    JsonNode found = null;
    for (JsonNode e : numberedEvents(tenant, session, 0, 1000)) {
      if (e.get("type").asText().equals(type)) {
        found = e;
      }
    }
    return found;
  }

  private void clearOutbox() throws Exception {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("delete from outbox")) {
      ps.executeUpdate();
    }
  }

  private List<String> outboxKeys(String topic) throws Exception {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("select msg_key from outbox where topic = ?")) {
      ps.setString(1, topic);
      try (var rs = ps.executeQuery()) {
        List<String> out = new ArrayList<>();
        while (rs.next()) {
          out.add(rs.getString(1));
        }
        return out;
      }
    }
  }

  private static final class SessionRowAssert {
    static void state(Optional<SessionRow> row, SessionState expected) {
      assertThat(row).isPresent();
      assertThat(row.get().state()).isEqualTo(expected);
    }
  }

  /** The session's stored events, once the sequencer (the relay's job in a cluster) has run. */
  private List<com.fasterxml.jackson.databind.JsonNode> numberedEvents(
      String tenantId, String sessionId, long after, int limit) {
    ledger.eventSequencer().sequenceEvents(100_000);
    return ledger.eventReplay().events(tenantId, sessionId, after, limit);
  }
}
