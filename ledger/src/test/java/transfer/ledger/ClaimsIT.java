package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/**
 * The claim planner: priority and discretionary order, the session and host limits, the epoch a
 * claim bumps.
 */
class ClaimsIT extends LedgerFixture {
  ClaimsIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
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
  void aShortClaimForDoorbellsNamesTheTasksItPassedOverAtALimitAndNotThoseTakenAlready() {
    ledger.sessions().upsertSession(tenant, session, config(1, null, false));
    TaskRow first = submit(withPriority("http://a.test/1", 0.9));
    TaskRow second = submit(withPriority("http://b.test/2", 0.9));

    Claims.Claimed one = ledger.claims().claimFor("w1", TTL, 2, List.of(first.id(), second.id()));

    assertThat(one.claims()).extracting(c -> c.task().id()).containsExactly(first.id());
    assertThat(one.passedOver())
        .as("queued behind the session's limit; the claimed one is not passed over")
        .containsExactly(second.id());

    Claims.Claimed again = ledger.claims().claimFor("w2", TTL, 1, List.of(first.id()));
    assertThat(again.claims()).isEmpty();
    assertThat(again.passedOver()).as("a task taken already blocks nothing").isEmpty();
  }

  @Test
  void aClaimThatTakesAsManyAsItMayAsksNothingMore() {
    TaskRow t = submit(withPriority("http://a.test/1", 0.9));

    Claims.Claimed full = ledger.claims().claimFor("w1", TTL, 1, List.of(t.id(), "t-unknown"));

    assertThat(full.claims()).hasSize(1);
    assertThat(full.passedOver()).isEmpty();
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
    // The three of host A rank alike (one priority, one created_at: the fixture's clock stands
    // still), so which two run is the planner's choice; that only two do is the limit's.
    assertThat(claimed).hasSize(4).endsWith(otherHost.id(), otherPort.id());
    assertThat(claimed.subList(0, 2)).doesNotHaveDuplicates().allMatch(hostA::contains);
  }

  @Test
  void aQueueWhoseHeadIsAtItsLimitIsNotReadWholeToFindTheTaskBehindIt() throws Exception {
    ledger.sessions().upsertSession(tenant, session, config(null, 1, false));
    SessionConfig cfg =
        ledger.sessions().session(tenant, session).orElseThrow().config().withDefaults();
    for (int batch = 0; batch < 2; batch++) {
      List<TaskRequest> requests = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        requests.add(withPriority("http://a.test/" + batch + "/" + i, 0.9));
      }
      ledger.submissions().submitBatch(tenant, session, requests, cfg, null, null);
    }
    assertThat(ledger.claims().claimNext("w1", TTL)).as("a.test's only slot").isPresent();
    String other = "other-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, other, SessionConfig.DEFAULT);
    TaskRow behind = submitIn(other, withPriority("http://b.test/x", 0.1));
    db.analyzeTasks();

    long rows =
        PlanRows.rowsRead(
            db.dataSource(),
            new ClaimStatements(ClaimStatements.DEFAULT_MAX_CONNECTIONS_PER_ORIGIN)
                .candidatesSql(8),
            "tasks");
    assertThat(ledger.claims().claimNext("w2", TTL))
        .as("the best claimable task ranks behind 1,999 at their host's limit")
        .map(c -> c.task().id())
        .contains(behind.id());
    // Reading the queue in rank order meets the 1,999 first; the walk over the queued groups reads
    // the head of the queue, one index entry per group, and the best few of a group not at a limit.
    assertThat(rows).as("task rows (index entries) the candidate query read").isLessThan(200);
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
}
