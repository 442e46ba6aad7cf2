package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.contracts.Metric;
import transfer.contracts.TaskError;
import transfer.ledger.Lease;
import transfer.ledger.LeaseWrite;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.ledger.LedgerException;
import transfer.storage.StoredFiles;
import transfer.worker.WorkerMetrics;

/**
 * The worker's group commit on a ledger the test plays: a write of an idle writer goes at once,
 * writes that stream in are grouped per window (or at once when a group is full), a task's writes
 * go in successive groups in call order, a failed group is written again task by task, the moved
 * downloads' directories are synced once per group before its commit, answers come back on the
 * caller's context, and a close flushes the queue.
 */
class GroupCommitTest {
  private static Vertx vertx;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** The ledger as the test plays it: each group recorded, every write answered true. */
  static final class FakeLedger implements GroupCommit.Ledger {
    final List<List<LeaseWrite<?>>> groups = new CopyOnWriteArrayList<>();
    final List<LeaseWrite<?>> alone = new CopyOnWriteArrayList<>();
    final List<String> order = new CopyOnWriteArrayList<>();
    volatile Function<List<LeaseWrite<?>>, RuntimeException> groupFails = g -> null;
    volatile Function<LeaseWrite<?>, RuntimeException> writeFails = w -> null;

    @Override
    public List<Object> writeAll(List<LeaseWrite<?>> group) {
      groups.add(group);
      order.add("commit " + group.size());
      RuntimeException e = groupFails.apply(group);
      if (e != null) {
        throw e;
      }
      List<Object> out = new ArrayList<>();
      for (LeaseWrite<?> w : group) {
        out.add(w instanceof LeaseWrite.Fail ? FailOutcome.RETRY_SCHEDULED : true);
      }
      return out;
    }

    @Override
    public <A> A writeOne(LeaseWrite<A> write) {
      alone.add(write);
      RuntimeException e = writeFails.apply(write);
      if (e != null) {
        throw e;
      }
      @SuppressWarnings("unchecked")
      A a = (A) (write instanceof LeaseWrite.Fail ? FailOutcome.RETRY_SCHEDULED : Boolean.TRUE);
      return a;
    }
  }

  private final FakeLedger ledger = new FakeLedger();
  private final List<Path> synced = Collections.synchronizedList(new ArrayList<>());
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private GroupCommit writer;

  private GroupCommit writer(Duration window, int max) {
    return writer(window, max, dir -> synced.add(dir));
  }

  private GroupCommit writer(Duration window, int max, GroupCommit.DirectorySync sync) {
    writer =
        new GroupCommit(
            ledger,
            dir -> {
              sync.sync(dir);
              ledger.order.add("sync " + dir);
            },
            vertx,
            new WorkerMetrics(registry),
            new GroupCommit.Settings(window, max));
    return writer;
  }

  @AfterEach
  void close() throws Exception {
    if (writer != null) {
      writer.close();
    }
  }

  private static Lease lease(String task) {
    return Lease.of(task, 1);
  }

  private static Leases.Heartbeat beat() {
    return new Leases.Heartbeat(1, null, null, false, 0);
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void aWriteOfAnIdleWriterGoesAtOnceAndWritesThatStreamInShareTheNextGroup() throws Exception {
    GroupCommit w = writer(Duration.ofSeconds(3), 500);
    long start = System.nanoTime();
    assertThat(get(w.heartbeat(lease("a"), Duration.ofSeconds(30), beat()))).isTrue();
    assertThat(System.nanoTime() - start)
        .as("a lone write does not wait for the window")
        .isLessThan(TimeUnit.MILLISECONDS.toNanos(1500));

    // The writer just flushed: the next writes wait for the window and go in one group.
    List<Future<Boolean>> next = new ArrayList<>();
    for (String t : List.of("b", "c", "d")) {
      next.add(w.heartbeat(lease(t), Duration.ofSeconds(30), beat()));
    }
    for (Future<Boolean> f : next) {
      assertThat(get(f)).isTrue();
    }
    assertThat(ledger.groups).hasSize(2);
    assertThat(ledger.groups.get(1))
        .extracting(x -> x.lease().taskId())
        .containsExactly("b", "c", "d");
    // A group's figures are recorded once its callers have their answers: the second group's may
    // come a moment after the last future completed.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(registry.find(Metric.WORKER_LEDGER_GROUP.meterName()).summary().count())
                  .isEqualTo(2);
              assertThat(
                      registry.find(Metric.WORKER_LEDGER_GROUP.meterName()).summary().totalAmount())
                  .isEqualTo(4);
              assertThat(registry.find(Metric.WORKER_LEDGER_FLUSH.meterName()).timer().count())
                  .isEqualTo(2);
            });
  }

  @Test
  void aFullGroupGoesWithoutWaitingForTheWindow() throws Exception {
    GroupCommit w = writer(Duration.ofSeconds(30), 3);
    get(w.heartbeat(lease("first"), Duration.ofSeconds(30), beat()));
    List<Future<Boolean>> next = new ArrayList<>();
    for (String t : List.of("a", "b", "c")) {
      next.add(w.heartbeat(lease(t), Duration.ofSeconds(30), beat()));
    }
    for (Future<Boolean> f : next) {
      assertThat(get(f)).isTrue();
    }
    assertThat(ledger.groups).hasSize(2);
    assertThat(ledger.groups.get(1)).hasSize(3);
  }

  @Test
  void aTasksWritesGoInSuccessiveGroupsInTheOrderMade() throws Exception {
    GroupCommit w = writer(Duration.ofMillis(50), 500);
    get(w.heartbeat(lease("warm-up"), Duration.ofSeconds(30), beat()));
    Future<Boolean> beat = w.heartbeat(lease("a"), Duration.ofSeconds(30), beat());
    Future<Boolean> other = w.heartbeat(lease("b"), Duration.ofSeconds(30), beat());
    Future<Boolean> done = w.completeUpload(lease("a"), 10, answer(201), 10, null, null);
    assertThat(get(beat)).isTrue();
    assertThat(get(other)).isTrue();
    assertThat(get(done)).isTrue();
    assertThat(ledger.groups).hasSize(3);
    assertThat(ledger.groups.get(1))
        .extracting(LeaseWrite::what)
        .containsExactly("heartbeat task a", "heartbeat task b");
    assertThat(ledger.groups.get(2))
        .extracting(LeaseWrite::what)
        .containsExactly("complete upload a");
  }

  @Test
  void aFailedGroupIsWrittenTaskByTaskSoOneBadRowFailsOnlyItsOwnCall() throws Exception {
    GroupCommit w = writer(Duration.ofMillis(100), 500);
    get(w.heartbeat(lease("warm-up"), Duration.ofSeconds(30), beat()));
    LedgerException bad = new LedgerException("ledger: cannot complete upload bad: no", null);
    ledger.groupFails =
        g ->
            g.size() > 1
                ? new LedgerException(
                    "ledger: cannot write the leases of 3 tasks: NUL",
                    new SQLException("invalid byte sequence", "22021"))
                : null;
    ledger.writeFails = x -> x.lease().taskId().equals("bad") ? bad : null;

    Future<Boolean> good = w.heartbeat(lease("good"), Duration.ofSeconds(30), beat());
    Future<Boolean> failing = w.completeUpload(lease("bad"), 1, answer(200), 1, null, null);
    Future<FailOutcome> failure =
        w.failAttempt(
            lease("retried"),
            TaskError.of("connection_failed", "reset", true),
            Duration.ZERO,
            null);

    assertThat(get(good)).isTrue();
    assertThat(get(failure)).isEqualTo(FailOutcome.RETRY_SCHEDULED);
    assertThat(failing.toCompletionStage().toCompletableFuture())
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCause(bad);
    assertThat(ledger.alone)
        .extracting(x -> x.lease().taskId())
        .containsExactly("good", "bad", "retried");
  }

  @Test
  void aGroupThatCannotReachTheDatabaseFailsEachCallAtOnceWithItsOwnMessage() throws Exception {
    GroupCommit w = writer(Duration.ofMillis(100), 500);
    get(w.heartbeat(lease("warm-up"), Duration.ofSeconds(30), beat()));
    ledger.groupFails =
        g ->
            new LedgerException(
                "ledger: cannot write the leases of 2 tasks: An I/O error occurred",
                new SQLException("An I/O error occurred", "08006"));

    Future<Boolean> a = w.heartbeat(lease("a"), Duration.ofSeconds(30), beat());
    Future<Boolean> b = w.completeUpload(lease("b"), 1, answer(200), 1, null, null);

    assertThat(a.toCompletionStage().toCompletableFuture())
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause()
        .isInstanceOf(LedgerException.class)
        .withMessage("ledger: cannot heartbeat task a: An I/O error occurred");
    assertThat(b.toCompletionStage().toCompletableFuture())
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause()
        .withMessage("ledger: cannot complete upload b: An I/O error occurred");
    assertThat(ledger.alone).as("no write alone: each would wait as long again").isEmpty();
  }

  @Test
  void theDirectoriesOfAGroupsDownloadsAreSyncedOnceBeforeItsCommit() throws Exception {
    Path session = Path.of("/store/t/s");
    Path other = Path.of("/store/t/other");
    IOException refused = new IOException("fsync refused");
    GroupCommit w =
        writer(
            Duration.ofMillis(100),
            500,
            dir -> {
              if (dir.equals(other)) {
                throw refused;
              }
              synced.add(dir);
            });
    get(w.heartbeat(lease("warm-up"), Duration.ofSeconds(30), beat()));
    List<Future<Boolean>> same = new ArrayList<>();
    for (String t : List.of("a", "b", "c")) {
      same.add(
          w.completeDownload(
              lease(t),
              new StoredFiles.Moved(session.resolve(t + ".e1"), List.of(session)).stored(),
              5,
              "ab",
              5,
              null,
              null,
              null));
    }
    Future<Boolean> lost =
        w.completeDownload(
            lease("d"),
            new StoredFiles.Moved(other.resolve("d.e1"), List.of(other)).stored(),
            5,
            "ab",
            5,
            null,
            null,
            null);
    for (Future<Boolean> f : same) {
      assertThat(get(f)).isTrue();
    }
    assertThat(lost.toCompletionStage().toCompletableFuture())
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCause(refused);
    assertThat(synced).containsExactly(session);
    assertThat(ledger.order).containsExactly("commit 1", "sync " + session, "commit 3");
    assertThat(ledger.groups.get(1))
        .extracting(x -> ((LeaseWrite.CompleteDownload) x).location())
        .containsExactly(
            new StoredFiles.Moved(session.resolve("a.e1"), List.of()).location(),
            new StoredFiles.Moved(session.resolve("b.e1"), List.of()).location(),
            new StoredFiles.Moved(session.resolve("c.e1"), List.of()).location());
  }

  @Test
  void eachAnswerComesBackOnTheCallersContext() throws Exception {
    GroupCommit w = writer(Duration.ofMillis(20), 500);
    Context context = vertx.getOrCreateContext();
    CompletableFuture<Boolean> onIt = new CompletableFuture<>();
    context.runOnContext(
        v ->
            w.release(lease("a"), null)
                .onComplete(ar -> onIt.complete(Vertx.currentContext() == context)));
    assertThat(onIt.get(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void closeFlushesTheQueuedWritesAndLaterOnesStillGoAlone() throws Exception {
    GroupCommit w = writer(Duration.ofSeconds(30), 500);
    get(w.heartbeat(lease("warm-up"), Duration.ofSeconds(30), beat()));
    Future<Boolean> queued = w.release(lease("a"), null);
    Future<Boolean> alsoQueued = w.release(lease("b"), null);
    assertThat(queued.isComplete()).isFalse();

    w.close(Duration.ofSeconds(10));
    assertThat(queued.isComplete()).isTrue();
    assertThat(alsoQueued.isComplete()).isTrue();
    assertThat(ledger.groups).hasSize(2);

    assertThat(get(w.release(lease("late"), null))).isTrue();
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> assertThat(ledger.alone).extracting(x -> x.lease().taskId()).contains("late"));
  }

  private static transfer.contracts.ReceivedResponse answer(int status) {
    return transfer.contracts.ReceivedResponse.ofUpload(status, List.of(), null, false);
  }
}
