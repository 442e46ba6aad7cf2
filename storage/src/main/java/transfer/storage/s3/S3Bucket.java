package transfer.storage.s3;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListPartsResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.NoSuchUploadException;
import software.amazon.awssdk.services.s3.model.Part;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The requests both services make to the bucket, blocking (callers run them off event loops). SDK
 * errors come out as {@link IOException}s that say what failed on which key; a missing key or
 * upload as {@link Missing}.
 */
public final class S3Bucket implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(S3Bucket.class);

  private final S3Client s3;
  private final S3Presigner presigner;
  private final S3Layout layout;

  public S3Bucket(S3Client s3, S3Presigner presigner, S3Layout layout) {
    this.s3 = s3;
    this.presigner = presigner;
    this.layout = layout;
  }

  /** A bucket reached with {@code settings}, laid out under {@code prefix}. */
  public static S3Bucket open(S3Settings settings, String bucket, String prefix) {
    return new S3Bucket(settings.client(), settings.presigner(), new S3Layout(bucket, prefix));
  }

  public S3Layout layout() {
    return layout;
  }

  private String bucket() {
    return layout.bucket();
  }

  /** A key or a multipart upload that is not (or no longer) there. */
  public static final class Missing extends IOException {
    Missing(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The size of the object under {@code key}; empty when there is none. */
  public Optional<Long> size(String key) throws IOException {
    try {
      return Optional.of(s3.headObject(b -> b.bucket(bucket()).key(key)).contentLength());
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw failed("HEAD", key, e);
    } catch (SdkException e) {
      throw failed("HEAD", key, e);
    }
  }

  /**
   * The bytes of {@code key} from {@code first} to {@code last} (inclusive; -1: to the end), as a
   * stream the caller closes.
   */
  public InputStream read(String key, long first, long last) throws IOException {
    String range = first == 0 && last < 0 ? null : "bytes=" + first + "-" + (last < 0 ? "" : last);
    try {
      return s3.getObject(b -> b.bucket(bucket()).key(key).range(range));
    } catch (NoSuchKeyException e) {
      throw new Missing("s3://" + bucket() + "/" + key + " is gone", e);
    } catch (SdkException e) {
      throw failed("GET", key, e);
    }
  }

  /** Stores the file {@code body} as the object {@code key} in one request. */
  public void put(String key, Path body) throws IOException {
    try {
      s3.putObject(b -> b.bucket(bucket()).key(key), RequestBody.fromFile(body));
    } catch (SdkException e) {
      throw failed("PUT", key, e);
    }
  }

  /** Stores {@code length} bytes of {@code body} as the object {@code key} in one request. */
  public void put(String key, InputStream body, long length) throws IOException {
    try {
      s3.putObject(b -> b.bucket(bucket()).key(key), RequestBody.fromInputStream(body, length));
    } catch (SdkException e) {
      throw failed("PUT", key, e);
    }
  }

  /** Deletes the object {@code key} (nothing when it is not there). */
  public void delete(String key) throws IOException {
    try {
      s3.deleteObject(b -> b.bucket(bucket()).key(key));
    } catch (SdkException e) {
      throw failed("DELETE", key, e);
    }
  }

  /** Begins a multipart upload to {@code key}; answers its id. */
  public String beginUpload(String key) throws IOException {
    try {
      return s3.createMultipartUpload(b -> b.bucket(bucket()).key(key)).uploadId();
    } catch (SdkException e) {
      throw failed("CreateMultipartUpload", key, e);
    }
  }

  /** Uploads the first {@code length} bytes of {@code file} as part {@code number}; its ETag. */
  public String uploadPart(String key, String uploadId, int number, Path file, long length)
      throws IOException {
    try {
      return s3.uploadPart(
              b ->
                  b.bucket(bucket())
                      .key(key)
                      .uploadId(uploadId)
                      .partNumber(number)
                      .contentLength(length),
              RequestBody.fromFile(file))
          .eTag();
    } catch (NoSuchUploadException e) {
      throw new Missing("the multipart upload of " + key + " is gone", e);
    } catch (SdkException e) {
      throw failed("UploadPart " + number + " of", key, e);
    }
  }

  /**
   * The ETags of parts 1 to {@code count} of an upload, each checked to hold {@code partSize}
   * bytes.
   *
   * @throws Missing when the upload is gone or lacks one of those parts
   */
  public List<String> parts(String key, String uploadId, int count, long partSize)
      throws IOException {
    List<String> etags = new ArrayList<>(count);
    Integer marker = null;
    try {
      while (etags.size() < count) {
        Integer from = marker;
        ListPartsResponse page =
            s3.listParts(
                b -> b.bucket(bucket()).key(key).uploadId(uploadId).partNumberMarker(from));
        for (Part p : page.parts()) {
          if (p.partNumber() > count) {
            break;
          }
          if (p.partNumber() != etags.size() + 1 || p.size() != partSize) {
            throw new Missing(
                "part "
                    + (etags.size() + 1)
                    + " of the multipart upload of "
                    + key
                    + " is not as recorded",
                null);
          }
          etags.add(p.eTag());
        }
        if (!Boolean.TRUE.equals(page.isTruncated()) || page.nextPartNumberMarker() == null) {
          break;
        }
        marker = page.nextPartNumberMarker();
      }
    } catch (NoSuchUploadException e) {
      throw new Missing("the multipart upload of " + key + " is gone", e);
    } catch (SdkException e) {
      throw failed("ListParts", key, e);
    }
    if (etags.size() < count) {
      throw new Missing(
          "the multipart upload of " + key + " has " + etags.size() + " of " + count + " parts",
          null);
    }
    return etags;
  }

  /** Completes an upload from its parts' ETags, in order: the object exists from now on. */
  public void complete(String key, String uploadId, List<String> etags) throws IOException {
    List<CompletedPart> parts = new ArrayList<>(etags.size());
    for (int i = 0; i < etags.size(); i++) {
      parts.add(CompletedPart.builder().partNumber(i + 1).eTag(etags.get(i)).build());
    }
    try {
      s3.completeMultipartUpload(
          b -> b.bucket(bucket()).key(key).uploadId(uploadId).multipartUpload(m -> m.parts(parts)));
    } catch (NoSuchUploadException e) {
      throw new Missing("the multipart upload of " + key + " is gone", e);
    } catch (SdkException e) {
      throw failed("CompleteMultipartUpload", key, e);
    }
  }

  /** Parts of a copy: few requests, and 10,000 of them reach 5 TiB, S3's largest object. */
  static final long COPY_PART_SIZE = 512L << 20;

  /** What must still hold just before a copy becomes visible; throws when it does not. */
  @FunctionalInterface
  public interface Gate {
    void pass() throws IOException;
  }

  /**
   * Copies the object {@code from}, of {@code size} bytes, to {@code to} inside the bucket, without
   * the bytes leaving S3: a multipart copy ({@code UploadPartCopy}, any size up to 5 TiB), which
   * becomes the object {@code to} only once {@code gate} passed. Aborted if anything fails, {@code
   * gate} included.
   */
  public void copy(String from, String to, long size, Gate gate) throws IOException {
    if (size == 0) {
      gate.pass();
      put(to, InputStream.nullInputStream(), 0);
      return;
    }
    long partSize = Math.max(COPY_PART_SIZE, (size + 9_999) / 10_000);
    String uploadId = beginUpload(to);
    boolean completed = false;
    try {
      List<String> etags = new ArrayList<>();
      for (long first = 0; first < size; first += partSize) {
        int number = etags.size() + 1;
        String range = "bytes=" + first + "-" + (Math.min(size, first + partSize) - 1);
        try {
          etags.add(
              s3.uploadPartCopy(
                      b ->
                          b.sourceBucket(bucket())
                              .sourceKey(from)
                              .destinationBucket(bucket())
                              .destinationKey(to)
                              .uploadId(uploadId)
                              .partNumber(number)
                              .copySourceRange(range))
                  .copyPartResult()
                  .eTag());
        } catch (NoSuchKeyException e) {
          throw new Missing("s3://" + bucket() + "/" + from + " is gone", e);
        } catch (SdkException e) {
          throw failed("UploadPartCopy " + number + " from " + from + " to", to, e);
        }
      }
      gate.pass();
      complete(to, uploadId, etags);
      completed = true;
    } finally {
      if (!completed) {
        abort(to, uploadId);
      }
    }
  }

  /** Aborts an upload; false (and a log line) when it could not be. */
  public boolean abort(String key, String uploadId) {
    try {
      s3.abortMultipartUpload(b -> b.bucket(bucket()).key(key).uploadId(uploadId));
      return true;
    } catch (NoSuchUploadException e) {
      return true;
    } catch (SdkException e) {
      LOG.warnf(
          "could not abort the multipart upload %s of s3://%s/%s (%s); the next cleanup retries",
          uploadId, bucket(), key, e.getMessage());
      return false;
    }
  }

  /**
   * Aborts the multipart upload a checkpoint's state names ({@link S3Checkpoint}); nothing for a
   * state that names none. False when it could not be aborted (said in the log).
   */
  public boolean abortUploadOf(String durableState) {
    S3Checkpoint cp = S3Checkpoint.decode(durableState);
    return cp == null || abort(cp.key(), cp.uploadId());
  }

  /** A multipart upload in progress. */
  public record Upload(String key, String uploadId, Instant initiated) {}

  /** The uploads in progress whose keys start with {@code keyPrefix}. */
  public List<Upload> uploads(String keyPrefix) throws IOException {
    List<Upload> all = new ArrayList<>();
    String keyMarker = null;
    String idMarker = null;
    try {
      while (true) {
        String k = keyMarker;
        String u = idMarker;
        ListMultipartUploadsResponse page =
            s3.listMultipartUploads(
                b -> b.bucket(bucket()).prefix(keyPrefix).keyMarker(k).uploadIdMarker(u));
        for (MultipartUpload m : page.uploads()) {
          all.add(new Upload(m.key(), m.uploadId(), m.initiated()));
        }
        if (!Boolean.TRUE.equals(page.isTruncated())) {
          return all;
        }
        keyMarker = page.nextKeyMarker();
        idMarker = page.nextUploadIdMarker();
      }
    } catch (SdkException e) {
      throw failed("ListMultipartUploads", keyPrefix, e);
    }
  }

  /** The keys of the objects whose keys start with {@code keyPrefix}, in order. */
  public List<String> keys(String keyPrefix) throws IOException {
    List<String> keys = new ArrayList<>();
    try {
      s3.listObjectsV2Paginator(b -> b.bucket(bucket()).prefix(keyPrefix))
          .contents()
          .forEach(o -> keys.add(o.key()));
    } catch (SdkException e) {
      throw failed("ListObjectsV2", keyPrefix, e);
    }
    return keys;
  }

  /** Creates the bucket (for tests and the local cluster's embedded server). */
  public void create() throws IOException {
    try {
      s3.createBucket(b -> b.bucket(bucket()));
    } catch (software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException e) {
      // there already
    } catch (SdkException e) {
      throw failed("CreateBucket", "", e);
    }
  }

  /** A link that reads {@code key} without credentials for {@code ttl}. */
  public java.net.URL presignedGet(String key, Duration ttl) {
    return presigner
        .presignGetObject(
            b -> b.signatureDuration(ttl).getObjectRequest(g -> g.bucket(bucket()).key(key)))
        .url();
  }

  private IOException failed(String what, String key, SdkException e) {
    return new IOException(
        what + " s3://" + bucket() + "/" + key + " failed: " + e.getMessage(), e);
  }

  @Override
  public void close() {
    s3.close();
    presigner.close();
  }
}
