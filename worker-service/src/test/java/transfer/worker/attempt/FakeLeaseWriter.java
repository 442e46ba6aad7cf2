package transfer.worker.attempt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import transfer.contracts.TaskError;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Leases.FailOutcome;

/**
 * The ledger as a unit test plays it: every write is recorded and waits for the test's answer,
 * except heartbeats, which are answered at once with {@link #heartbeatAnswer} (null: they wait
 * too).
 */
final class FakeLeaseWriter implements LeaseWriter {
  /** A write the attempt made, and the answer it waits for. */
  record Call(String what, Lease lease, Object detail, Promise<Object> answer) {
    void answer(Object value) {
      answer.complete(value);
    }

    void fail(String why) {
      answer.fail(new IllegalStateException(why));
    }

    boolean answered() {
      return answer.future().isComplete();
    }
  }

  final List<Call> calls = new ArrayList<>();
  Boolean heartbeatAnswer = true;

  List<Call> calls(String what) {
    return calls.stream().filter(c -> c.what().equals(what)).toList();
  }

  /** The writes that end an attempt: a failure, a hand-back, a completion. */
  List<Call> endings() {
    return calls.stream().filter(c -> !c.what().equals("heartbeat")).toList();
  }

  /** Answers every write still waiting, in order: heartbeats with true, the others as given. */
  void answerAll(Object failure, Object completion) {
    for (Call c : List.copyOf(calls)) {
      if (c.answered()) {
        continue;
      }
      switch (c.what()) {
        case "heartbeat", "release" -> c.answer(true);
        case "failAttempt" -> c.answer(failure);
        default -> c.answer(completion);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private <T> Future<T> call(String what, Lease lease, Object detail, Object immediate) {
    Promise<Object> p = Promise.promise();
    calls.add(new Call(what, lease, detail, p));
    if (immediate != null) {
      p.complete(immediate);
    }
    return (Future<T>) (Future<?>) p.future();
  }

  @Override
  public Future<Boolean> heartbeat(Lease lease, Duration ttl, Leases.Heartbeat heartbeat) {
    return call("heartbeat", lease, heartbeat, heartbeatAnswer);
  }

  @Override
  public Future<Boolean> completeDownload(
      Lease lease,
      transfer.storage.Stored stored,
      long size,
      String sha256,
      long bytesSinceLastEvent,
      transfer.contracts.ReceivedResponse response,
      Long resumedAt,
      transfer.contracts.TaskMetrics metrics) {
    return call("completeDownload", lease, size, null);
  }

  @Override
  public Future<Boolean> completeUpload(
      Lease lease,
      long bytesSent,
      transfer.contracts.ReceivedResponse response,
      long bytesSinceLastEvent,
      Long resumedAt,
      transfer.contracts.TaskMetrics metrics) {
    return call("completeUpload", lease, bytesSent, null);
  }

  @Override
  public Future<FailOutcome> failAttempt(
      Lease lease, TaskError error, Duration backoff, String waitReason) {
    return call("failAttempt", lease, error, null);
  }

  @Override
  public Future<Boolean> release(Lease lease, Leases.Checkpoint checkpoint) {
    return call("release", lease, checkpoint, null);
  }
}
