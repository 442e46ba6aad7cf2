package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.testkit.TestInfra;

/** The task state machine's statements against a real PostgreSQL, with a settable clock. */
class LedgerIT {
  private static PGSimpleDataSource ds;
  private final SettableClock clock = new SettableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private Ledger ledger;
  private String tenant;
  private String session;

  @BeforeAll
  static void migrate() {
    ds = migratedDataSource();
  }

  /** This test JVM's PostgreSQL with the ledger's migrations applied. */
  static PGSimpleDataSource migratedDataSource() {
    TestInfra infra = TestInfra.shared();
    PGSimpleDataSource source = new PGSimpleDataSource();
    source.setUrl(infra.jdbcUrl());
    source.setUser(infra.dbUser());
    source.setPassword(infra.dbPassword());
    Flyway.configure().dataSource(source).load().migrate();
    return source;
  }

  @BeforeEach
  void newTenantAndSession() {
    ledger = new Ledger(ds, clock);
    tenant = "t-" + UUID.randomUUID();
    session = "s-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
  }

  private TaskRow submit() {
    TaskRequest r = download("http://127.0.0.1/x");
    return ledger
        .submissions()
        .submit(tenant, session, r, SessionConfig.DEFAULT.withDefaults(), null, null)
        .task();
  }

  @Test
  void submitWritesAQueuedTaskAndItsDoorbellInOneTransaction() throws Exception {
    TaskRow t = submit();
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    assertThat(outboxKeys("transfer-tasks")).contains(t.id());
  }

  @Test
  void aTaskIsClaimedOnceAndEachClaimBumpsTheEpoch() {
    TaskRow t = submit();
    var first = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30));
    assertThat(first).isPresent();
    assertThat(first.get().epoch()).isEqualTo(1);
    assertThat(first.get().task().attempt()).isEqualTo(1);
    assertThat(TestClaims.claim(ledger, t.id(), "w2", Duration.ofSeconds(30))).isEmpty();
  }

  @Test
  void aSupersededEpochCanNoLongerWrite() {
    TaskRow t = submit();
    long e1 = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    clock.advance(Duration.ofSeconds(31));
    // The reaper is global: tasks of other tests in this database may be reaped too.
    assertThat(ledger.reaping().reapExpiredLeases(1000).requeued()).isGreaterThanOrEqualTo(1);
    assertThat(state(t)).isEqualTo(TaskState.QUEUED);
    // The reaper re-queued it: the frozen worker's heartbeat is refused even before a new claim.
    assertThat(heartbeat(t.id(), e1)).isFalse();
    long e2 = TestClaims.claim(ledger, t.id(), "w2", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(e2).isEqualTo(e1 + 1);
    assertThat(heartbeat(t.id(), e1)).isFalse();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e1), "file:///x", 1, "00", 1))
        .isFalse();
    assertThat(
            ledger
                .leases()
                .failAttempt(Lease.of(t.id(), e1), TaskError.of("x", "y", true), Duration.ZERO))
        .isEqualTo(Leases.FailOutcome.FENCED);
    assertThat(heartbeat(t.id(), e2)).isTrue();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e2), "file:///x", 1, "00", 1))
        .isTrue();
    TaskRow done = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(done.state()).isEqualTo(TaskState.COMPLETED);
    assertThat(done.attempt()).isEqualTo(2);
  }

  @Test
  void completionWritesOneCompletedEventWithAnIdDerivedFromTheTask() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 5, "ab", 5))
        .isTrue();
    assertThat(ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 5, "ab", 5))
        .isFalse();
    var events = numberedEvents(tenant, session, 0, 100);
    assertThat(events)
        .extracting(n -> n.get("type").asText())
        .containsExactly(
            "transfer.task.progress",
            "transfer.task.downloaded",
            "transfer.task.completed",
            "transfer.session.drained");
    assertThat(events.get(2).get("id").asText()).isEqualTo(t.id() + ":completed");
    assertThat(events).extracting(n -> n.get("sequence").asLong()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void concurrentWritersAndTwoSequencersGiveContiguousNumbersTaskOrderAndOneDrainedEvent()
      throws Exception {
    int tasks = 40;
    List<Long> epochs = new java.util.ArrayList<>();
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      TaskRow t = submit();
      ids.add(t.id());
      epochs.add(
          TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch());
    }
    var pool = java.util.concurrent.Executors.newFixedThreadPool(10);
    var writing = new java.util.concurrent.atomic.AtomicBoolean(true);
    try {
      // Two sequencers at once (two relays in a failover): the advisory lock must serialize them.
      List<java.util.concurrent.Future<?>> sequencers = new java.util.ArrayList<>();
      for (int s = 0; s < 2; s++) {
        sequencers.add(
            pool.submit(
                () -> {
                  while (writing.get()) {
                    ledger
                        .eventSequencer()
                        .sequenceEvents(7); // small batches: numbering interleaves the writers
                  }
                }));
      }
      List<java.util.concurrent.Future<?>> writers = new java.util.ArrayList<>();
      for (int w = 0; w < 8; w++) {
        int first = w;
        writers.add(
            pool.submit(
                () -> {
                  for (int i = first; i < tasks; i += 8) {
                    var hb = new Leases.Heartbeat(1, null, 2L, true, 1);
                    assertThat(
                            ledger
                                .leases()
                                .heartbeat(
                                    Lease.of(ids.get(i), epochs.get(i)),
                                    Duration.ofSeconds(30),
                                    hb))
                        .isTrue();
                    assertThat(
                            ledger
                                .leases()
                                .completeDownload(
                                    Lease.of(ids.get(i), epochs.get(i)),
                                    "file:///x" + i,
                                    2,
                                    "ab",
                                    1))
                        .isTrue();
                  }
                }));
      }
      for (var f : writers) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
      writing.set(false);
      for (var f : sequencers) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
    } finally {
      writing.set(false);
      pool.shutdownNow();
    }

    var events = numberedEvents(tenant, session, 0, 10_000);
    // Four events per task (progress, progress, downloaded, completed), then one drained.
    assertThat(events).hasSize(tasks * 4 + 1);
    assertThat(events)
        .extracting(n -> n.get("sequence").asLong())
        .containsExactlyElementsOf(
            java.util.stream.LongStream.rangeClosed(1, tasks * 4L + 1).boxed().toList());
    assertThat(events).extracting(n -> n.get("id").asText()).doesNotHaveDuplicates();
    assertThat(events.get(events.size() - 1).get("type").asText())
        .isEqualTo("transfer.session.drained");
    for (String id : ids) {
      assertThat(events)
          .filteredOn(n -> id.equals(n.path("subject").asText()))
          .extracting(n -> n.get("type").asText())
          .as("events of task %s, in sequence order", id)
          .containsExactly(
              "transfer.task.progress",
              "transfer.task.progress",
              "transfer.task.downloaded",
              "transfer.task.completed");
    }
  }

  @Test
  void theTaskTableIsAnalyzedOnceEnoughOfItChanged() {
    assertThat(ledger.reaping().analyzeTasksIfStale(Long.MAX_VALUE)).isFalse();
    Instant before = lastAnalyze();
    // The server counts changed rows a moment after their commit (and autovacuum may analyze
    // meanwhile): a new task each try, until one try finds a change since the last analyze.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              submit();
              return ledger.reaping().analyzeTasksIfStale(1);
            });
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> lastAnalyze() != null && !lastAnalyze().equals(before));
  }

  /** When the task table was last analyzed by an ANALYZE command (not by autovacuum). */
  private static Instant lastAnalyze() {
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select last_analyze from pg_stat_user_tables where relid = 'tasks'::regclass");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      java.sql.Timestamp t = rs.getTimestamp(1);
      return t == null ? null : t.toInstant();
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aRetryableFailureWaitsForItsBackoffThenIsQueuedAgain() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    var outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), e),
                TaskError.of(ErrorCodes.CONNECTION_FAILED, "reset", true),
                Duration.ofSeconds(10));
    assertThat(outcome).isEqualTo(Leases.FailOutcome.RETRY_SCHEDULED);
    assertThat(state(t)).isEqualTo(TaskState.WAITING);
    ledger.reaping().promoteDueTasks(1000);
    assertThat(state(t)).isEqualTo(TaskState.WAITING);
    clock.advance(Duration.ofSeconds(10));
    assertThat(ledger.reaping().promoteDueTasks(1000)).isGreaterThanOrEqualTo(1);
    assertThat(state(t)).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void aFinalFailureEndsTheTaskWithOneCompletionEvent() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    var outcome =
        ledger
            .leases()
            .failAttempt(
                Lease.of(t.id(), e),
                new TaskError(ErrorCodes.HTTP_STATUS, "404", 404, false),
                Duration.ZERO);
    assertThat(outcome).isEqualTo(Leases.FailOutcome.FAILED);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().httpStatus()).isEqualTo(404);
    assertThat(numberedEvents(tenant, session, 0, 10))
        .extracting(n -> n.get("type").asText())
        .containsExactly("transfer.task.completed", "transfer.session.drained");
  }

  @Test
  void theLastRetryableFailureBecomesAttemptsExhausted() {
    SessionConfig oneAttempt = oneAttempt();
    ledger.sessions().upsertSession(tenant, session, oneAttempt);
    TaskRequest r = download("http://127.0.0.1/x");
    TaskRow t =
        ledger
            .submissions()
            .submit(tenant, session, r, oneAttempt.withDefaults(), null, null)
            .task();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger
        .leases()
        .failAttempt(
            Lease.of(t.id(), e), TaskError.of(ErrorCodes.STALLED, "quiet", true), Duration.ZERO);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
    assertThat(failed.error().message()).contains(ErrorCodes.STALLED);
  }

  @Test
  void anExpiredLeaseWithNoAttemptLeftFailsTheTaskAndIsCountedAsFailed() {
    SessionConfig oneAttempt = oneAttempt();
    ledger.sessions().upsertSession(tenant, session, oneAttempt);
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                download("http://127.0.0.1/x"),
                oneAttempt.withDefaults(),
                null,
                null)
            .task();
    TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow();
    clock.advance(Duration.ofSeconds(31));
    Reaping.LeasesReaped reaped = ledger.reaping().reapExpiredLeases(1000);
    // Other tests' tasks in this database may be reaped too; this one has no attempt left.
    assertThat(reaped.failed()).isGreaterThanOrEqualTo(1);
    assertThat(reaped.total()).isEqualTo(reaped.requeued() + reaped.failed());
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.ATTEMPTS_EXHAUSTED);
  }

  @Test
  void queueStatsCountOpenTasksByStateAndTheOutbox() {
    QueueStatistics.QueueStats before = ledger.queueStatistics().queueStats();
    TaskRow queued = submit();
    TaskRow running = submit();
    TestClaims.claim(ledger, running.id(), "w1", Duration.ofSeconds(30)).orElseThrow();

    QueueStatistics.QueueStats after = ledger.queueStatistics().queueStats();
    // Tests of this JVM run one after another: nothing else changes the queue meanwhile.
    assertThat(after.tasks().get(TaskState.QUEUED))
        .isEqualTo(before.tasks().getOrDefault(TaskState.QUEUED, 0L) + 1);
    assertThat(after.tasks().get(TaskState.RUNNING))
        .isEqualTo(before.tasks().getOrDefault(TaskState.RUNNING, 0L) + 1);
    assertThat(after.tasks()).doesNotContainKeys(TaskState.COMPLETED, TaskState.FAILED);
    assertThat(after.oldest().get(TaskState.QUEUED)).isBeforeOrEqualTo(queued.updatedAt());
    // Each submit wrote its doorbell to the outbox, and no relay runs here.
    assertThat(after.outboxRows()).isGreaterThanOrEqualTo(before.outboxRows() + 2);
    assertThat(after.oldestOutbox()).isNotNull();
  }

  @Test
  void aHandedBackTaskIsQueuedAtOnceWithoutSpendingAnAttempt() throws Exception {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    assertThat(
            ledger
                .leases()
                .release(Lease.of(t.id(), e), new Leases.Checkpoint(7, e, "\"v1\"", null)))
        .isTrue();
    TaskRow back = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(back.state()).isEqualTo(TaskState.QUEUED);
    assertThat(back.attempt()).isZero();
    assertThat(back.leaseOwner()).isNull();
    assertThat(back.bytesDurable()).isEqualTo(7);
    assertThat(back.durableEpoch()).isEqualTo(e);
    assertThat(back.etag()).isEqualTo("\"v1\"");
    assertThat(TestClaims.claim(ledger, t.id(), "w2", Duration.ofSeconds(30))).isPresent();
  }

  @Test
  void anUnclaimedQueuedTaskIsAnnouncedAgain() throws Exception {
    TaskRow t = submit();
    clock.advance(Duration.ofMinutes(2));
    long before = outboxKeys("transfer-tasks").stream().filter(t.id()::equals).count();
    assertThat(ledger.reaping().reannounceStale(Duration.ofSeconds(60), 1000))
        .isGreaterThanOrEqualTo(1);
    long after = outboxKeys("transfer-tasks").stream().filter(t.id()::equals).count();
    assertThat(after).isEqualTo(before + 1);
  }

  @Test
  void aCheckpointIsRecordedWithItsEpochAndValidators() {
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger
        .leases()
        .heartbeat(
            Lease.of(t.id(), e),
            Duration.ofSeconds(30),
            new Leases.Heartbeat(
                100,
                new Leases.Checkpoint(64, e, "\"a\"", "Tue, 01 Jan 2030 00:00:00 GMT"),
                200L,
                true,
                100));
    TaskRow row = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(row.bytesDurable()).isEqualTo(64);
    assertThat(row.durableEpoch()).isEqualTo(e);
    assertThat(row.etag()).isEqualTo("\"a\"");
    // A heartbeat without a checkpoint keeps the last one.
    ledger
        .leases()
        .heartbeat(
            Lease.of(t.id(), e),
            Duration.ofSeconds(30),
            new Leases.Heartbeat(150, null, 200L, false, 0));
    assertThat(ledger.taskControl().task(tenant, session, t.id()).orElseThrow().bytesDurable())
        .isEqualTo(64);
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
  void aTaskPastItsResourceTimeoutFailsAndFencesItsWorker() {
    SessionConfig shortLived =
        new SessionConfig(null, null, null, Duration.ofMinutes(1), null, null, null, null);
    ledger.sessions().upsertSession(tenant, session, shortLived);
    TaskRequest r = download("http://127.0.0.1/x");
    TaskRow t =
        ledger
            .submissions()
            .submit(tenant, session, r, shortLived.withDefaults(), null, null)
            .task();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofMinutes(5)).orElseThrow().epoch();
    clock.advance(Duration.ofSeconds(61));
    assertThat(ledger.reaping().failOverdue(1000)).isGreaterThanOrEqualTo(1);
    TaskRow failed = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(failed.state()).isEqualTo(TaskState.FAILED);
    assertThat(failed.error().code()).isEqualTo(ErrorCodes.RESOURCE_TIMEOUT);
    assertThat(heartbeat(t.id(), e)).isFalse();
  }

  @Test
  void theDatabaseRefusesARunningTaskWithoutALease() throws Exception {
    TaskRow t = submit();
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement("update tasks set state = 'running' where id = ?")) {
      ps.setString(1, t.id());
      org.assertj.core.api.Assertions.assertThatThrownBy(ps::executeUpdate)
          .hasMessageContaining("running_has_lease");
    }
  }

  @Test
  void theDatabaseEnforcesExactlyTheTransitionTableOfTaskState() throws Exception {
    java.util.Set<String> inDatabase = new java.util.HashSet<>();
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement("select from_state, to_state from task_transitions");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        inDatabase.add(rs.getString(1) + ">" + rs.getString(2));
      }
    }
    java.util.Set<String> inJava = new java.util.HashSet<>();
    for (TaskState from : TaskState.values()) {
      for (TaskState to : TaskState.values()) {
        if (from.canMoveTo(to)) {
          inJava.add(from.wire() + ">" + to.wire());
        }
      }
    }
    assertThat(inDatabase).isEqualTo(inJava);

    // And the trigger applies it: a completed task cannot be queued again.
    TaskRow t = submit();
    long e = TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///x", 1, "00", 1);
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement("update tasks set state = 'queued' where id = ?")) {
      ps.setString(1, t.id());
      org.assertj.core.api.Assertions.assertThatThrownBy(ps::executeUpdate)
          .hasMessageContaining("no transition from completed to queued");
    }
  }

  private static TaskRequest download(String url) {
    return TaskRequest.download(url);
  }

  private boolean heartbeat(String id, long epoch) {
    return ledger
        .leases()
        .heartbeat(
            Lease.of(id, epoch),
            Duration.ofSeconds(30),
            new Leases.Heartbeat(1, null, null, false, 0));
  }

  private TaskState state(TaskRow t) {
    return ledger.taskControl().task(tenant, session, t.id()).orElseThrow().state();
  }

  private List<String> outboxKeys(String topic) throws Exception {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("select msg_key from outbox where topic = ?")) {
      ps.setString(1, topic);
      try (ResultSet rs = ps.executeQuery()) {
        List<String> out = new java.util.ArrayList<>();
        while (rs.next()) {
          out.add(rs.getString(1));
        }
        return out;
      }
    }
  }

  /** A clock the test moves by hand: leases and backoff without sleeping. */
  static final class SettableClock extends Clock {
    private volatile Instant now;

    SettableClock(Instant start) {
      now = start;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** The session's stored events, once the sequencer (the relay's job in a cluster) has run. */
  private List<com.fasterxml.jackson.databind.JsonNode> numberedEvents(
      String tenantId, String sessionId, long after, int limit) {
    ledger.eventSequencer().sequenceEvents(100_000);
    return ledger.eventReplay().events(tenantId, sessionId, after, limit);
  }

  /** A session whose tasks get a single attempt. */
  static SessionConfig oneAttempt() {
    return new SessionConfig(
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        new transfer.contracts.RetryPolicy(1, null, null));
  }
}
