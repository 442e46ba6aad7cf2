package transfer.client;

import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import transfer.contracts.CloudEvent;
import transfer.contracts.TaskError;

/** Writes down every callback as one line, in order. */
class RecordingListener implements TransferListener {
  final List<String> calls = new CopyOnWriteArrayList<>();
  final List<CloudEvent> events = new CopyOnWriteArrayList<>();

  @Override
  public void onEvent(CloudEvent event) {
    events.add(event);
  }

  @Override
  public void didWriteData(TaskEvent t, long bytes, long total, long expected) {
    calls.add("write " + t.taskId() + " " + bytes + " " + total + " " + expected);
  }

  @Override
  public void didSendBodyData(TaskEvent t, long bytes, long total, long expected) {
    calls.add("send " + t.taskId() + " " + bytes + " " + total + " " + expected);
  }

  @Override
  public void didFinishDownloadingTo(TaskEvent t, URI location, long size, String sha256) {
    calls.add("downloaded " + t.taskId() + " " + location + " " + size + " " + sha256);
  }

  @Override
  public void taskIsWaitingForConnectivity(
      TaskEvent t,
      String reason,
      TaskError error,
      java.time.Instant nextAttemptAt,
      java.time.Instant deadlineAt) {
    calls.add(
        "waiting "
            + t.taskId()
            + " "
            + reason
            + " "
            + (error == null ? null : error.code())
            + " "
            + nextAttemptAt
            + " "
            + deadlineAt);
  }

  @Override
  public void didResumeAtOffset(TaskEvent t, long fileOffset, long expectedTotalBytes) {
    calls.add("resumed " + t.taskId() + " " + fileOffset + " " + expectedTotalBytes);
  }

  @Override
  public void didReceiveCredentialsChallenge(
      TaskEvent t, int httpStatus, TaskError error, java.time.Instant deadlineAt) {
    calls.add(
        "challenge "
            + t.taskId()
            + " "
            + httpStatus
            + " "
            + (error == null ? null : error.code())
            + " "
            + deadlineAt);
  }

  @Override
  public void didCreateTask(TaskEvent t, String url) {
    calls.add("created " + t.taskId() + " " + url);
  }

  @Override
  public void didFinishCollectingMetrics(TaskEvent t, transfer.contracts.TaskMetrics m) {
    calls.add(
        "metrics " + t.taskId() + " attempt " + m.attempt() + " " + m.protocol() + " " + m.bytes());
  }

  @Override
  public void didCompleteWithError(TaskEvent t, TaskError error) {
    calls.add(
        "complete "
            + t.taskId()
            + " "
            + t.finalState()
            + " "
            + (error == null ? null : error.code()));
  }

  @Override
  public void didFinishEvents(String sessionId, CloudEvent event) {
    calls.add("drained " + sessionId);
  }

  /** The sequences delivered for one session, in delivery order. */
  List<Long> sequences(String sid) {
    return events.stream()
        .filter(e -> CloudEvent.sourceOf(sid).equals(e.source()))
        .map(CloudEvent::sequence)
        .toList();
  }
}
