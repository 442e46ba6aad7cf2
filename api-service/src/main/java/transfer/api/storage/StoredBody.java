package transfer.api.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import transfer.storage.s3.S3Bucket;

/** The stored bytes a ledger row names, found in storage: a file, or an S3 object. */
public sealed interface StoredBody {
  long size();

  /** A file on the shared file system (served with the file's own zero-copy path). */
  record File(Path path, long size) implements StoredBody {}

  /** An object in the bucket, read with ranged GETs. */
  record Object(S3Bucket bucket, String key, long size) implements StoredBody {
    /** {@code length} bytes from {@code first}, as a stream the caller closes. */
    public InputStream open(long first, long length) throws IOException {
      if (length == 0) {
        return InputStream.nullInputStream();
      }
      return bucket.read(key, first, first + length - 1);
    }
  }
}
