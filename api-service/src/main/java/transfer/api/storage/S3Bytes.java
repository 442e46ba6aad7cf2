package transfer.api.storage;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.jboss.logging.Logger;
import transfer.ledger.Purging;
import transfer.storage.StoredFiles;
import transfer.storage.s3.S3Bucket;

/**
 * Stored bytes in an S3 bucket ({@link S3Bucket}). A staged body is spooled to a local file while
 * it arrives and is verified (as on the file system), then stored with one {@code PUT}; the object
 * exists only once it is complete.
 */
public final class S3Bytes implements StoredBytes {
  private static final Logger LOG = Logger.getLogger(S3Bytes.class);

  private final S3Bucket bucket;
  private final Duration linkTtl;

  public S3Bytes(S3Bucket bucket, Duration linkTtl) {
    this.bucket = bucket;
    this.linkTtl = linkTtl;
  }

  @Override
  public Optional<StoredBody> existing(String location) {
    Optional<String> key = bucket.layout().key(location);
    if (key.isEmpty()) {
      return Optional.empty();
    }
    try {
      return bucket.size(key.get()).map(size -> new StoredBody.Object(bucket, key.get(), size));
    } catch (IOException e) {
      throw new IllegalStateException("cannot reach the stored object " + location, e);
    }
  }

  @Override
  public String store(Path staged, String tenantId, String sessionId) throws IOException {
    String key = bucket.layout().newObject(tenantId, sessionId);
    try {
      bucket.put(key, staged);
    } finally {
      StoredFiles.deleteQuietly(staged);
    }
    return bucket.layout().location(key);
  }

  @Override
  public void delete(String location) {
    bucket
        .layout()
        .key(location)
        .ifPresent(
            key -> {
              try {
                bucket.delete(key);
              } catch (IOException e) {
                LOG.warnf(
                    "could not delete %s (%s); it is never served again", location, e.getMessage());
              }
            });
  }

  @Override
  public void deleteLeftovers(Purging.Purged.Left task) {
    // The upload its last checkpoint names, kept for its resumeData. An upload begun by a worker
    // killed before its first checkpoint is known to no row: the bucket's lifecycle rule for
    // incomplete multipart uploads removes it (README, "Storage").
    bucket.abortUploadOf(task.durableState());
  }

  @Override
  public Optional<URL> link(String location) {
    return bucket.layout().key(location).map(key -> bucket.presignedGet(key, linkTtl));
  }

  /**
   * Nothing to sweep: S3 shows an object only once complete. What an abandoned multipart upload
   * holds is the bucket's lifecycle rule's (AbortIncompleteMultipartUpload; README, "Storage").
   */
  @Override
  public int sweepOrphans(
      java.time.Instant idleBefore,
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>>
          existingTasks) {
    return 0;
  }
}
