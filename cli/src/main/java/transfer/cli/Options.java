package transfer.cli;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import transfer.client.TransferClient;

/** The options every command takes. */
final class Options {
  @Option(
      names = "--api-url",
      paramLabel = "URL",
      description = "The API's address (default: TRANSFER_API_URL, else ${DEFAULT-VALUE}).",
      defaultValue = "${env:TRANSFER_API_URL:-http://127.0.0.1:8080}")
  String apiUrl;

  @Option(
      names = "--api-key",
      paramLabel = "KEY",
      description = "The API key (default: TRANSFER_API_KEY, else the local cluster's saved key).",
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
      throw new Main.UsageError(
          "no API key: give --api-key or set TRANSFER_API_KEY (the local cluster prints its key"
              + " at start and saves it in .data/api-key, which is read when TRANSFER_DATA_DIR"
              + " or the project's .data has it)");
    }
    URI uri;
    try {
      uri = URI.create(apiUrl);
    } catch (IllegalArgumentException e) {
      throw new Main.UsageError("not a URL: --api-url " + apiUrl);
    }
    if (uri.getScheme() == null || uri.getHost() == null) {
      throw new Main.UsageError("not an http(s) URL: --api-url " + apiUrl);
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
