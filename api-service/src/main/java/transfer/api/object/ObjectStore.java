package transfer.api.object;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import transfer.api.quota.BodyRoom;
import transfer.storage.StoredFiles;

/**
 * The bodies of staged objects while they arrive: written to {@code .partial/obj-<uuid>.part},
 * hashed, and forced to disk. Only a complete, verified one is stored ({@link
 * transfer.api.storage.StoredBytes#store}) under a fresh name, so the object an upload task
 * resolved at submit never changes under it.
 */
@Singleton
public class ObjectStore {
  // Per upload in flight: small enough for many at once in a 256 MiB heap, large enough that the
  // writes to disk stay few.
  static final int BUFFER_BYTES = 128 * 1024;

  private final StoredFiles files;

  @Inject
  public ObjectStore(StoredFiles files) {
    this.files = files;
  }

  public ObjectStore(Path root) {
    this(new StoredFiles(root));
  }

  /** A complete body in its temporary file, with its size and SHA-256 (lowercase hex). */
  public record Staged(Path file, long size, String sha256) {}

  /** The body is larger than allowed; nothing is kept. */
  public static final class TooLarge extends Exception {
    private final long limit;

    TooLarge(long limit) {
      super("the body exceeds " + limit + " bytes", null, false, false);
      this.limit = limit;
    }

    /** The bytes the body was allowed. */
    public long limit() {
      return limit;
    }
  }

  /** As {@link #stage(InputStream, long, BodyRoom)}, with a fixed limit. */
  public Staged stage(InputStream body, long declaredLength, long maxBytes)
      throws IOException, TooLarge {
    return stage(body, declaredLength, needed -> maxBytes);
  }

  /** The body ended before the length the client declared; nothing is kept. */
  public static final class Incomplete extends IOException {
    Incomplete(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Streams {@code body} to a new temporary file, hashing it on the way, and forces it to disk.
   * {@code declaredLength} is the client's Content-Length, or -1. On any failure the temporary file
   * is deleted before this returns. A declared length {@code room} does not allow is refused before
   * a byte is read.
   */
  public Staged stage(InputStream body, long declaredLength, BodyRoom room)
      throws IOException, TooLarge {
    long allowed = room.allow(Math.max(0, declaredLength));
    if (declaredLength > allowed) {
      throw new TooLarge(allowed);
    }
    Path temp = files.newStagingFile();
    MessageDigest sha256 = sha256();
    long size = 0;
    boolean kept = false;
    try (FileChannel out =
        FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
      byte[] buf = new byte[BUFFER_BYTES];
      int filled = 0;
      while (true) {
        int n;
        try {
          n = body.read(buf, filled, buf.length - filled);
        } catch (IOException e) {
          throw new Incomplete(
              "the connection broke after "
                  + (size + filled)
                  + (declaredLength >= 0 ? " of " + declaredLength : "")
                  + " bytes",
              e);
        }
        if (n > 0) {
          filled += n;
          if (size + filled > allowed) {
            allowed = room.allow(size + filled);
            if (size + filled > allowed) {
              throw new TooLarge(allowed);
            }
          }
        }
        if (n < 0 || filled == buf.length) {
          sha256.update(buf, 0, filled);
          ByteBuffer chunk = ByteBuffer.wrap(buf, 0, filled);
          while (chunk.hasRemaining()) {
            out.write(chunk);
          }
          size += filled;
          filled = 0;
        }
        if (n < 0) {
          break;
        }
      }
      // HTTP framing normally reports a short body as a broken connection; this is the guard for
      // any path where the stream just ends.
      if (declaredLength >= 0 && size != declaredLength) {
        throw new Incomplete(
            "the body ended after " + size + " of " + declaredLength + " bytes", null);
      }
      files.force(out, temp);
      kept = true;
    } finally {
      if (!kept) {
        deleteQuietly(temp);
      }
    }
    return new Staged(temp, size, HexFormat.of().formatHex(sha256.digest()));
  }

  /** Deletes a staged body that will not be kept. */
  public void discard(Staged staged) {
    deleteQuietly(staged.file());
  }

  /** Where staged bodies are spooled, and how they are forced. */
  StoredFiles files() {
    return files;
  }

  static void deleteQuietly(Path p) {
    StoredFiles.deleteQuietly(p);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
