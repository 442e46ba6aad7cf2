package transfer.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import transfer.client.NotFoundException;
import transfer.client.TransferClient;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;

/** A command with the shared options and a screen. */
abstract class Base implements Callable<Integer> {
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
    spec.commandLine().getOut().println(Main.JSON.valueToTree(value).toString());
    spec.commandLine().getOut().flush();
  }

  /** A command's answer: {@code value} as one JSON line with --json, else {@code line}. */
  int answer(Object value, String line) {
    if (options.json) {
      printJson(value);
    } else {
      spec.commandLine().getOut().println(line);
      spec.commandLine().getOut().flush();
    }
    return ExitCodes.OK;
  }

  /**
   * The session, created with the default configuration when it does not exist yet (an existing one
   * keeps its configuration: a PUT would replace it).
   */
  SessionView session(TransferClient client) {
    try {
      return client.session(options.session);
    } catch (NotFoundException e) {
      return client.putSession(options.session, SessionConfig.DEFAULT);
    }
  }
}
