package transfer.deploy;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import transfer.testkit.Secrets;

/**
 * The local cluster's two keys (the default tenant's API key and the admin key): given by their
 * variables, else saved in the data directory, else made once and saved there, owner-only.
 */
final class LocalKeys {
  private final Settings settings;

  LocalKeys(Settings settings) {
    this.settings = settings;
  }

  String apiKey() {
    return savedKey(settings.apiKey(), settings.apiKeyFile(), "API key", "TRANSFER_API_KEY");
  }

  /** The admin API's key: the same rules as the API key, in a file of its own. */
  String adminKey() {
    return savedKey(
        settings.adminKey(), settings.adminKeyFile(), "admin key", "TRANSFER_ADMIN_KEY");
  }

  /**
   * A key given by its variable, else the one saved in {@code file}, else a new random one (256
   * bits) saved there, readable by the owner only.
   */
  private static String savedKey(String given, Path file, String what, String variable) {
    if (given != null) {
      return given.trim();
    }
    try {
      Secrets.Secret key = Secrets.readOrCreateSecret(file);
      if (key.created()) {
        LocalCluster.say("Generated a new %s; saved in %s (mode 600)", what, file);
      }
      return key.value();
    } catch (UncheckedIOException e) {
      throw new LaunchFailure(
          2,
          "Cannot read or save the %s in %s (%s); set %s instead."
              .formatted(what, file, e.getCause().getMessage(), variable));
    }
  }
}
