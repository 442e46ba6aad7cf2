package transfer.storage;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;

/**
 * Where the cluster keeps stored bytes, as {@code TRANSFER_STORAGE_URL} names it: {@code
 * file:///path} (a file system shared by the services) or {@code s3://bucket/prefix} (an S3 bucket,
 * the prefix optional). Either {@link #root} or {@link #bucket} is set.
 */
public record StorageUrl(Path root, String bucket, String prefix) {

  /** The file-system backend at {@code root}. */
  public static StorageUrl file(Path root) {
    return new StorageUrl(root.toAbsolutePath().normalize(), null, null);
  }

  /** True for an S3 bucket. */
  public boolean s3() {
    return bucket != null;
  }

  /**
   * Reads a storage URL; a blank one means the file system at {@code defaultRoot}.
   *
   * @throws IllegalArgumentException with a sentence an operator can act on
   */
  public static StorageUrl parse(String url, Path defaultRoot) {
    if (url == null || url.isBlank()) {
      return file(defaultRoot);
    }
    URI uri;
    try {
      uri = new URI(url.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "transfer.storage.url " + url + " is not a URL (" + e.getMessage() + ")");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    switch (scheme) {
      case "file" -> {
        if (uri.getPath() == null || uri.getPath().isEmpty()) {
          throw new IllegalArgumentException(
              "transfer.storage.url " + url + " names no directory: write file:///path");
        }
        return file(Paths.get(uri.getPath()));
      }
      case "s3" -> {
        String bucket = uri.getHost();
        if (bucket == null || bucket.isEmpty()) {
          bucket = uri.getAuthority();
        }
        if (bucket == null || !bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
          throw new IllegalArgumentException(
              "transfer.storage.url "
                  + url
                  + " names no valid bucket: write s3://bucket/prefix (3 to 63 lowercase letters,"
                  + " digits, dots and hyphens)");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        String prefix = path.replaceAll("^/+", "").replaceAll("/+$", "");
        if (prefix.contains("..") || prefix.contains("//")) {
          throw new IllegalArgumentException(
              "transfer.storage.url " + url + " has a prefix with an empty or '..' segment");
        }
        return new StorageUrl(null, bucket, prefix.isEmpty() ? "" : prefix + "/");
      }
      default ->
          throw new IllegalArgumentException(
              "transfer.storage.url " + url + " is neither file:///path nor s3://bucket/prefix");
    }
  }

  @Override
  public String toString() {
    return s3() ? "s3://" + bucket + "/" + prefix : root.toUri().toString();
  }
}
