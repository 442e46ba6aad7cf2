package transfer.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import transfer.client.Content;
import transfer.client.TransferClient;
import transfer.contracts.SessionView;
import transfer.contracts.TaskPatch;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;

/**
 * The commands about tasks that exist: list, watch, cancel, suspend, resume, patch, and fetch a
 * finished download's content.
 */
final class TaskCommands {
  private TaskCommands() {}

  @Command(name = "tasks", description = "List the session's tasks, newest last.")
  static final class Tasks extends Base {
    @Option(
        names = "--state",
        paramLabel = "STATE",
        description =
            "Only tasks in this state (repeatable): queued, waiting, running, suspended,"
                + " completed, failed, canceled.")
    List<String> states = new ArrayList<>();

    @Override
    public Integer call() {
      Set<TaskState> wanted = EnumSet.noneOf(TaskState.class);
      for (String s : states) {
        try {
          wanted.add(TaskState.fromWire(s.toLowerCase(java.util.Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new Main.UsageError("unknown state '" + s + "'; one of " + stateNames());
        }
      }
      try (TransferClient client = client()) {
        PrintWriter out = spec.commandLine().getOut();
        List<TaskView> tasks =
            client.allTasks(options.session, wanted.toArray(new TaskState[0])).toList();
        if (options.json) {
          tasks.forEach(this::printJson);
          return ExitCodes.OK;
        }
        if (tasks.isEmpty()) {
          out.println("no tasks in session " + options.session);
          return ExitCodes.OK;
        }
        out.println(
            String.format(
                "%-36s  %-8s  %-9s  %-21s  %s", "TASK", "TYPE", "STATE", "BYTES", "URL / ERROR"));
        for (TaskView t : tasks) {
          String bytes =
              t.bytesExpected() != null
                  ? Render.bytes(t.bytesTransferred()) + " / " + Render.bytes(t.bytesExpected())
                  : Render.bytes(t.bytesTransferred());
          String tail =
              t.error() != null && t.state() != TaskState.COMPLETED
                  ? t.error().code() + ": " + t.error().message()
                  : t.url();
          out.println(
              String.format(
                  "%-36s  %-8s  %-9s  %-21s  %s",
                  t.id(), t.type().wire(), t.state().wire(), bytes, tail));
        }
        return ExitCodes.OK;
      }
    }
  }

  static String stateNames() {
    List<String> names = new ArrayList<>();
    for (TaskState s : TaskState.values()) {
      names.add(s.wire());
    }
    return String.join(", ", names);
  }

  @Command(
      name = "watch",
      description =
          "Show the session's open tasks move until none is left (the session drained);"
              + " with --json, print its events as they come.")
  static final class Watch extends Base {
    @Parameters(
        arity = "0..1",
        paramLabel = "SESSION",
        description = "The session to watch (default: --session).")
    String sessionArg;

    @Option(
        names = "--follow",
        description = "Keep watching after the session drained, until Ctrl-C.")
    boolean follow;

    @Override
    public Integer call() throws Exception {
      if (sessionArg != null) {
        options.session = sessionArg;
      }
      try (TransferClient client = client()) {
        SessionView session = client.session(options.session);
        return new Follow(client, screen(), options, spec).watch(session, follow);
      }
    }
  }

  @Command(name = "cancel", description = "Cancel a task.")
  static final class Cancel extends Base {
    @Parameters(paramLabel = "TASK", description = "The task's id.")
    String taskId;

    @Option(
        names = "--resume-data",
        description = "Keep what was downloaded, and print the resume data a new download can use.")
    boolean resumeData;

    @Override
    public Integer call() {
      try (TransferClient client = client()) {
        var result = client.cancel(options.session, taskId, resumeData);
        if (options.json) {
          printJson(result);
        } else {
          PrintWriter out = spec.commandLine().getOut();
          out.println(
              "canceled " + taskId + " (" + Render.bytes(result.task().bytesTransferred()) + ")");
          if (result.resumeData() != null) {
            out.println("resume data: " + result.resumeData());
            out.println(
                "continue it with: ./transfer download --resume-data " + result.resumeData());
          }
        }
        return ExitCodes.OK;
      }
    }
  }

  /** A control call on one task that answers the task: suspend, resume. */
  abstract static class Control extends Base {
    @Parameters(paramLabel = "TASK", description = "The task's id.")
    String taskId;

    abstract TaskView apply(TransferClient client, String sessionId, String taskId);

    abstract String verb();

    @Override
    public Integer call() {
      try (TransferClient client = client()) {
        TaskView t = apply(client, options.session, taskId);
        return answer(
            t,
            verb()
                + " "
                + t.id()
                + ": now "
                + t.state().wire()
                + " ("
                + Render.bytes(t.bytesTransferred())
                + ")");
      }
    }
  }

  @Command(name = "suspend", description = "Suspend a task (it keeps its bytes; resume continues).")
  static final class Suspend extends Control {
    @Override
    TaskView apply(TransferClient client, String sessionId, String taskId) {
      return client.suspend(sessionId, taskId);
    }

    @Override
    String verb() {
      return "suspended";
    }
  }

  @Command(name = "resume", description = "Resume a suspended task.")
  static final class Resume extends Control {
    @Override
    TaskView apply(TransferClient client, String sessionId, String taskId) {
      return client.resume(sessionId, taskId);
    }

    @Override
    String verb() {
      return "resumed";
    }
  }

  @Command(
      name = "patch",
      description =
          "Give a queued, waiting or suspended task a new URL or headers (new credentials: a"
              + " waiting task is retried at once), or change its priority or description.")
  static final class Patch extends Base {
    @Parameters(paramLabel = "TASK", description = "The task's id.")
    String taskId;

    @Option(names = "--url", paramLabel = "URL", description = "The new URL.")
    String url;

    @Option(
        names = {"-H", "--header"},
        paramLabel = "NAME:VALUE",
        description = "The task's headers (repeatable), replacing all of them.")
    List<String> headers = new ArrayList<>();

    @Option(names = "--priority", paramLabel = "P", description = "0.0 to 1.0.")
    Double priority;

    @Option(names = "--description", paramLabel = "TEXT", description = "Free text for people.")
    String description;

    @Override
    public Integer call() {
      TaskPatch patch = new TaskPatch(url, Main.headers(headers), priority, description);
      if (patch.isEmpty()) {
        throw new Main.UsageError("nothing to change: give --url, -H, --priority or --description");
      }
      try (TransferClient client = client()) {
        TaskView t = client.patch(options.session, taskId, patch);
        return answer(
            t,
            "changed "
                + String.join(", ", patch.fields())
                + " of "
                + t.id()
                + ": now "
                + t.state().wire());
      }
    }
  }

  @Command(
      name = "content",
      description = "Copy a completed download's bytes out of the cluster into FILE (verified).")
  static final class ContentCommand extends Base {
    @Parameters(index = "0", paramLabel = "TASK", description = "The download's id.")
    String taskId;

    @Option(
        names = {"-o", "--output"},
        paramLabel = "FILE",
        required = true,
        description = "Where to write the bytes (replaced only once all arrived and matched).")
    Path output;

    @Override
    public Integer call() {
      try (TransferClient client = client()) {
        Content c = client.downloadContent(options.session, taskId, output);
        return answer(
            c, "wrote " + Render.bytes(c.size()) + " to " + c.path() + ", sha256 " + c.sha256());
      }
    }
  }
}
