package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.contracts.TaskState;
import transfer.ledger.LeaseWrite.CompleteDownload;
import transfer.ledger.LeaseWrite.Fail;
import transfer.ledger.LeaseWrite.Release;
import transfer.ledger.LeaseWrite.Renew;
import transfer.ledger.Leases.FailOutcome;

/**
 * The writes of many leases in one transaction: each answered on its own (the fenced ones false),
 * every kind in one group, the whole group rolled back by one bad row, and writers that share rows
 * never deadlocking.
 */
class LeaseBatchIT extends LedgerFixture {
  LeaseBatchIT() {
    super("2026-01-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    db.parkQueuedTasks();
  }

  private Lease claimed(TaskRow t) {
    return TestClaims.claim(ledger, t.id(), "w1", TTL).orElseThrow().lease();
  }

  private static Renew renew(Lease l, long bytes) {
    return new Renew(l, TTL, new Leases.Heartbeat(bytes, null, null, false, 0));
  }

  private static CompleteDownload completion(Lease l, String location) {
    return new CompleteDownload(l, location, 5, "ab", 5, null);
  }

  /**
   * A heartbeat writes no indexed column of the task row (V12), so PostgreSQL updates the row in
   * its page without an entry in any index (a HOT update), counted in the heartbeat's own
   * transaction.
   */
  @Test
  void aHeartbeatIsAnUpdateWithoutIndexEntries() {
    Lease a = claimed(submit());
    clock.advance(Duration.ofSeconds(5)); // the renewal moves the lease's expiry
    long[] updates =
        ledger
            .tx()
            .run(
                "renew and count",
                c -> {
                  assertThat(ledger.leaseBatch().writeIn(c, List.of(renew(a, 7))))
                      .containsExactly(true);
                  try (PreparedStatement ps =
                          c.prepareStatement(
                              "select pg_stat_get_xact_tuples_updated('tasks'::regclass),"
                                  + " pg_stat_get_xact_tuples_hot_updated('tasks'::regclass)");
                      ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new long[] {rs.getLong(1), rs.getLong(2)};
                  }
                });
    assertThat(updates).as("task rows updated, and of them HOT").containsExactly(1, 1);
    assertThat(task(a.taskId()).bytesTransferred()).isEqualTo(7);
    assertThat(task(a.taskId()).leaseExpiresAt()).isEqualTo(clock.instant().plus(TTL));
  }

  @Test
  void eachWriteIsAnsweredAndTheFencedOnesChangeNothing() {
    Lease a = claimed(submit());
    Lease b = claimed(submit());
    Lease c = claimed(submit());
    // b is taken over: the reaper-free way, a cancel clears its lease.
    assertThat(ledger.taskControl().cancel(tenant, session, b.taskId(), false)).isPresent();

    List<Object> answers =
        ledger
            .leaseBatch()
            .writeAll(
                List.of(
                    completion(a, "file:///a"),
                    completion(b, "file:///b"),
                    completion(Lease.of(c.taskId(), c.epoch() + 1), "file:///c")));

    assertThat(answers).containsExactly(true, false, false);
    assertThat(task(a.taskId()).state()).isEqualTo(TaskState.COMPLETED);
    assertThat(task(a.taskId()).location()).isEqualTo("file:///a");
    assertThat(task(b.taskId()).state()).isEqualTo(TaskState.CANCELED);
    assertThat(task(c.taskId()).state()).isEqualTo(TaskState.RUNNING);
    assertThat(task(c.taskId()).location()).isNull();
    List<String> completed = new ArrayList<>();
    for (JsonNode e : numberedEvents(tenant, session, 0, 100)) {
      if (e.get("type").asText().equals("transfer.task.completed")) {
        completed.add(e.get("id").asText());
      }
    }
    // a's completion, and b's cancel's; nothing of the fenced writes.
    assertThat(completed)
        .containsExactlyInAnyOrder(a.taskId() + ":completed", b.taskId() + ":completed");
  }

  @Test
  void everyKindInOneGroupIsWrittenAsEachAloneWouldBe() throws Exception {
    Lease beat = claimed(submit());
    Lease done = claimed(submit());
    Lease retried = claimed(submit());
    Lease back = claimed(submit());
    clearOutbox();

    List<Object> answers =
        ledger
            .leaseBatch()
            .writeAll(
                List.of(
                    new Renew(
                        beat,
                        TTL,
                        new Leases.Heartbeat(
                            100,
                            new Leases.Checkpoint(64, beat.epoch(), "\"e\"", null),
                            400L,
                            true,
                            100)),
                    completion(done, "file:///done"),
                    new Fail(
                        retried,
                        TaskError.of(ErrorCodes.CONNECTION_FAILED, "reset", true),
                        Duration.ofSeconds(10),
                        null),
                    new Release(back, null)));

    assertThat(answers).containsExactly(true, true, FailOutcome.RETRY_SCHEDULED, true);
    TaskRow b = task(beat.taskId());
    assertThat(b.state()).isEqualTo(TaskState.RUNNING);
    assertThat(b.bytesTransferred()).isEqualTo(100);
    assertThat(b.bytesDurable()).isEqualTo(64);
    assertThat(b.etag()).isEqualTo("\"e\"");
    assertThat(b.bytesExpected()).isEqualTo(400);
    assertThat(b.leaseExpiresAt()).isEqualTo(clock.instant().plus(TTL));
    assertThat(task(done.taskId()).state()).isEqualTo(TaskState.COMPLETED);
    assertThat(task(retried.taskId()).state()).isEqualTo(TaskState.WAITING);
    TaskRow r = task(back.taskId());
    assertThat(r.state()).isEqualTo(TaskState.QUEUED);
    assertThat(r.attempt()).isZero();
    // The hand-back's doorbell, and the retry's for the next queued task of the session.
    assertThat(outboxKeys("transfer-tasks")).contains(back.taskId());

    List<String> types = new ArrayList<>();
    for (JsonNode e : numberedEvents(tenant, session, 0, 100)) {
      types.add(e.get("data").get("taskId").asText() + " " + e.get("type").asText());
    }
    assertThat(types)
        .containsExactlyInAnyOrder(
            beat.taskId() + " transfer.task.progress",
            done.taskId() + " transfer.task.progress",
            done.taskId() + " transfer.task.downloaded",
            done.taskId() + " transfer.task.completed");
    assertThat(types)
        .containsSubsequence(
            done.taskId() + " transfer.task.progress",
            done.taskId() + " transfer.task.downloaded",
            done.taskId() + " transfer.task.completed");
  }

  @Test
  void aBadRowRollsTheGroupBackAndAloneFailsOnlyItself() {
    Lease good = claimed(submit());
    Lease bad = claimed(submit());
    // PostgreSQL takes no NUL in text: the statement of the whole group fails.
    List<CompleteDownload> group =
        List.of(completion(good, "file:///good"), completion(bad, "file:///bad\u0000"));

    assertThatThrownBy(() -> ledger.leaseBatch().writeAll(group))
        .isInstanceOf(LedgerException.class)
        .hasMessageContaining("ledger: cannot write the leases of 2 tasks");
    assertThat(task(good.taskId()).state()).isEqualTo(TaskState.RUNNING);
    assertThat(task(bad.taskId()).state()).isEqualTo(TaskState.RUNNING);

    assertThat(ledger.leaseBatch().writeOne(group.get(0))).isTrue();
    assertThatThrownBy(() -> ledger.leaseBatch().writeOne(group.get(1)))
        .isInstanceOf(LedgerException.class)
        .hasMessageStartingWith("ledger: cannot complete task " + bad.taskId() + ": ");
    assertThat(task(good.taskId()).state()).isEqualTo(TaskState.COMPLETED);
    assertThat(task(bad.taskId()).state()).isEqualTo(TaskState.RUNNING);
  }

  @Test
  void twoWritesOfOneTaskAreRefusedInOneGroup() {
    Lease a = claimed(submit());
    assertThatThrownBy(() -> ledger.leaseBatch().writeAll(List.of(renew(a, 1), renew(a, 2))))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Two writers renewing the same rows, given in opposite orders, many times at once: each locks
   * them in id order, so neither ever waits for the other in a cycle (PostgreSQL would abort one
   * with "deadlock detected").
   */
  @Test
  void writersGivenTheSameRowsInOppositeOrdersNeverDeadlock() throws Exception {
    List<Lease> leases = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      leases.add(claimed(submit()));
    }
    List<Lease> reversed = new ArrayList<>(leases);
    Collections.reverse(reversed);
    runTogether(
        50,
        round -> leases.stream().<LeaseWrite<?>>map(l -> renew(l, round)).toList(),
        round -> reversed.stream().<LeaseWrite<?>>map(l -> renew(l, round)).toList());
  }

  /**
   * A group of two kinds whose rows interleave (renewals of the higher ids listed first, hand-backs
   * of the lower ones): it locks all its rows in id order before either kind's statement, so while
   * it waits for a row another transaction holds, it holds no row of a higher id. (Locked kind by
   * kind, it would hold every renewed row while it waits for a hand-back's: the cycle two such
   * writers deadlock in.)
   */
  @Test
  void aGroupOfTwoKindsLocksItsRowsInIdOrder() throws Exception {
    List<Lease> leases = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      leases.add(claimed(submit()));
    }
    leases.sort(Comparator.comparing(Lease::taskId));
    Lease held = leases.get(6);
    List<LeaseWrite<?>> group = new ArrayList<>();
    leases.subList(7, 12).forEach(l -> group.add(renew(l, 1)));
    leases.subList(0, 7).forEach(l -> group.add(new Release(l, null)));

    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (Connection blocker = db.dataSource().getConnection()) {
      blocker.setAutoCommit(false);
      try (PreparedStatement ps =
          blocker.prepareStatement("select id from tasks where id = ? for update")) {
        ps.setString(1, held.taskId());
        ps.executeQuery().close();
      }
      Future<List<Object>> written = pool.submit(() -> ledger.leaseBatch().writeAll(group));
      awaitWaitingForALock();

      List<String> lockedByTheGroup = new ArrayList<>();
      for (Lease l : leases) {
        if (l != held && rowLocked(l.taskId())) {
          lockedByTheGroup.add(l.taskId());
        }
      }
      assertThat(lockedByTheGroup)
          .as("the rows the group holds while it waits for %s", held.taskId())
          .containsExactlyElementsOf(leases.subList(0, 6).stream().map(Lease::taskId).toList());

      blocker.rollback();
      assertThat(written.get(30, TimeUnit.SECONDS)).containsOnly(true);
    } finally {
      pool.shutdownNow();
    }
  }

  /** True when another transaction holds a lock on the row (a shared lock cannot be had). */
  private static boolean rowLocked(String id) throws Exception {
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps =
          c.prepareStatement("select id from tasks where id = ? for share skip locked")) {
        ps.setString(1, id);
        try (ResultSet rs = ps.executeQuery()) {
          boolean free = rs.next();
          c.rollback();
          return !free;
        }
      }
    }
  }

  /** Waits until some transaction waits for another's lock (the group, for the held row). */
  private static void awaitWaitingForALock() throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until) {
      try (Connection c = db.dataSource().getConnection();
          PreparedStatement ps =
              c.prepareStatement(
                  "select count(*) from pg_locks where not granted and locktype = 'transactionid'");
          ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (rs.getLong(1) > 0) {
          return;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("the group never waited for the locked row");
  }

  private interface Round {
    List<LeaseWrite<?>> writes(int round);
  }

  /** Runs {@code rounds} rounds, the two writers' groups of each at once; none may fail. */
  private void runTogether(int rounds, Round one, Round other) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int r = 0; r < rounds; r++) {
        CyclicBarrier start = new CyclicBarrier(2);
        int round = r;
        Future<List<Object>> a =
            pool.submit(
                () -> {
                  start.await();
                  return ledger.leaseBatch().writeAll(one.writes(round));
                });
        Future<List<Object>> b =
            pool.submit(
                () -> {
                  start.await();
                  return ledger.leaseBatch().writeAll(other.writes(round));
                });
        a.get(30, TimeUnit.SECONDS);
        b.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
