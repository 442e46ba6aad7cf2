package transfer.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

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
      if (Files.isRegularFile(file)) {
        String saved = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (!saved.isEmpty()) {
          restrictToOwner(file);
          return saved;
        }
      }
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      String key = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      // Created owner-only from the start, so the key is never readable by others, not even
      // briefly; moved into place so a crash never leaves a half-written key.
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(
            tmp,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else {
        Files.createFile(tmp);
      }
      Files.writeString(tmp, key + System.lineSeparator(), StandardCharsets.UTF_8);
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      LocalCluster.say("Generated a new %s; saved in %s (mode 600)", what, file);
      return key;
    } catch (IOException e) {
      throw new LaunchFailure(
          2,
          "Cannot read or save the %s in %s (%s); set %s instead."
              .formatted(what, file, e.getMessage(), variable));
    }
  }

  private static void restrictToOwner(Path file) throws IOException {
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
      if (!ownerOnly.equals(perms)) {
        Files.setPosixFilePermissions(file, ownerOnly);
      }
    }
  }
}
