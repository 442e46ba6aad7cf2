package transfer.worker.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Where an {@link ObjectWriter}'s bytes go: the temporary object opened twice, through the page
 * cache and with {@code O_DIRECT} where the filesystem takes it. A chunk of at least {@link
 * #DIRECT_MIN} bytes goes directly up to its last whole block, its unaligned tail (and any smaller
 * chunk) through the page cache. A filesystem that opens {@code O_DIRECT} files but refuses the
 * writes ({@code EINVAL}) gets the page cache from then on. Used by the writer's write lane, one
 * task at a time. See DESIGN.md, "The write path".
 */
final class ObjectChannels {
  /**
   * Smaller chunks are written through the page cache: a small body then never waits for the device
   * (written back later, as any file), and a large one's first chunks are a few hundred KiB of
   * cache. Chunk offsets stay aligned all the same, so the chunks after them can go directly.
   */
  static final int DIRECT_MIN = 256 * 1024;

  private final FileStorage storage;
  private final Path path;
  private final int align;
  private final FileChannel channel;

  /** The {@code O_DIRECT} channel, or null when writing through the page cache. */
  private volatile FileChannel direct;

  ObjectChannels(
      FileStorage storage, Path path, int align, FileChannel channel, FileChannel direct) {
    this.storage = storage;
    this.path = path;
    this.align = align;
    this.channel = channel;
    this.direct = direct;
  }

  Path path() {
    return path;
  }

  /** True while the object is written with {@code O_DIRECT}. */
  boolean directIo() {
    return direct != null;
  }

  /** Writes {@code bytes} at {@code offset}, directly where it can. */
  void write(ByteBuffer bytes, long offset) throws IOException {
    int len = bytes.remaining();
    FileChannel d = len >= DIRECT_MIN ? direct : null;
    int body = d == null ? 0 : len - len % align;
    if (body > 0) {
      try {
        writeFully(d, bytes.duplicate().limit(body), offset);
      } catch (IOException e) {
        if (!invalidArgument(e)) {
          throw e;
        }
        // Some filesystems open O_DIRECT files but refuse the writes: the page cache it is.
        direct = null;
        closeQuietly(d);
        storage.directIoUnavailable(path, e);
        body = 0;
      }
    }
    if (body < len) {
      writeFully(channel, bytes.position(body), offset + body);
    }
  }

  /** Forces what was written to disk: a checkpoint may record it. */
  void force() throws IOException {
    storage.files().force(channel, path);
  }

  /**
   * The body is complete at {@code size} bytes: cut to that size, forced to disk (durable before
   * anyone may record it: the completion follows this), and closed.
   */
  void finish(long size) throws IOException {
    channel.truncate(size);
    force();
    close();
  }

  void close() {
    closeQuietly(direct);
    closeQuietly(channel);
  }

  private static void writeFully(FileChannel ch, ByteBuffer b, long offset) throws IOException {
    long at = offset;
    while (b.hasRemaining()) {
      at += ch.write(b, at);
    }
  }

  static boolean invalidArgument(IOException e) {
    return e.getMessage() != null && e.getMessage().contains("Invalid argument");
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // nothing more to write through it
      }
    }
  }
}
