package transfer.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine;
import transfer.client.SseEventFeed;
import transfer.client.TaskEvent;
import transfer.client.TransferClient;
import transfer.client.TransferListener;
import transfer.contracts.CloudEvent;
import transfer.contracts.TaskError;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.TaskView;

/**
 * Waits for tasks while drawing their progress. Progress comes from the session's event stream
 * (SSE, from the session's newest event at the start: no history is replayed); a poll of each open
 * task every {@link #POLL} is the safety net for a missed event or a stream that cannot connect, so
 * the command ends when the task does, whatever the stream did.
 */
final class Follow {
  private static final Duration DRAW = Duration.ofMillis(200);
  private static final Duration POLL = Duration.ofSeconds(2);

  private final TransferClient client;
  private final Screen screen;
  private final Options options;
  private final CommandLine.Model.CommandSpec spec;
  private final Progress progress = new Progress();

  Follow(
      TransferClient client, Screen screen, Options options, CommandLine.Model.CommandSpec spec) {
    this.client = client;
    this.screen = screen;
    this.options = options;
    this.spec = spec;
  }

  /** After a submit: the task's id at once with --no-wait, else its progress and final line. */
  int submitted(
      transfer.contracts.SessionView session,
      TaskView task,
      String label,
      boolean noWait,
      Path output)
      throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (noWait) {
      if (options.json) {
        out.println(Main.JSON.valueToTree(task).toString());
      } else {
        out.println(
            "submitted "
                + task.type().wire()
                + " "
                + task.id()
                + " in session "
                + task.sessionId()
                + "; follow it with ./transfer watch "
                + task.sessionId());
      }
      out.flush();
      return ExitCodes.OK;
    }
    progress.track(task, label != null ? label : label(task));
    Thread hint = interruptHint(List.of(task.id()), task.sessionId());
    try (SseEventFeed feed = feed(session.id(), session.lastEventSequence(), false)) {
      waitForAll(false, null);
    } finally {
      Runtime.getRuntime().removeShutdownHook(hint);
    }
    screen.clear();
    // The truth of the final task, not the event's summary.
    return finish(client.task(task.sessionId(), task.id()), output);
  }

  /**
   * The session's open tasks until each is final; new tasks that appear meanwhile are followed too.
   * With {@code follow}, on until Ctrl-C.
   */
  int watch(transfer.contracts.SessionView session, boolean follow) throws Exception {
    client
        .allTasks(
            session.id(),
            TaskState.QUEUED,
            TaskState.WAITING,
            TaskState.RUNNING,
            TaskState.SUSPENDED)
        .forEach(t -> progress.track(t, label(t)));
    if (progress.allFinal() && !follow) {
      note(options.json ? null : "session " + session.id() + ": nothing queued or running");
      return ExitCodes.OK;
    }
    Set<String> failed = ConcurrentHashMap.newKeySet();
    try (SseEventFeed feed = feed(session.id(), session.lastEventSequence(), true)) {
      waitForAll(follow, failed);
    }
    screen.clear();
    return failed.isEmpty() ? ExitCodes.OK : ExitCodes.TRANSFER_FAILED;
  }

  private void note(String line) {
    if (line != null) {
      screen.result(line);
    }
  }

  /**
   * The event stream of the session after {@code after}. When {@code watching}, every task that
   * shows up is followed too, and with --json each event is printed as it comes.
   */
  private SseEventFeed feed(String sessionId, long after, boolean watching) {
    TransferListener listener =
        new TransferListener() {
          @Override
          public void onEvent(CloudEvent event) {
            if (watching && options.json) {
              PrintWriter out = spec.commandLine().getOut();
              out.println(Main.JSON.valueToTree(event).toString());
              out.flush();
            }
          }

          @Override
          public void didWriteData(TaskEvent task, long bytes, long total, long expected) {
            moved(task, total, expected);
          }

          @Override
          public void didSendBodyData(TaskEvent task, long bytes, long total, long expected) {
            moved(task, total, expected);
          }

          private void moved(TaskEvent task, long total, long expected) {
            if (watching && !progress.tracks(task.taskId())) {
              progress.discovered(task.taskId(), shortId(task.taskId()));
            }
            progress.progress(task.taskId(), total, expected, System.currentTimeMillis());
          }

          @Override
          public void taskIsWaitingForConnectivity(
              TaskEvent task,
              String reason,
              TaskError error,
              java.time.Instant nextAttemptAt,
              java.time.Instant deadlineAt) {
            progress.state(task.taskId(), "waiting (" + reason + ")");
          }

          @Override
          public void didReceiveCredentialsChallenge(
              TaskEvent task, int httpStatus, TaskError error, java.time.Instant deadlineAt) {
            progress.state(task.taskId(), "waiting (credentials_required)");
            screen.note(
                "task "
                    + task.taskId()
                    + ": the origin answered "
                    + httpStatus
                    + " to its credentials; it waits for new ones until "
                    + deadlineAt
                    + ": ./transfer patch "
                    + task.taskId()
                    + " -H 'Authorization: …' (or --url with a fresh presigned URL)");
          }

          @Override
          public void didCompleteWithError(TaskEvent task, TaskError error) {
            if (watching && !progress.tracks(task.taskId())) {
              progress.discovered(task.taskId(), shortId(task.taskId()));
            }
            TaskState state = task.finalState();
            progress.state(task.taskId(), state == null ? "completed" : state.wire());
          }

          @Override
          public void didBecomeInvalidWithError(String sid, Throwable error) {
            if (error == null) {
              screen.note("session " + sid + " was invalidated; its open tasks end");
              return;
            }
            screen.note(
                "the event stream of session "
                    + sessionId
                    + " stopped ("
                    + error.getMessage()
                    + "); polling the tasks instead");
          }
        };
    return SseEventFeed.builder(client)
        .listener(listener)
        .sessions(sessionId)
        .startAfter(after)
        .build()
        .start();
  }

  /**
   * Draws until every followed task is final (or, with {@code forever}, until interrupted), polling
   * the open ones every {@link #POLL}. When watching ({@code failed} not null), each task's final
   * line is printed above the bars as it ends, and failed ones are added to {@code failed}.
   */
  private void waitForAll(boolean forever, Set<String> failed) throws InterruptedException {
    long nextPoll = 0;
    while (true) {
      long now = System.currentTimeMillis();
      if (now >= nextPoll) {
        nextPoll = now + POLL.toMillis();
        poll();
      }
      // Read before the final lines are printed: every task final now is among those reported
      // below, even if the event stream ends another one meanwhile, so none is skipped.
      boolean done = !forever && progress.allFinal();
      if (failed != null) {
        for (String id : progress.endedUnreported()) {
          TaskView t = client.task(options.session, id);
          progress.update(t);
          if (t.state() == TaskState.FAILED) {
            failed.add(id);
          }
          if (!options.json) {
            screen.result(finalLine(t, null));
          }
        }
      }
      if (done) {
        return;
      }
      screen.draw(progress.render(screen.columns(), false));
      Thread.sleep(DRAW.toMillis());
    }
  }

  /**
   * The truth about the open tasks: one GET each for a few, else one listing of the session's open
   * tasks (a watch of a thousand must not send a thousand requests every two seconds) and a GET for
   * each that is no longer in it, which happens once per task, as it ends.
   */
  private void poll() {
    List<String> open = progress.open();
    if (open.size() <= 3) {
      for (String id : open) {
        progress.update(client.task(options.session, id));
      }
      return;
    }
    Map<String, TaskView> stillOpen = new HashMap<>();
    client
        .allTasks(
            options.session,
            TaskState.QUEUED,
            TaskState.WAITING,
            TaskState.RUNNING,
            TaskState.SUSPENDED)
        .forEach(t -> stillOpen.put(t.id(), t));
    for (String id : open) {
      TaskView t = stillOpen.get(id);
      progress.update(t != null ? t : client.task(options.session, id));
    }
  }

  /** The final line, the copy to {@code output}, and the exit code. */
  private int finish(TaskView t, Path output) {
    PrintWriter out = spec.commandLine().getOut();
    if (t.state() == TaskState.COMPLETED && output != null && t.type() == TaskType.DOWNLOAD) {
      try {
        client.downloadContent(
            t.sessionId(), t.id(), output, screen.bar("copying to " + output.getFileName(), null));
      } catch (RuntimeException e) {
        screen.result(finalLine(t, null));
        screen.note(
            "error: the download completed in the cluster, but copying it to "
                + output
                + " failed: "
                + e.getMessage());
        return ExitCodes.LOCAL;
      }
      screen.clear();
    }
    if (options.json) {
      out.println(Main.JSON.valueToTree(t).toString());
      out.flush();
    } else {
      screen.result(finalLine(t, output));
    }
    return switch (t.state()) {
      case COMPLETED -> ExitCodes.OK;
      case CANCELED -> ExitCodes.CANCELED;
      default -> ExitCodes.TRANSFER_FAILED;
    };
  }

  /** What happened, in one line: where the bytes are and their digest, or the error and a hint. */
  static String finalLine(TaskView t, Path output) {
    String took =
        t.finishedAt() != null && t.createdAt() != null
            ? " in " + Render.duration(Duration.between(t.createdAt(), t.finishedAt()))
            : "";
    switch (t.state()) {
      case COMPLETED:
        if (t.type() == TaskType.UPLOAD) {
          return "completed: sent "
              + Render.bytes(t.bytesTransferred())
              + " to "
              + t.url()
              + took
              + ", sha256 "
              + t.sha256()
              + " (task "
              + t.id()
              + ")";
        }
        return "completed: "
            + Render.bytes(t.bytesTransferred())
            + took
            + ", sha256 "
            + t.sha256()
            + ", stored at "
            + t.location()
            + (output != null ? ", copied to " + output.toAbsolutePath() : "")
            + " (task "
            + t.id()
            + ")";
      case CANCELED:
        return "canceled: "
            + (t.error() != null ? t.error().message() : "by a client")
            + " after "
            + Render.bytes(t.bytesTransferred())
            + " (task "
            + t.id()
            + ")";
      default:
        TaskError e = t.error();
        String what =
            e == null
                ? "no error recorded"
                : e.code()
                    + (e.httpStatus() != null ? " (HTTP " + e.httpStatus() + ")" : "")
                    + ": "
                    + e.message();
        return "failed: " + what + ". What to do: " + Render.hint(e) + " (task " + t.id() + ")";
    }
  }

  private Thread interruptHint(List<String> ids, String sessionId) {
    Thread hook =
        new Thread(
            () -> {
              if (!progress.allFinal()) {
                screen.note(
                    "interrupted: "
                        + String.join(", ", ids)
                        + " goes on in the cluster; follow it"
                        + " with ./transfer watch "
                        + sessionId);
              }
            });
    Runtime.getRuntime().addShutdownHook(hook);
    return hook;
  }

  /** The last path segment of the task's URL (or its id), short enough for a bar's label. */
  static String label(TaskView t) {
    String name = null;
    if (t.url() != null) {
      try {
        String path = URI.create(t.url()).getPath();
        if (path != null) {
          String[] parts = path.split("/");
          name = parts.length == 0 ? null : parts[parts.length - 1];
        }
        if (name == null || name.isBlank()) {
          name = URI.create(t.url()).getHost();
        }
      } catch (IllegalArgumentException ignored) {
        // an odd URL: the id will do
      }
    }
    if (name == null || name.isBlank()) {
      name = shortId(t.id());
    }
    if (name.length() > 24) {
      name = name.substring(0, 23) + "…";
    }
    return t.type().wire().toLowerCase(Locale.ROOT) + " " + name;
  }

  static String shortId(String id) {
    return id.length() > 8 ? id.substring(0, 8) : id;
  }
}
