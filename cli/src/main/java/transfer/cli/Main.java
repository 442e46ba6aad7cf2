package transfer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import transfer.client.TransferApiException;
import transfer.client.TransferConnectionException;
import transfer.client.TransferException;
import transfer.contracts.Json;

/** {@code ./transfer}: the cluster from a terminal. */
@Command(
    name = "transfer",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Moves files in the background through a transfer cluster.",
    subcommands = {
      SubmitCommands.Download.class,
      SubmitCommands.Upload.class,
      TaskCommands.Tasks.class,
      TaskCommands.Watch.class,
      TaskCommands.Cancel.class,
      TaskCommands.Suspend.class,
      TaskCommands.Resume.class,
      TaskCommands.Patch.class,
      TaskCommands.ContentCommand.class
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
}
