package transfer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import transfer.client.NotFoundException;
import transfer.client.TransferApiException;
import transfer.client.TransferClient;
import transfer.client.TransferConnectionException;
import transfer.client.TransferException;
import transfer.contracts.Json;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.contracts.TaskView;
import transfer.contracts.UploadSource;

/** {@code ./transfer}: the cluster from a terminal. */
@Command(
    name = "transfer",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Moves files in the background through a transfer cluster.",
    subcommands = {
      Main.Download.class,
      Main.Upload.class,
      Main.Tasks.class,
      Main.Watch.class,
      Main.Cancel.class,
      Main.Suspend.class,
      Main.Resume.class
    },
    footerHeading = "%nExit codes:%n",
    footer = {
      "  0  done: the transfer completed, the command succeeded",
      "  1  the transfer failed (its error and what to do are printed)",
      "  2  the command line is wrong",
      "  3  the transfer was canceled",
      "  4  the API refused the request (bad input, unknown id, bad key, quota)",
      "  5  the API could not be reached, is unavailable, or answered 5xx",
      "  6  a local file could not be read or written (the upload's file, -o's target)",
      " 70  a bug in this tool (the message says what)",
      "130  interrupted; the transfer itself goes on in the cluster",
      "",
      "Environment: TRANSFER_API_URL (default http://127.0.0.1:8080), TRANSFER_API_KEY (else the"
          + " local cluster's saved key, .data/api-key), TRANSFER_SESSION (default cli)."
    })
public final class Main implements Runnable {
  static final ObjectMapper JSON =
      Json.configure(new ObjectMapper()).disable(SerializationFeature.INDENT_OUTPUT);

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs one command line; the exit code of {@link ExitCodes}. */
  static int run(String... args) {
    CommandLine cmd = new CommandLine(new Main());
    cmd.setExecutionExceptionHandler(Main::failed);
    return cmd.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** An error of the API or the network: one clear line, and the exit code scripts rely on. */
  private static int failed(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
    Options o = optionsOf(cmd);
    PrintWriter err = cmd.getErr();
    if (e instanceof UsageError) {
      err.println("error: " + e.getMessage());
      err.println("(./transfer " + cmd.getCommandName() + " --help tells more)");
      return ExitCodes.USAGE;
    }
    if (e instanceof TransferApiException api) {
      if (o != null && o.json) {
        cmd.getOut().println(problemJson(api));
      }
      err.println("error: " + api.getMessage());
      if (api.kind() == TransferApiException.Kind.UNAUTHORIZED) {
        err.println(
            "hint: give the API key with --api-key or TRANSFER_API_KEY (the local cluster prints it"
                + " at start and saves it in .data/api-key)");
      }
      return api.status() >= 500 || api.kind() == TransferApiException.Kind.UNAVAILABLE
          ? ExitCodes.UNAVAILABLE
          : ExitCodes.REFUSED;
    }
    if (e instanceof TransferConnectionException) {
      err.println("error: " + e.getMessage());
      err.println(
          "hint: is the cluster running at "
              + (o == null ? Options.defaultUrl() : o.apiUrl)
              + "? Start one with deploy/local/start, or set --api-url / TRANSFER_API_URL");
      return ExitCodes.UNAVAILABLE;
    }
    if (e instanceof TransferException) {
      // An answer that is not the API's (not JSON, another service at that address), or an
      // interrupted call.
      err.println("error: " + e.getMessage());
      err.println(
          "hint: is " + (o == null ? Options.defaultUrl() : o.apiUrl) + " the cluster's API?");
      return ExitCodes.UNAVAILABLE;
    }
    if (e instanceof IOException || e instanceof java.io.UncheckedIOException) {
      err.println("error: " + e.getMessage());
      return ExitCodes.LOCAL;
    }
    err.println("error: unexpected " + e + " (a bug in ./transfer; please report it)");
    return ExitCodes.INTERNAL;
  }

  private static Options optionsOf(CommandLine cmd) {
    Object c = cmd.getCommand();
    return c instanceof Base b ? b.options : null;
  }

  private static String problemJson(TransferApiException e) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", e.type());
    n.put("title", e.title());
    n.put("status", e.status());
    n.put("detail", e.detail());
    return n.toString();
  }

  /** A wrong value the parser could not see (a missing key, a bad URL, a missing file). */
  static final class UsageError extends RuntimeException {
    UsageError(String message) {
      super(message);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"transfer " + (v == null ? "(development build)" : v)};
    }
  }

  // ---------------------------------------------------------------- options

  /** The options every command takes. */
  static final class Options {
    @Option(
        names = "--api-url",
        paramLabel = "URL",
        description = "The API's address (default: TRANSFER_API_URL, else ${DEFAULT-VALUE}).",
        defaultValue = "${env:TRANSFER_API_URL:-http://127.0.0.1:8080}")
    String apiUrl;

    @Option(
        names = "--api-key",
        paramLabel = "KEY",
        description =
            "The API key (default: TRANSFER_API_KEY, else the local cluster's saved key).",
        defaultValue = "${env:TRANSFER_API_KEY}")
    String apiKey;

    @Option(
        names = {"-s", "--session"},
        paramLabel = "SESSION",
        description = "The session (default: TRANSFER_SESSION, else ${DEFAULT-VALUE}).",
        defaultValue = "${env:TRANSFER_SESSION:-cli}")
    String session;

    @Option(
        names = "--json",
        description = "Print JSON for scripts (one object per line) and no progress bars.")
    boolean json;

    static String defaultUrl() {
      String v = System.getenv("TRANSFER_API_URL");
      return v == null || v.isBlank() ? "http://127.0.0.1:8080" : v;
    }

    TransferClient client(CommandLine cmd) {
      String key = key();
      if (key == null) {
        throw new UsageError(
            "no API key: give --api-key or set TRANSFER_API_KEY (the local cluster prints its key"
                + " at start and saves it in .data/api-key, which is read when TRANSFER_DATA_DIR"
                + " or the project's .data has it)");
      }
      URI uri;
      try {
        uri = URI.create(apiUrl);
      } catch (IllegalArgumentException e) {
        throw new UsageError("not a URL: --api-url " + apiUrl);
      }
      if (uri.getScheme() == null || uri.getHost() == null) {
        throw new UsageError("not an http(s) URL: --api-url " + apiUrl);
      }
      return TransferClient.builder().baseUri(uri).apiKey(key).build();
    }

    /**
     * The key from the option or environment; else the one the local cluster saved ({@code
     * TRANSFER_DATA_DIR/api-key}, or {@code .data/api-key} in the project the launcher runs from).
     */
    String key() {
      if (apiKey != null && !apiKey.isBlank()) {
        return apiKey.trim();
      }
      List<Path> candidates = new ArrayList<>();
      String dataDir = System.getenv("TRANSFER_DATA_DIR");
      if (dataDir != null && !dataDir.isBlank()) {
        candidates.add(Path.of(dataDir, "api-key"));
      }
      String root = System.getProperty("transfer.project.root");
      if (root != null) {
        candidates.add(Path.of(root, ".data", "api-key"));
      }
      for (Path p : candidates) {
        try {
          if (Files.isReadable(p)) {
            return Files.readString(p).trim();
          }
        } catch (IOException ignored) {
          // unreadable: the API answers 401 and the hint says where the key comes from
        }
      }
      return null;
    }
  }

  /** A command with the shared options and a screen. */
  abstract static class Base implements Callable<Integer> {
    @Mixin Options options;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    TransferClient client() {
      return options.client(spec.commandLine());
    }

    Screen screen() {
      return Screen.forTerminal(
          options.json, spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    void printJson(Object value) {
      spec.commandLine().getOut().println(JSON.valueToTree(value).toString());
      spec.commandLine().getOut().flush();
    }

    /**
     * The session, created with the default configuration when it does not exist yet (an existing
     * one keeps its configuration: a PUT would replace it).
     */
    SessionView session(TransferClient client) {
      try {
        return client.session(options.session);
      } catch (NotFoundException e) {
        return client.putSession(options.session, SessionConfig.DEFAULT);
      }
    }
  }

  // ---------------------------------------------------------------- download, upload

  @Command(
      name = "download",
      description = "Download URL into the cluster's storage and wait for it, with a progress bar.")
  static final class Download extends Base {
    @Parameters(paramLabel = "URL", description = "What to download (http or https).")
    String url;

    @Option(names = "--sha256", paramLabel = "HEX", description = "The expected SHA-256 digest.")
    String sha256;

    @Option(
        names = "--expected-bytes",
        paramLabel = "N",
        description = "The expected size, a hint for the progress bar.")
    Long expectedBytes;

    @Option(
        names = {"-H", "--header"},
        paramLabel = "NAME:VALUE",
        description = "A request header for the origin (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(
        names = {"-o", "--output"},
        paramLabel = "FILE",
        description = "Also copy the downloaded bytes to FILE here when done.")
    Path output;

    @Option(names = "--no-wait", description = "Submit, print the task, and exit at once.")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
      Map<String, String> originHeaders = headers(headers);
      try (TransferClient client = client()) {
        SessionView session = session(client);
        TaskRequest request =
            new TaskRequest(
                TaskType.DOWNLOAD,
                url,
                null,
                originHeaders,
                expectedBytes,
                sha256,
                null,
                null,
                null,
                null,
                null,
                null);
        TaskView task = client.submit(options.session, request, UUID.randomUUID().toString());
        return new Follow(client, screen(), options, spec)
            .submitted(session, task, null, noWait, output);
      }
    }
  }

  @Command(
      name = "upload",
      description =
          "Send FILE to URL through the cluster: the file is staged in the cluster first, then"
              + " uploaded in the background.")
  static final class Upload extends Base {
    @Parameters(index = "0", paramLabel = "FILE", description = "The file to send.")
    Path file;

    @Parameters(index = "1", paramLabel = "URL", description = "Where to send it.")
    String url;

    @Option(
        names = {"-X", "--method"},
        paramLabel = "METHOD",
        description = "PUT (default) or POST.",
        defaultValue = "PUT")
    String method;

    @Option(
        names = {"-H", "--header"},
        paramLabel = "NAME:VALUE",
        description = "A request header for the target (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = "--no-wait", description = "Submit, print the task, and exit at once.")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
      Map<String, String> targetHeaders = headers(headers);
      if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
        throw new UsageError("not a readable file: " + file);
      }
      try (TransferClient client = client()) {
        SessionView session = session(client);
        Screen screen = screen();
        long size = Files.size(file);
        String name = "cli-" + UUID.randomUUID() + "-" + safeName(file);
        client.putObject(
            options.session, name, file, screen.bar("staging " + file.getFileName(), size));
        screen.clear();
        TaskRequest request =
            new TaskRequest(
                TaskType.UPLOAD,
                url,
                method.toUpperCase(java.util.Locale.ROOT),
                targetHeaders,
                null,
                null,
                null,
                null,
                null,
                null,
                UploadSource.ofObject(name),
                null);
        TaskView task = client.submit(options.session, request, UUID.randomUUID().toString());
        int exit =
            new Follow(client, screen, options, spec)
                .submitted(session, task, "upload " + file.getFileName(), noWait, null);
        if (noWait) {
          screen.note(
              "note: the file is staged as object "
                  + name
                  + " of session "
                  + options.session
                  + "; it stays (and counts toward the stored-bytes quota) until deleted: DELETE"
                  + " /v1/sessions/"
                  + options.session
                  + "/objects/"
                  + name);
        } else {
          // The upload is final: its staged copy is no longer needed. (Interrupted, the upload
          // goes on and still needs it.)
          try {
            client.deleteObject(options.session, name);
          } catch (RuntimeException e) {
            screen.note("note: could not delete the staged copy " + name + ": " + e.getMessage());
          }
        }
        return exit;
      }
    }

    private static String safeName(Path file) {
      String n = file.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
      return n.length() > 100 ? n.substring(0, 100) : n;
    }
  }

  static Map<String, String> headers(List<String> specs) {
    if (specs.isEmpty()) {
      return null;
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (String h : specs) {
      int colon = h.indexOf(':');
      if (colon <= 0) {
        throw new UsageError("a header is NAME:VALUE, not '" + h + "'");
      }
      out.put(h.substring(0, colon).trim(), h.substring(colon + 1).trim());
    }
    return out;
  }

  // ---------------------------------------------------------------- tasks, watch

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
          throw new UsageError("unknown state '" + s + "'; one of " + stateNames());
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

  // ---------------------------------------------------------------- control

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
        if (options.json) {
          printJson(t);
        } else {
          spec.commandLine()
              .getOut()
              .println(
                  verb()
                      + " "
                      + t.id()
                      + ": now "
                      + t.state().wire()
                      + " ("
                      + Render.bytes(t.bytesTransferred())
                      + ")");
        }
        return ExitCodes.OK;
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
}
