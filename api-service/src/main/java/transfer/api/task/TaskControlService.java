package transfer.api.task;

import jakarta.inject.Singleton;
import java.util.List;
import java.util.Set;
import transfer.api.egress.EgressRules;
import transfer.api.object.StoredContent;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.session.SessionService;
import transfer.api.storage.StoredBody;
import transfer.api.storage.StoredBytes;
import transfer.contracts.TaskPatch;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.ledger.TaskControl;
import transfer.ledger.TaskRow;

/**
 * A client's reads and control of the tasks of its sessions: list, read, cancel, suspend, resume,
 * change, and the stored bytes of a completed download. A task that is not the tenant's, or not in
 * the session named, is not found (404).
 */
@Singleton
public class TaskControlService {
  private final SessionService sessions;
  private final TaskControl taskControl;
  private final StoredBytes files;
  private final EgressRules egress;

  public TaskControlService(
      SessionService sessions, TaskControl taskControl, StoredBytes files, EgressRules egress) {
    this.sessions = sessions;
    this.taskControl = taskControl;
    this.files = files;
    this.egress = egress;
  }

  /** A completed download and the file of its stored bytes. */
  /** A completed download's stored bytes. */
  public record Content(TaskRow task, StoredBody body) {}

  /** A link that reads the content without credentials for a while, where storage has one. */
  public java.util.Optional<java.net.URL> link(Content content) {
    return files.link(content.task().location());
  }

  /**
   * Up to {@code limit} of the session's tasks in creation order, of the given states (none: all),
   * after the task {@code after} (null: from the first). 404 when the session does not exist, 400
   * when {@code after} names no task of it.
   */
  public List<TaskRow> tasks(
      String tenantId, String sid, Set<TaskState> states, String after, int limit) {
    sessions.find(tenantId, sid);
    // A page after a task that is not there would silently end the listing; say so instead.
    if (after != null && taskControl.task(tenantId, sid, after).isEmpty()) {
      throw ApiException.invalid(
          List.of(new FieldError("after", "names no task of session " + sid)));
    }
    return taskControl.tasks(tenantId, sid, states, after, limit);
  }

  public TaskRow find(String tenantId, String sid, String tid) {
    return taskControl.task(tenantId, sid, tid).orElseThrow(() -> taskNotFound(sid, tid));
  }

  /**
   * Cancels an open task, with the resumeData of its stored prefix when asked for and possible; a
   * completed or failed task is a 409.
   */
  public TaskControl.Canceled cancel(
      String tenantId, String sid, String tid, boolean produceResumeData) {
    return taskControl
        .cancel(tenantId, sid, tid, produceResumeData)
        .orElseThrow(() -> taskNotFound(sid, tid));
  }

  public TaskRow suspend(String tenantId, String sid, String tid) {
    return taskControl.suspend(tenantId, sid, tid).orElseThrow(() -> taskNotFound(sid, tid));
  }

  /**
   * Changes a task ({@link TaskPatch}): a new url is judged as at submit (400); a final task, or a
   * running one whose url or headers would change, is a 409.
   */
  public TaskRow patch(String tenantId, String sid, String tid, TaskPatch patch) {
    TaskRules.checkPatch(patch);
    if (patch.url() != null) {
      egress.check(TaskRequest.download(patch.url()));
    }
    return taskControl.patch(tenantId, sid, tid, patch).orElseThrow(() -> taskNotFound(sid, tid));
  }

  public TaskRow resume(String tenantId, String sid, String tid) {
    return taskControl.resume(tenantId, sid, tid).orElseThrow(() -> taskNotFound(sid, tid));
  }

  /**
   * The stored bytes of a completed download: 409 for any other task, 410 once they are gone from
   * storage. Never a partial or unverified object: a download's file exists under its final name
   * only once it is complete and verified.
   */
  public Content content(String tenantId, String sid, String tid) {
    TaskRow task = find(tenantId, sid, tid);
    if (task.type() != TaskType.DOWNLOAD || task.state() != TaskState.COMPLETED) {
      throw ApiException.conflict(
          "task " + tid + " is " + task.state().wire() + "; content exists once it is completed");
    }
    StoredBody body =
        files
            .existing(task.location())
            .orElseThrow(
                () ->
                    StoredContent.gone(
                        "the stored object of task " + tid + " is no longer in storage"));
    return new Content(task, body);
  }

  private static ApiException taskNotFound(String sid, String tid) {
    return ApiException.notFound("task " + tid + " in session " + sid);
  }
}
