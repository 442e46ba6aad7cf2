package transfer.api.task;

import transfer.contracts.Redaction;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.TaskView;
import transfer.ledger.TaskRow;

/** A task's ledger row as the API answers it. */
final class TaskViews {
  private TaskViews() {}

  /**
   * The task as the API answers it: its headers by name only, every value masked ({@link
   * Redaction}), since they may carry credentials.
   */
  static TaskView of(TaskRow task) {
    return new TaskView(
        task.id(),
        task.sessionId(),
        task.type(),
        task.state(),
        task.url(),
        methodOf(task),
        Redaction.headers(task.request().headers()),
        task.request().description(),
        task.priority(),
        task.attempt(),
        task.bytesTransferred(),
        task.bytesExpected(),
        task.error(),
        task.location(),
        task.sha256(),
        task.request().source(),
        task.resumeData(),
        task.request().metadata(),
        task.request().earliestBeginAt(),
        task.createdAt(),
        task.updatedAt(),
        task.finishedAt(),
        task.state() == TaskState.WAITING ? task.waitingReason() : null,
        task.state() == TaskState.WAITING ? task.nextAttemptAt() : null,
        task.deadlineAt(),
        task.response(),
        task.request().resumable(),
        task.uploadResource(),
        task.request().destination());
  }

  /** The method the task's requests use: a resumable upload creates its resource with POST. */
  private static String methodOf(TaskRow task) {
    if (task.request().method() != null) {
      return task.request().method();
    }
    if (task.type() == TaskType.DOWNLOAD) {
      return "GET";
    }
    return task.request().resumable() != null ? "POST" : TaskRequest.DEFAULT_UPLOAD_METHOD;
  }
}
