package transfer.storage;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import transfer.contracts.DestinationKeys;

/**
 * Where stored bytes live under the storage root that the api-service and the workers share. The
 * names, and nothing else: no file is touched here ({@link StoredFiles} does the I/O).
 *
 * <pre>
 * &lt;root&gt;/.partial/&lt;task&gt;.e&lt;epoch&gt;.part   a download attempt's temporary object
 * &lt;root&gt;/.partial/obj-&lt;uuid&gt;.part          a staged object's body while it arrives
 * &lt;root&gt;/&lt;tenant&gt;/&lt;session&gt;/&lt;task&gt;.e&lt;epoch&gt;    a completed download (final)
 * &lt;root&gt;/&lt;tenant&gt;/&lt;session&gt;/objects/&lt;uuid&gt;   a staged object (final)
 * &lt;root&gt;/&lt;tenant&gt;/_named/&lt;key&gt;            a download that named its destination
 * </pre>
 *
 * A temporary name never clashes with a tenant's directory: tenant ids start with a letter or
 * digit, and {@code .partial} with a dot. The ledger stores a final file as its {@code file:} URI
 * ({@link #location}); a location is only ever resolved to a file inside the root ({@link
 * #resolve}), whatever a row says.
 */
public final class StorageLayout {
  /** The directory of temporary objects, under the root. */
  public static final String PARTIAL = ".partial";

  private static final String TEMPORARY_SUFFIX = ".part";

  private final Path root;

  public StorageLayout(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** Where temporary objects are: a body becomes content only by a move out of here. */
  public Path partialDirectory() {
    return root.resolve(PARTIAL);
  }

  /** The temporary object of attempt {@code epoch} of download {@code taskId}. */
  public Path temporary(String taskId, long epoch) {
    return partialDirectory().resolve(taskId + ".e" + epoch + TEMPORARY_SUFFIX);
  }

  /**
   * The epoch of {@code file} when it is a temporary object of {@code taskId}; empty for any other
   * file.
   */
  public OptionalLong temporaryEpoch(String taskId, Path file) {
    String name = file.getFileName().toString();
    String prefix = taskId + ".e";
    if (!name.startsWith(prefix) || !name.endsWith(TEMPORARY_SUFFIX)) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(
          Long.parseLong(
              name.substring(prefix.length(), name.length() - TEMPORARY_SUFFIX.length())));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /** A glob matching every temporary object of {@code taskId} in {@link #partialDirectory}. */
  public String temporaryGlob(String taskId) {
    return taskId + ".e*" + TEMPORARY_SUFFIX;
  }

  /** A fresh temporary file for a staged object's body while it arrives. */
  public Path newStagingFile() {
    return partialDirectory().resolve(STAGING_PREFIX + UUID.randomUUID() + TEMPORARY_SUFFIX);
  }

  private static final String STAGING_PREFIX = "obj-";

  /** What a file in {@link #partialDirectory} is, by its name. */
  public sealed interface Temporary {
    /** A staged object's body ({@link #newStagingFile}). */
    record Staging() implements Temporary {}

    /** An attempt's body of download {@code taskId} ({@link #temporary}). */
    record OfTask(String taskId) implements Temporary {}
  }

  /**
   * What {@code file} is when it is a temporary object of either kind; empty for any other file.
   */
  public java.util.Optional<Temporary> temporaryKind(Path file) {
    String name = file.getFileName().toString();
    if (!name.endsWith(TEMPORARY_SUFFIX)) {
      return java.util.Optional.empty();
    }
    if (name.startsWith(STAGING_PREFIX)) {
      return java.util.Optional.of(new Temporary.Staging());
    }
    int e = name.lastIndexOf(".e");
    if (e <= 0) {
      return java.util.Optional.empty();
    }
    String taskId = name.substring(0, e);
    return temporaryEpoch(taskId, file).isPresent()
        ? java.util.Optional.of(new Temporary.OfTask(taskId))
        : java.util.Optional.empty();
  }

  /** The final file of attempt {@code epoch} of a completed download. */
  public Path download(String tenantId, String sessionId, String taskId, long epoch)
      throws IOException {
    return inside(sessionDirectory(tenantId, sessionId).resolve(taskId + ".e" + epoch), tenantId);
  }

  /**
   * The file of a download that named its destination {@code key} (a {@link
   * transfer.contracts.DestinationKeys#valid} key).
   */
  public Path named(String tenantId, String key) throws IOException {
    return inside(root.resolve(tenantId).resolve(DestinationKeys.NAMED).resolve(key), tenantId);
  }

  /**
   * A fresh final name for a staged object: every PUT gets its own, so the file an upload task
   * resolved at submit never changes under it.
   */
  public Path newObject(String tenantId, String sessionId) throws IOException {
    return inside(
        sessionDirectory(tenantId, sessionId)
            .resolve("objects")
            .resolve(UUID.randomUUID().toString()),
        tenantId);
  }

  /** How the ledger records a final file: its {@code file:} URI. */
  public static String location(Path file) {
    return file.toUri().toString();
  }

  /** The file a recorded location names, when it is a {@code file:} URI inside the root. */
  public Optional<Path> resolve(String location) {
    return file(location).filter(f -> f.startsWith(root));
  }

  /** The file a {@code file:} URI names (normalized), wherever it is; empty for anything else. */
  public static Optional<Path> file(String location) {
    if (location == null) {
      return Optional.empty();
    }
    try {
      URI uri = new URI(location);
      if (!"file".equalsIgnoreCase(uri.getScheme())) {
        return Optional.empty();
      }
      return Optional.of(Paths.get(uri).normalize());
    } catch (URISyntaxException | IllegalArgumentException | FileSystemNotFoundException e) {
      return Optional.empty();
    }
  }

  private Path sessionDirectory(String tenantId, String sessionId) {
    return root.resolve(tenantId).resolve(sessionId);
  }

  private Path inside(Path file, String tenantId) throws IOException {
    Path normal = file.normalize();
    if (!normal.startsWith(root) || normal.equals(root)) {
      throw new IOException("tenant " + tenantId + " does not name a directory under the root");
    }
    return normal;
  }
}
