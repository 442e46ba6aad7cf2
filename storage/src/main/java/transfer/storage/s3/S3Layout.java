package transfer.storage.s3;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;
import java.util.UUID;
import transfer.contracts.DestinationKeys;

/**
 * Where stored bytes live in the bucket: the same names as on the file system, under the prefix of
 * {@code TRANSFER_STORAGE_URL}. Names only; {@link S3Bucket} does the requests.
 *
 * <pre>
 * &lt;prefix&gt;&lt;tenant&gt;/&lt;session&gt;/&lt;task&gt;.e&lt;epoch&gt;   a completed download; while it is written,
 *                                                 the key of its multipart upload
 * &lt;prefix&gt;&lt;tenant&gt;/&lt;session&gt;/objects/&lt;uuid&gt;    a staged object
 * &lt;prefix&gt;&lt;tenant&gt;/_named/&lt;key&gt;             a download that named its destination (a
 *                                                 copy of the completed download's object)
 * </pre>
 *
 * A download's key names the attempt that began its multipart upload; later attempts that continue
 * that upload complete it under the same key, and an attempt that starts over begins a new upload
 * under its own. An object exists under a key only once it is complete: a multipart upload is not
 * an object until it is completed. The ledger records an object as {@code s3://bucket/key}; a
 * location is only ever resolved to a key of this bucket under this prefix ({@link #key}).
 */
public final class S3Layout {
  private final String bucket;
  private final String prefix;

  /**
   * @param prefix empty, or ending with {@code /}
   */
  public S3Layout(String bucket, String prefix) {
    this.bucket = bucket;
    this.prefix = prefix;
  }

  public String bucket() {
    return bucket;
  }

  public String prefix() {
    return prefix;
  }

  /** The key of a download begun by attempt {@code epoch}. */
  public String download(String tenantId, String sessionId, String taskId, long epoch) {
    return session(tenantId, sessionId) + taskId + ".e" + epoch;
  }

  /** The start of the keys of every download attempt of {@code taskId}. */
  public String downloads(String tenantId, String sessionId, String taskId) {
    return session(tenantId, sessionId) + taskId + ".e";
  }

  /** The key of a download that named its destination {@code key}. */
  public String named(String tenantId, String key) {
    return prefix + tenantId + "/" + DestinationKeys.NAMED + "/" + key;
  }

  /** A fresh key for a staged object. */
  public String newObject(String tenantId, String sessionId) {
    return session(tenantId, sessionId) + "objects/" + UUID.randomUUID();
  }

  /** How the ledger records an object: {@code s3://bucket/key}. */
  public String location(String key) {
    return "s3://" + bucket + "/" + key;
  }

  /**
   * The key a recorded location names, when it is an {@code s3:} URI of this bucket under this
   * prefix with no empty or dot segment; empty for anything else.
   */
  public Optional<String> key(String location) {
    if (location == null) {
      return Optional.empty();
    }
    URI uri;
    try {
      uri = new URI(location);
    } catch (URISyntaxException e) {
      return Optional.empty();
    }
    if (!"s3".equalsIgnoreCase(uri.getScheme()) || !bucket.equals(uri.getHost())) {
      return Optional.empty();
    }
    String path = uri.getPath();
    if (path == null || path.length() < 2) {
      return Optional.empty();
    }
    String key = path.substring(1);
    if (!key.startsWith(prefix) || key.length() == prefix.length()) {
      return Optional.empty();
    }
    for (String segment : key.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return Optional.empty();
      }
    }
    return Optional.of(key);
  }

  private String session(String tenantId, String sessionId) {
    return prefix + tenantId + "/" + sessionId + "/";
  }
}
