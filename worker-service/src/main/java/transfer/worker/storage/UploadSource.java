package transfer.worker.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import transfer.storage.StorageLayout;

/**
 * The stored source of an upload, as the api-service resolved it at submit: sent only if it is
 * still what was recorded then (DESIGN.md, "Uploads").
 */
public final class UploadSource {
  private UploadSource() {}

  /**
   * The stored source of an upload, checked: a {@code file:} URI whose real path is under the
   * storage root (no link leads out of it) and a regular file of exactly {@code size} bytes.
   *
   * @throws SourceMissing when it is not (final: another attempt would find the same)
   * @throws IOException when storage could not be read (retried)
   */
  public static Path checked(String location, Long size, Path root) throws IOException {
    if (location == null || size == null) {
      throw new SourceMissing("the task records no stored source");
    }
    Path path =
        StorageLayout.file(location)
            .orElseThrow(
                () -> new SourceMissing("the source location " + location + " is not a file: URI"));
    Path rootPath = root.toAbsolutePath().normalize();
    if (!path.startsWith(rootPath)) {
      throw new SourceMissing("the source " + path + " is outside the storage root");
    }
    if (!Files.exists(path)) {
      throw new SourceMissing("the stored source " + path + " is gone");
    }
    Path real = path.toRealPath();
    if (!real.startsWith(rootPath.toRealPath())) {
      throw new SourceMissing("the source " + path + " leads outside the storage root");
    }
    if (!Files.isRegularFile(real)) {
      throw new SourceMissing("the source " + path + " is not a regular file");
    }
    long actual = Files.size(real);
    if (actual != size) {
      throw new SourceMissing(
          "the stored source " + path + " has " + actual + " bytes, it had " + size);
    }
    return real;
  }

  /** The source cannot be sent, now or later. */
  public static final class SourceMissing extends IOException {
    public SourceMissing(String message) {
      super(message);
    }
  }
}
