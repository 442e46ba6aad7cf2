package transfer.worker.attempt;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jboss.logging.Logger;
import transfer.contracts.ReceivedResponse;
import transfer.contracts.TaskError;
import transfer.contracts.TaskMetrics;
import transfer.ledger.Lease;
import transfer.ledger.LeaseBatch;
import transfer.ledger.LeaseWrite;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;
import transfer.ledger.LedgerException;
import transfer.storage.Stored;
import transfer.worker.WorkerMetrics;

/**
 * The worker's one ledger writer: the lease writes of all its attempts (heartbeats, completions,
 * failures, hand-backs) are queued and committed in groups by one flusher thread, one group at a
 * time, each group one transaction of {@link LeaseBatch} (a statement per kind of write, one
 * commit). A write that finds the writer idle (no group began within the window) goes at once;
 * while writes stream in, a group begins at most once per window ({@code
 * transfer.worker.ledger.batch-window}) and takes everything queued, up to {@code batch-max}
 * writes, so a lone write waits at most the window. Each call's future completes on the caller's
 * context with its own answer.
 *
 * <p>A group holds at most one write of a task; a later write of the same task waits for the next
 * group, so a task's writes commit in the order they were made. The directories of the group's
 * downloads (moved to their final names) are synced before its commit, each once. A group the
 * database refuses (a bad row, a constraint, a deadlock) is written again task by task, each in a
 * transaction of its own, so one bad row fails only its own call, with the error that write alone
 * gets; a group that cannot reach the database fails each call at once with its own message, since
 * each write alone would wait as long again. {@link #close} flushes what is queued.
 */
final class GroupCommit implements LeaseWriter, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(GroupCommit.class);

  /** Where the groups are written: {@link LeaseBatch} in the worker, a fake in a unit test. */
  interface Ledger {
    /** One transaction for the group; its answers in order ({@link LeaseBatch#writeAll}). */
    List<Object> writeAll(List<LeaseWrite<?>> group);

    /** One write in a transaction of its own ({@link LeaseBatch#writeOne}). */
    <A> A writeOne(LeaseWrite<A> write);

    static Ledger of(LeaseBatch batch) {
      return new Ledger() {
        @Override
        public List<Object> writeAll(List<LeaseWrite<?>> group) {
          return batch.writeAll(group);
        }

        @Override
        public <A> A writeOne(LeaseWrite<A> write) {
          return batch.writeOne(write);
        }
      };
    }
  }

  /** Syncs a directory, so that the names moved into it survive a crash. */
  @FunctionalInterface
  interface DirectorySync {
    void sync(Path dir) throws IOException;
  }

  /**
   * @param window how long a group stays open for more writes while writes stream in
   * @param maxGroup the most writes in one group
   */
  record Settings(Duration window, int maxGroup) {}

  /** A queued write: the directories to sync first, and whom to answer where. */
  private record Pending<A>(
      LeaseWrite<A> write, List<Path> directories, Context context, Promise<A> promise) {
    void answer(Object answer) {
      A a = LeaseBatch.cast(write, answer);
      on(() -> promise.complete(a));
    }

    void fail(Throwable cause) {
      on(() -> promise.fail(cause));
    }

    private void on(Runnable r) {
      if (context != null) {
        context.runOnContext(v -> r.run());
      } else {
        r.run();
      }
    }
  }

  private final Ledger ledger;
  private final DirectorySync directories;
  private final Vertx vertx;
  private final WorkerMetrics metrics;
  private final long windowNanos;
  private final int maxGroup;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Pending<?>> queue = new ArrayDeque<>(); // guarded by lock
  private boolean closed; // guarded by lock
  private final Thread flusher;

  /** When the last group began; read and written by the flusher only. */
  private long lastGroupAt;

  GroupCommit(
      Ledger ledger,
      DirectorySync directories,
      Vertx vertx,
      WorkerMetrics metrics,
      Settings settings) {
    this.ledger = ledger;
    this.directories = directories;
    this.vertx = vertx;
    this.metrics = metrics;
    this.windowNanos = Math.max(0, settings.window().toNanos());
    this.maxGroup = Math.max(1, settings.maxGroup());
    this.lastGroupAt = System.nanoTime() - windowNanos;
    this.flusher = new Thread(this::run, "transfer-ledger-writer");
    flusher.setDaemon(true);
    flusher.start();
  }

  // ------------------------------------------------------------ LeaseWriter

  @Override
  public Future<Boolean> heartbeat(Lease lease, Duration ttl, Leases.Heartbeat heartbeat) {
    return submit(new LeaseWrite.Renew(lease, ttl, heartbeat), List.of());
  }

  @Override
  public Future<Boolean> completeDownload(
      Lease lease,
      Stored stored,
      long size,
      String sha256,
      long bytesSinceLastEvent,
      ReceivedResponse response,
      Long resumedAt,
      TaskMetrics metrics) {
    return submit(
        new LeaseWrite.CompleteDownload(
            lease,
            stored.location(),
            size,
            sha256,
            bytesSinceLastEvent,
            response,
            resumedAt,
            metrics),
        stored.directories());
  }

  @Override
  public Future<Boolean> completeUpload(
      Lease lease,
      long bytesSent,
      ReceivedResponse response,
      long bytesSinceLastEvent,
      Long resumedAt,
      TaskMetrics metrics) {
    return submit(
        new LeaseWrite.CompleteUpload(
            lease, bytesSent, response.status(), bytesSinceLastEvent, response, resumedAt, metrics),
        List.of());
  }

  @Override
  public Future<FailOutcome> failAttempt(
      Lease lease, TaskError error, Duration backoff, String waitReason) {
    return submit(new LeaseWrite.Fail(lease, error, backoff, waitReason), List.of());
  }

  @Override
  public Future<Boolean> release(Lease lease, Leases.Checkpoint checkpoint) {
    return submit(new LeaseWrite.Release(lease, checkpoint), List.of());
  }

  private <A> Future<A> submit(LeaseWrite<A> write, List<Path> toSync) {
    Pending<A> p = new Pending<>(write, toSync, Vertx.currentContext(), Promise.promise());
    lock.lock();
    try {
      if (!closed) {
        queue.add(p);
        changed.signal();
        return p.promise().future();
      }
    } finally {
      lock.unlock();
    }
    // After close (a late write of a stopping worker): alone, on a worker thread.
    return vertx.executeBlocking(
        () -> {
          for (Path d : toSync) {
            directories.sync(d);
          }
          return ledger.writeOne(write);
        },
        false);
  }

  /** Flushes every queued write, then stops the flusher (waits at most {@code timeout}). */
  void close(Duration timeout) throws InterruptedException {
    lock.lock();
    try {
      closed = true;
      changed.signal();
    } finally {
      lock.unlock();
    }
    flusher.join(Math.max(1, timeout.toMillis()));
    if (flusher.isAlive()) {
      LOG.warnf(
          "the ledger writer did not flush its queued writes within %s; their attempts' leases"
              + " expire and the reaper takes the tasks over",
          timeout);
    }
  }

  @Override
  public void close() throws InterruptedException {
    close(Duration.ofSeconds(30));
  }

  // ------------------------------------------------------------ the flusher

  private void run() {
    while (true) {
      List<Pending<?>> group;
      try {
        group = nextGroup();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (group == null) {
        return;
      }
      lastGroupAt = System.nanoTime();
      flush(group);
    }
  }

  /**
   * Waits for the next group: at once when the writer was idle for a window, when the queue holds a
   * full group, or when closing; else when the window since the last group began is over. Null once
   * closed and empty.
   */
  private List<Pending<?>> nextGroup() throws InterruptedException {
    lock.lock();
    try {
      while (true) {
        if (queue.isEmpty()) {
          if (closed) {
            return null;
          }
          changed.await();
          continue;
        }
        if (closed || queue.size() >= maxGroup) {
          break;
        }
        long wait = lastGroupAt + windowNanos - System.nanoTime();
        if (wait <= 0) {
          break;
        }
        changed.awaitNanos(wait);
      }
      // In queue order, at most one write per task: a task's next write waits for the next group.
      List<Pending<?>> group = new ArrayList<>();
      Set<String> tasks = new HashSet<>();
      for (Iterator<Pending<?>> it = queue.iterator(); it.hasNext() && group.size() < maxGroup; ) {
        Pending<?> p = it.next();
        if (tasks.add(p.write().lease().taskId())) {
          group.add(p);
          it.remove();
        }
      }
      return group;
    } finally {
      lock.unlock();
    }
  }

  private void flush(List<Pending<?>> group) {
    long start = System.nanoTime();
    try {
      List<Pending<?>> ready = syncDirectories(group);
      if (!ready.isEmpty()) {
        write(ready);
      }
    } catch (Throwable e) {
      // Never leave a caller without an answer, nor the flusher dead.
      for (Pending<?> p : group) {
        p.fail(e);
      }
      LOG.errorf(e, "the ledger writer failed a group of %d writes", group.size());
    } finally {
      metrics.ledgerGroup(group.size(), System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
  }

  /**
   * Syncs each directory the group's downloads were moved into, once; a download whose directory
   * cannot be synced fails (its completion is not written) and the rest go on. The writes that may
   * be written.
   */
  private List<Pending<?>> syncDirectories(List<Pending<?>> group) {
    Set<Path> synced = new HashSet<>();
    Map<Path, IOException> failed = new HashMap<>();
    List<Pending<?>> ready = new ArrayList<>(group.size());
    for (Pending<?> p : group) {
      IOException error = null;
      for (Path d : p.directories()) {
        if (synced.contains(d)) {
          continue;
        }
        error = failed.get(d);
        if (error == null) {
          try {
            directories.sync(d);
            synced.add(d);
          } catch (IOException e) {
            failed.put(d, e);
            error = e;
          }
        }
        if (error != null) {
          break;
        }
      }
      if (error == null) {
        ready.add(p);
      } else {
        p.fail(error);
      }
    }
    return ready;
  }

  /**
   * True when the database answered the group with an error of its rows or statements (a data
   * exception, a constraint, a deadlock: anything with an SQLSTATE but a connection's, class 08, or
   * an operator's intervention, 57P), which writing each task alone can narrow to its row.
   */
  static boolean rowsMayBeAtFault(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        return !state.startsWith("08") && !state.startsWith("57P");
      }
    }
    return false;
  }

  /** The message of the failure's cause (the driver's), without the group's own prefix. */
  private static String rootMessage(Throwable e) {
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    return String.valueOf(cause.getMessage());
  }

  /** The group in one transaction; if it fails, each write in one of its own. */
  private void write(List<Pending<?>> ready) {
    List<Object> answers;
    try {
      answers = ledger.writeAll(ready.stream().<LeaseWrite<?>>map(Pending::write).toList());
    } catch (RuntimeException e) {
      if (ready.size() == 1) {
        ready.get(0).fail(e);
        return;
      }
      if (!rowsMayBeAtFault(e)) {
        // The database could not be asked (a connection, a pool, a server going away): each write
        // alone would wait as long again, one after another. Each fails as it would alone.
        LOG.warnf(
            "ledger: cannot write a group of %d lease writes (%s); each attempt handles its write's"
                + " failure",
            ready.size(), e.getMessage());
        for (Pending<?> p : ready) {
          p.fail(
              new LedgerException(
                  "ledger: cannot " + p.write().what() + ": " + rootMessage(e), e.getCause()));
        }
        return;
      }
      LOG.warnf(
          "ledger: a group of %d lease writes failed (%s); writing each task on its own",
          ready.size(), e.getMessage());
      for (Pending<?> p : ready) {
        try {
          p.answer(ledger.writeOne(p.write()));
        } catch (RuntimeException alone) {
          p.fail(alone);
        }
      }
      return;
    }
    for (int i = 0; i < ready.size(); i++) {
      ready.get(i).answer(answers.get(i));
    }
  }
}
