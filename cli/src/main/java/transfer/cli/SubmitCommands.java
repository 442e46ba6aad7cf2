package transfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import transfer.client.TransferClient;
import transfer.contracts.SessionView;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskType;
import transfer.contracts.TaskView;
import transfer.contracts.UploadSource;

/** The commands that submit a task: {@code download} and {@code upload}. */
final class SubmitCommands {
  private SubmitCommands() {}

  /** What every new task may say besides its bytes: when, how urgent, what it is for. */
  static final class TaskOptions {
    @Option(
        names = "--priority",
        paramLabel = "P",
        description = "0.0 to 1.0 (default 0.5): the order among the session's ready tasks.")
    Double priority;

    @Option(
        names = "--begin-at",
        paramLabel = "WHEN",
        description =
            "Not before WHEN: an instant (2026-12-24T18:00:00Z) or a time from now (PT10M, P1D).")
    String beginAt;

    @Option(
        names = "--metadata",
        paramLabel = "JSON",
        description = "A JSON object echoed in every event of the task.")
    String metadata;

    @Option(names = "--description", paramLabel = "TEXT", description = "Free text for people.")
    String description;

    @Option(
        names = "--suspended",
        description = "Create it suspended: it starts when ./transfer resume is given its id.")
    boolean suspended;

    Instant beginAt() {
      return beginAt == null ? null : when(beginAt, Instant.now());
    }

    JsonNode metadata() {
      if (metadata == null) {
        return null;
      }
      try {
        JsonNode n = Main.JSON.readTree(metadata);
        if (n == null || !n.isObject()) {
          throw new Main.UsageError("--metadata takes a JSON object, like '{\"order\":\"A-17\"}'");
        }
        return n;
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new Main.UsageError(
            "--metadata is not JSON: " + e.getOriginalMessage() + " (give a JSON object)");
      }
    }

    Boolean suspended() {
      return suspended ? Boolean.TRUE : null;
    }
  }

  /** An ISO-8601 instant, or a duration from {@code now}. */
  static Instant when(String value, Instant now) {
    String v = value.trim();
    try {
      if (v.startsWith("P") || v.startsWith("p")) {
        return now.plus(Duration.parse(v.toUpperCase(Locale.ROOT)));
      }
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      throw new Main.UsageError(
          "--begin-at "
              + value
              + " is neither an instant (2026-12-24T18:00:00Z) nor a duration (PT10M)");
    }
  }

  @Command(
      name = "download",
      description = "Download URL into the cluster's storage and wait for it, with a progress bar.")
  static final class Download extends Base {
    @Parameters(
        arity = "0..1",
        paramLabel = "URL",
        description = "What to download (http or https); may be left out with --resume-data.")
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
        names = "--resume-data",
        paramLabel = "DATA",
        description =
            "Continue a canceled or failed download from the bytes it stored: the resume data"
                + " ./transfer cancel --resume-data printed (or the failed task's resumeData).")
    String resumeData;

    @Option(
        names = "--destination",
        paramLabel = "KEY",
        description =
            "Store the body under KEY among your named objects (<tenant>/_named/KEY in the"
                + " bucket or storage root), replacing what is there, instead of a name of the"
                + " cluster's.")
    String destination;

    @Mixin TaskOptions task;

    @Option(
        names = {"-o", "--output"},
        paramLabel = "FILE",
        description = "Also copy the downloaded bytes to FILE here when done.")
    Path output;

    @Option(names = "--no-wait", description = "Submit, print the task, and exit at once.")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
      if (url == null && resumeData == null) {
        throw new Main.UsageError("give the URL to download, or --resume-data");
      }
      Map<String, String> originHeaders = Main.headers(headers);
      TaskRequest request =
          new TaskRequest(
              TaskType.DOWNLOAD,
              url,
              null,
              originHeaders,
              expectedBytes,
              sha256,
              task.description,
              task.priority,
              task.beginAt(),
              task.metadata(),
              null,
              resumeData,
              task.suspended());
      if (destination != null) {
        request = request.withDestination(destination);
      }
      try (TransferClient client = client()) {
        SessionView session = session(client);
        TaskView submitted = client.submit(options.session, request, UUID.randomUUID().toString());
        return new Follow(client, screen(), options, spec)
            .submitted(session, submitted, null, noWait || task.suspended, output);
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
        description = "PUT (default) or POST.")
    String method;

    @Option(
        names = {"-H", "--header"},
        paramLabel = "NAME:VALUE",
        description = "A request header for the target (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(
        names = "--resumable",
        paramLabel = "PROTOCOL",
        description =
            "tus or ietf: the target speaks this resumable-upload protocol; URL is where uploads"
                + " are created, and a cut upload continues where the target says it is.")
    String resumable;

    @Mixin TaskOptions task;

    @Option(names = "--no-wait", description = "Submit, print the task, and exit at once.")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
      Map<String, String> targetHeaders = Main.headers(headers);
      if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
        throw new Main.UsageError("not a readable file: " + file);
      }
      String verb =
          method != null
              ? method.toUpperCase(Locale.ROOT)
              : resumable != null ? null : TaskRequest.DEFAULT_UPLOAD_METHOD;
      Instant beginAt = task.beginAt();
      JsonNode metadata = task.metadata();
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
                verb,
                targetHeaders,
                null,
                null,
                task.description,
                task.priority,
                beginAt,
                metadata,
                UploadSource.ofObject(name),
                null,
                task.suspended(),
                resumable == null ? null : resumable.toLowerCase(Locale.ROOT));
        TaskView submitted = client.submit(options.session, request, UUID.randomUUID().toString());
        boolean returnNow = noWait || task.suspended;
        int exit =
            new Follow(client, screen, options, spec)
                .submitted(session, submitted, "upload " + file.getFileName(), returnNow, null);
        if (returnNow) {
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
}
