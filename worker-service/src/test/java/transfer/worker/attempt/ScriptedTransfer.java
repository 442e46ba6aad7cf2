package transfer.worker.attempt;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import transfer.contracts.TaskError;
import transfer.ledger.Leases.Checkpoint;

/**
 * A transfer a unit test moves by hand: it says how many bytes moved and whether it waits on its
 * own storage, offers the checkpoints the test gives it, and records what the attempt told it.
 */
final class ScriptedTransfer implements Transfer, Checkpoints {
  private final Duration requestTimeout;

  long moved;
  boolean waitingOnOurselves;
  boolean started;
  int stops;
  Checkpoint next;
  final List<Checkpoint> recorded = new ArrayList<>();
  final List<Checkpoint> notRecorded = new ArrayList<>();

  ScriptedTransfer(Duration requestTimeout) {
    this.requestTimeout = requestTimeout;
  }

  @Override
  public String method() {
    return "GET";
  }

  @Override
  public void start() {
    started = true;
  }

  @Override
  public long moved() {
    return moved;
  }

  @Override
  public Long expectedBytes() {
    return null;
  }

  @Override
  public TaskError stallError() {
    return Failures.ofConnection(new TimeoutException("stalled"), requestTimeout);
  }

  @Override
  public boolean waitingOnOurselves() {
    return waitingOnOurselves;
  }

  @Override
  public Checkpoints checkpoints() {
    return this;
  }

  @Override
  public void stop() {
    stops++;
  }

  @Override
  public Checkpoint take() {
    Checkpoint cp = next;
    next = null;
    return cp;
  }

  @Override
  public void recorded(Checkpoint checkpoint) {
    recorded.add(checkpoint);
  }

  @Override
  public void notRecorded(Checkpoint checkpoint) {
    notRecorded.add(checkpoint);
  }

  @Override
  public Checkpoint handBack() {
    return moved > 0 ? new Checkpoint(moved, 1, null, null) : null;
  }
}
