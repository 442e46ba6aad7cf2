package transfer.ledger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.jboss.logging.Logger;

/**
 * Group commit of concurrent submits: a caller hands its submit over and waits; committer threads
 * take every submit waiting at that moment (up to {@code maxGroup}) and write them in one
 * transaction and one commit ({@link Submissions#submitAll}), then answer each caller its own
 * outcome. While one group commits, the next collects, so under load a group holds the submits that
 * arrived during one commit, and an idle service answers a lone submit without waiting. A {@code
 * window} above zero makes a committer wait that long after a group's first submit for more (fewer,
 * larger groups, each submit later by up to the window).
 *
 * <p>Only the committers hold connections: callers (the API's request threads) wait without one. A
 * caller's outcome is known only after its group's commit, so an accepted submit is durable when
 * answered.
 */
public final class SubmitGroups implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SubmitGroups.class);

  /** A submit handed over, and where its outcome goes. */
  private record Pending(Submit submit, long arrivedNanos, CompletableFuture<Submit.Outcome> out) {}

  private final Submissions submissions;
  private final long windowNanos;
  private final int maxGroup;
  private final IntConsumer groupSizes;
  private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final List<Thread> committers = new ArrayList<>();
  private volatile boolean closed;

  /**
   * Starts {@code committers} committer threads.
   *
   * @param window how long a committer waits after a group's first submit for more (zero: none)
   * @param maxGroup most submits in one transaction
   * @param groupSizes told the number of submits of each group committed (for a metric)
   */
  public SubmitGroups(
      Submissions submissions,
      Duration window,
      int maxGroup,
      int committers,
      IntConsumer groupSizes) {
    if (maxGroup < 1 || committers < 1 || window.isNegative()) {
      throw new IllegalArgumentException(
          "a submit group needs maxGroup >= 1, committers >= 1 and a window >= 0");
    }
    this.submissions = submissions;
    this.windowNanos = window.toNanos();
    this.maxGroup = maxGroup;
    this.groupSizes = groupSizes;
    for (int i = 0; i < committers; i++) {
      Thread t = new Thread(this::commitLoop, "submit-committer-" + i);
      t.setDaemon(true);
      this.committers.add(t);
      t.start();
    }
  }

  /**
   * Writes the submit in the next group's transaction and answers its outcome once that has
   * committed (or failed). After {@link #close()}, the submit is written in a transaction of its
   * own, in the caller's thread.
   */
  public Submit.Outcome submit(Submit submit) {
    if (closed) {
      return submissions.submitAll(List.of(submit)).get(0);
    }
    Pending p = new Pending(submit, System.nanoTime(), new CompletableFuture<>());
    queue.add(p);
    if (closed && queue.remove(p)) {
      // Closed meanwhile, and no committer took it: nobody else will.
      return submissions.submitAll(List.of(submit)).get(0);
    }
    try {
      return p.out().join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new LedgerException("ledger: cannot submit: " + e.getCause(), e.getCause());
    }
  }

  private void commitLoop() {
    List<Pending> group = new ArrayList<>(maxGroup);
    while (true) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (closed) {
            return;
          }
          continue;
        }
        group.add(first);
        collect(group, first.arrivedNanos());
        commit(group);
      } catch (InterruptedException e) {
        if (closed) {
          return;
        }
      } catch (Throwable t) {
        // Never leave a caller waiting: whatever failed, each hears of it.
        for (Pending p : group) {
          p.out().completeExceptionally(t);
        }
        LOG.errorf(
            t,
            "a group of %d submits could not be written; each caller was answered the failure",
            group.size());
      } finally {
        group.clear();
      }
    }
  }

  /** Adds what waits (up to maxGroup), after waiting out the window from the first's arrival. */
  private void collect(List<Pending> group, long firstArrived) throws InterruptedException {
    long deadline = firstArrived + windowNanos;
    while (group.size() < maxGroup) {
      long left = deadline - System.nanoTime();
      Pending next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
      if (next == null) {
        return;
      }
      group.add(next);
      queue.drainTo(group, maxGroup - group.size());
    }
  }

  private void commit(List<Pending> group) {
    List<Submit> submits = new ArrayList<>(group.size());
    for (Pending p : group) {
      submits.add(p.submit());
    }
    List<Submit.Outcome> outcomes = submissions.submitAll(submits);
    for (int i = 0; i < group.size(); i++) {
      group.get(i).out().complete(outcomes.get(i));
    }
    groupSizes.accept(group.size());
  }

  /**
   * Stops taking submits into groups: the committers write what waits and end; later submits are
   * written by their callers.
   */
  @Override
  public void close() {
    closed = true;
    for (Thread t : committers) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    // Whatever a committer left (it ended between a submit's add and its own check): written here.
    for (Pending p; (p = queue.poll()) != null; ) {
      p.out().complete(submissions.submitAll(List.of(p.submit())).get(0));
    }
  }
}
