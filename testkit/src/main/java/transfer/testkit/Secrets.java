package transfer.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/**
 * Secrets kept in files of a data directory (keys, passwords, private keys): readable by their
 * owner only from the moment they exist, and moved into place whole, so that a crash never leaves
 * half of one.
 */
public final class Secrets {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rw-------");

  private Secrets() {}

  /** Whether {@link #readOrCreate} made the secret it answers (else it was saved before). */
  public record Secret(String value, boolean created) {}

  /**
   * The secret saved in {@code file} (trimmed; its mode set to owner-only if it was not), else a
   * new random one (256 bits, URL-safe Base64) saved there.
   */
  public static Secret readOrCreateSecret(Path file) {
    try {
      if (Files.isRegularFile(file)) {
        String saved = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (!saved.isEmpty()) {
          restrictToOwner(file);
          return new Secret(saved, false);
        }
      }
      String value = newSecret();
      writeOwnerOnly(file, value + System.lineSeparator());
      return new Secret(value, true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or save a secret in " + file, e);
    }
  }

  /** A new random secret: 256 bits, URL-safe Base64. */
  public static String newSecret() {
    byte[] random = new byte[32];
    RANDOM.nextBytes(random);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(random);
  }

  /** {@link #readOrCreateSecret}'s value. */
  public static String readOrCreate(Path file) {
    return readOrCreateSecret(file).value();
  }

  /** Writes {@code text} to {@code file}, owner-only from the start, replacing it whole. */
  public static void writeOwnerOnly(Path file, String text) throws IOException {
    writeOwnerOnly(file, text.getBytes(StandardCharsets.UTF_8));
  }

  /** As {@link #writeOwnerOnly(Path, String)}, for bytes. */
  public static void writeOwnerOnly(Path file, byte[] bytes) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    if (posix()) {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } else {
      Files.createFile(tmp);
    }
    Files.write(tmp, bytes);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void restrictToOwner(Path file) throws IOException {
    if (posix() && !OWNER_ONLY.equals(Files.getPosixFilePermissions(file))) {
      Files.setPosixFilePermissions(file, OWNER_ONLY);
    }
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }
}
