package transfer.worker.storage;

import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import transfer.storage.s3.S3Bucket;

/**
 * The stored sources of uploads, whichever backend holds them: a file under the storage root
 * ({@link UploadSource}), or an object of the bucket (a staged object or a finished download, when
 * {@code transfer.storage.url} is {@code s3://}). A source is sent only if it is still what was
 * recorded at submit: ours, there, and of the recorded size.
 */
public final class UploadSources {
  private final FileStorage files;
  private final S3Bucket bucket;
  private final WorkerExecutor requests;

  /**
   * @param bucket the bucket of an S3 backend, or null for the file system
   * @param requests the threads S3 requests block (unused without a bucket)
   */
  public UploadSources(FileStorage files, S3Bucket bucket, WorkerExecutor requests) {
    this.files = files;
    this.bucket = bucket;
    this.requests = requests;
  }

  /** A checked source: a file, or an object's key. */
  public record Source(Path file, String key) {}

  /**
   * The source a task recorded, checked (blocking).
   *
   * @throws UploadSource.SourceMissing when it is not ours, gone or of another size (final)
   * @throws IOException when storage could not be read (retried)
   */
  public Source check(String location, Long size) throws IOException {
    if (bucket == null || location == null || !location.startsWith("s3:")) {
      return new Source(UploadSource.checked(location, size, files.files().layout().root()), null);
    }
    String key =
        bucket
            .layout()
            .key(location)
            .orElseThrow(
                () ->
                    new UploadSource.SourceMissing(
                        "the source " + location + " is not in this cluster's bucket and prefix"));
    if (size == null) {
      throw new UploadSource.SourceMissing("the task records no stored source size");
    }
    long actual =
        bucket
            .size(key)
            .orElseThrow(
                () -> new UploadSource.SourceMissing("the stored source " + location + " is gone"));
    if (actual != size) {
      throw new UploadSource.SourceMissing(
          "the stored source " + location + " has " + actual + " bytes, it had " + size);
    }
    return new Source(null, key);
  }

  /**
   * Opens a checked source to send bytes {@code from} to {@code size}; {@code digest} sees all of
   * them, the first {@code from} (which the target holds) read but not handed over.
   */
  public Future<ObjectReader> open(Source source, long from, long size, MessageDigest digest) {
    if (source.file() != null) {
      return files.openReader(source.file(), from, size, digest);
    }
    return requests.executeBlocking(
        () -> {
          InputStream in = bucket.read(source.key(), 0, -1);
          ObjectStream stream = new ObjectStream(in, source.key());
          try {
            stream.hashPrefix(from, digest);
          } catch (IOException | RuntimeException e) {
            stream.close();
            throw e;
          }
          return new ObjectReader(
              bucket.layout().location(source.key()),
              files.io(),
              files.buffers(),
              digest,
              stream,
              from,
              size);
        },
        false);
  }

  /** An object's bytes read in order, as the reader asks for them. */
  private static final class ObjectStream implements ObjectReader.Source {
    private final InputStream in;
    private final String key;
    private final byte[] scratch = new byte[64 * 1024];
    private long position;

    ObjectStream(InputStream in, String key) {
      this.in = in;
      this.key = key;
    }

    void hashPrefix(long bytes, MessageDigest digest) throws IOException {
      while (position < bytes) {
        int n = in.read(scratch, 0, (int) Math.min(scratch.length, bytes - position));
        if (n < 0) {
          throw new ObjectReader.Shorter(
              "the stored source s3 key " + key + " ended after " + position + " bytes");
        }
        digest.update(scratch, 0, n);
        position += n;
      }
    }

    @Override
    public synchronized int read(ByteBuffer dst, long at) throws IOException {
      if (at != position) {
        throw new IOException("the source " + key + " is read in order: asked " + at);
      }
      int n = in.read(scratch, 0, Math.min(scratch.length, dst.remaining()));
      if (n > 0) {
        dst.put(scratch, 0, n);
        position += n;
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
