package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskType;
import transfer.contracts.UploadSource;

/**
 * Submits sharing a transaction: each decided on its own (a refused one stores nothing and does not
 * fail the others, even one the database itself refuses), Idempotency-Keys answered within a group
 * and across racing groups, and concurrent single submits committed together by {@link
 * SubmitGroups}.
 */
class SubmitGroupsIT extends LedgerFixture {
  private static final Submit.Quota ROOMY = new Submit.Quota(1_000_000, Long.MAX_VALUE);

  SubmitGroupsIT() {
    super("2026-07-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    db.parkQueuedTasks();
  }

  private Submit one(String url, String key) {
    return Submit.one(tenant, session, download(url), key, null).withQuota(ROOMY);
  }

  private int stored() {
    return ledger.taskControl().tasks(tenant, session, null, null, 10_000).size();
  }

  /** A request the database refuses: text cannot hold a NUL character. */
  private static TaskRequest refusedByTheDatabase() {
    return new TaskRequest(
        TaskType.DOWNLOAD,
        "http://127.0.0.1:9/nul",
        null,
        null,
        null,
        null,
        "a description with \u0000 in it",
        null,
        null,
        null,
        null,
        null);
  }

  @Test
  void eachSubmitOfAGroupGetsItsOwnAnswerAndARefusedOneFailsNoOther() {
    String closed = "s-closed-" + session;
    ledger.sessions().upsertSession(tenant, closed, SessionConfig.DEFAULT);
    ledger.sessions().invalidateSession(tenant, closed, true);
    TaskRow keyed =
        ledger
            .submissions()
            .submit(tenant, session, download("http://127.0.0.1:9/k"), null, "k1", null)
            .task();
    List<Submit> group =
        List.of(
            one("http://127.0.0.1:9/1", null),
            Submit.one(tenant, closed, download("http://127.0.0.1:9/closed"), null, null),
            Submit.one(tenant, "s-none", download("http://127.0.0.1:9/none"), null, null),
            Submit.one(tenant, session, download("http://127.0.0.1:9/quota"), null, null)
                .withQuota(new Submit.Quota(1, Long.MAX_VALUE)),
            one("http://127.0.0.1:9/other-body", "k1"),
            one("http://127.0.0.1:9/k", "k1"),
            Submit.one(
                tenant,
                session,
                TaskRequest.upload("http://127.0.0.1:9/up", "PUT", UploadSource.ofObject("none")),
                null,
                null),
            one("http://127.0.0.1:9/2", null));
    List<Submit.Outcome> out = ledger.submissions().submitAll(group);

    assertThat(out.get(0).refusal()).isNull();
    assertThat(out.get(1).refusal())
        .isInstanceOfSatisfying(
            Sessions.SessionClosed.class,
            e -> assertThat(e.state()).isEqualTo(SessionState.FINISHING));
    assertThat(out.get(2).refusal())
        .isInstanceOfSatisfying(Sessions.SessionClosed.class, e -> assertThat(e.state()).isNull());
    assertThat(out.get(3).refusal())
        .isInstanceOfSatisfying(
            Submissions.QuotaReached.class,
            e -> assertThat(e.which()).isEqualTo(Submissions.QuotaReached.Which.TASKS_IN_FLIGHT));
    assertThat(out.get(4).refusal())
        .isInstanceOfSatisfying(
            Submissions.IdempotencyConflict.class,
            e -> assertThat(e.taskId()).isEqualTo(keyed.id()));
    assertThat(out.get(5).replayed()).isTrue();
    assertThat(out.get(5).tasks()).extracting(TaskRow::id).containsExactly(keyed.id());
    assertThat(out.get(6).refusal())
        .isInstanceOfSatisfying(
            Submissions.InvalidReference.class,
            e -> assertThat(e.field()).isEqualTo("source.object"));
    assertThat(out.get(7).refusal()).isNull();
    assertThat(stored()).isEqualTo(3);
    assertThat(out.get(0).tasks().get(0).url()).isEqualTo("http://127.0.0.1:9/1");
    assertThat(out.get(7).tasks().get(0).url()).isEqualTo("http://127.0.0.1:9/2");
  }

  @Test
  void aSubmitTheDatabaseRefusesFailsAloneAndTheOthersAreStored() throws Exception {
    clearOutbox();
    List<Submit.Outcome> out =
        ledger
            .submissions()
            .submitAll(
                List.of(
                    one("http://127.0.0.1:9/a", null),
                    Submit.one(tenant, session, refusedByTheDatabase(), null, null),
                    one("http://127.0.0.1:9/b", "kb")));
    assertThat(out.get(0).refusal()).isNull();
    assertThat(out.get(1).refusal()).isInstanceOf(LedgerException.class);
    assertThat(out.get(2).refusal()).isNull();
    assertThat(stored()).isEqualTo(2);
    assertThat(outboxKeys("transfer-tasks"))
        .containsExactlyInAnyOrder(out.get(0).tasks().get(0).id(), out.get(2).tasks().get(0).id());
  }

  @Test
  void theSameKeyTwiceInAGroupIsOneTaskAndAnotherBodyConflicts() {
    List<Submit.Outcome> out =
        ledger
            .submissions()
            .submitAll(
                List.of(
                    one("http://127.0.0.1:9/same", "k"),
                    one("http://127.0.0.1:9/same", "k"),
                    one("http://127.0.0.1:9/different", "k")));
    String id = out.get(0).tasks().get(0).id();
    assertThat(out.get(0).replayed()).isFalse();
    assertThat(out.get(1).replayed()).isTrue();
    assertThat(out.get(1).tasks().get(0).id()).isEqualTo(id);
    assertThat(out.get(2).refusal())
        .isInstanceOfSatisfying(
            Submissions.IdempotencyConflict.class, e -> assertThat(e.taskId()).isEqualTo(id));
    assertThat(stored()).isEqualTo(1);
  }

  @Test
  void aBatchIsAllOrNoneInsideAGroupAndNamesItsBadTask() {
    List<Submit.Outcome> out =
        ledger
            .submissions()
            .submitAll(
                List.of(
                    Submit.batch(
                        tenant,
                        session,
                        List.of(
                            download("http://127.0.0.1:9/b0"),
                            TaskRequest.upload(
                                "http://127.0.0.1:9/up", "PUT", UploadSource.ofTask("nope"))),
                        null,
                        null),
                    one("http://127.0.0.1:9/after", null)));
    assertThat(out.get(0).refusal())
        .isInstanceOfSatisfying(
            Submissions.InvalidReference.class,
            e -> assertThat(e.field()).isEqualTo("tasks[1].source.task"));
    assertThat(out.get(1).tasks()).hasSize(1);
    assertThat(stored()).isEqualTo(1);
  }

  @Test
  void keyedSubmitsRacingInSeparateTransactionsAnswerOneTask() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      for (int round = 0; round < 10; round++) {
        String key = "race-" + round;
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Submit.Outcome>> racers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          racers.add(
              pool.submit(
                  () -> {
                    go.await();
                    return ledger
                        .submissions()
                        .submitAll(List.of(one("http://127.0.0.1:9/race", key)))
                        .get(0);
                  }));
        }
        go.countDown();
        List<String> ids = new ArrayList<>();
        int fresh = 0;
        for (Future<Submit.Outcome> f : racers) {
          Submit.Outcome o = f.get(30, TimeUnit.SECONDS);
          ids.add(o.tasksOrThrow().get(0).id());
          fresh += o.replayed() ? 0 : 1;
        }
        assertThat(ids).as("round %d", round).containsOnly(ids.get(0));
        assertThat(fresh).as("round %d", round).isEqualTo(1);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void concurrentSingleSubmitsShareACommit() throws Exception {
    List<Integer> groups = Collections.synchronizedList(new ArrayList<>());
    int callers = 16;
    Map<String, Submit.Outcome> outcomes = new ConcurrentHashMap<>();
    try (SubmitGroups grouped =
        new SubmitGroups(ledger.submissions(), Duration.ofMillis(200), 500, 1, groups::add)) {
      ExecutorService pool = Executors.newFixedThreadPool(callers);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> calls = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        String url = "http://127.0.0.1:9/g" + i;
        // One of them is refused (a closed session) and fails no other.
        Submit s =
            i == 7
                ? Submit.one(tenant, "s-missing", download(url), null, null)
                : one(url, i % 3 == 0 ? "gk" + i : null);
        calls.add(
            pool.submit(
                () -> {
                  go.await();
                  outcomes.put(url, grouped.submit(s));
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> f : calls) {
        f.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();
    }
    assertThat(groups.stream().mapToInt(Integer::intValue).sum()).isEqualTo(callers);
    // All 16 arrived within the 200 ms window of the first: far fewer commits than submits.
    assertThat(groups.size()).isLessThanOrEqualTo(3);
    assertThat(outcomes).hasSize(callers);
    outcomes.forEach(
        (url, o) -> {
          if (url.endsWith("/g7")) {
            assertThat(o.refusal()).isInstanceOf(Sessions.SessionClosed.class);
          } else {
            assertThat(o.tasksOrThrow().get(0).url()).isEqualTo(url);
          }
        });
    assertThat(stored()).isEqualTo(callers - 1);
  }
}
