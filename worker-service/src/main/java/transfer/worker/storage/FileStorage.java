package transfer.worker.storage;

import com.sun.nio.file.ExtendedOpenOption;
import io.quarkus.logging.Log;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import transfer.storage.StorageUrl;
import transfer.storage.StoredFiles;
import transfer.worker.WorkerConfig;

/**
 * Objects on a filesystem shared by the workers and the api-service. A transfer writes a temporary
 * object named by task and epoch; only a verified one is moved (atomically) to its final name, so a
 * partial body is never readable as content. Bodies are written by {@link ObjectWriter}s, on this
 * worker's storage threads, from chunks of its {@link WriteBuffers}.
 */
@Singleton
public class FileStorage {
  /**
   * Address and size alignment of the write buffers: a page, the block size of most filesystems.
   */
  static final int ALIGN = 4096;

  private final StoredFiles files;
  private final WorkerExecutor io;
  private final WriteBuffers buffers;
  private final AtomicBoolean directIoOff = new AtomicBoolean();

  /** The filesystem's block size, read once. */
  private volatile long blockSize = -1;

  @Inject
  public FileStorage(WorkerConfig config, Vertx vertx) {
    this(
        new StoredFiles(fileRoot(config)),
        vertx,
        config.storage().directIo(),
        config.storage().writeBufferSize().asLongValue(),
        config.storage().writeBufferMemory().asLongValue(),
        config.storage().ioThreads());
  }

  public FileStorage(
      Path root, Vertx vertx, boolean directIo, long bufferSize, long bufferMemory, int ioThreads) {
    this(new StoredFiles(root), vertx, directIo, bufferSize, bufferMemory, ioThreads);
  }

  public FileStorage(
      StoredFiles files,
      Vertx vertx,
      boolean directIo,
      long bufferSize,
      long bufferMemory,
      int ioThreads) {
    this.files = files;
    this.io = vertx.createSharedWorkerExecutor("transfer-storage", Math.max(1, ioThreads));
    this.buffers = new WriteBuffers(bufferSize, bufferMemory, ALIGN);
    if (!directIo) {
      directIoOff.set(true);
      Log.infof(
          "Storage %s: bodies are written through the page cache (transfer.storage.direct-io is"
              + " off)",
          files.layout().root());
    }
  }

  /**
   * The directory of the file-system backend: the one {@code transfer.storage.url} names, else
   * {@code transfer.storage.root} (where uploads' file sources are, on S3 too).
   */
  static Path fileRoot(WorkerConfig config) {
    StorageUrl url = config.storage().location();
    return url.s3() ? config.storage().root() : url.root();
  }

  /** The layout of stored bytes and how they are made durable (shared with the api-service). */
  public StoredFiles files() {
    return files;
  }

  /** The threads that read and write objects (never an event loop). */
  public WorkerExecutor io() {
    return io;
  }

  /** The chunks bodies are gathered in (downloads) or read into (uploads). */
  public WriteBuffers buffers() {
    return buffers;
  }

  public Path temporary(String taskId, long epoch) throws IOException {
    return files.temporary(taskId, epoch);
  }

  /**
   * Makes a verified temporary object, forced by its writer, the final file of its task: moved
   * atomically. Its name survives a crash once the answer's directories are synced, which the
   * ledger writer does for a whole group before its commit records it.
   */
  public StoredFiles.Moved commit(
      Path temporary, String tenantId, String sessionId, String taskId, long epoch)
      throws IOException {
    return files.moveDownload(temporary, tenantId, sessionId, taskId, epoch);
  }

  /**
   * Makes a verified temporary object the file of the destination its task named ({@code
   * <root>/<tenant>/_named/<key>}), replacing what is there: moved atomically, synced as {@link
   * #commit}'s.
   */
  public StoredFiles.Moved commitNamed(Path temporary, String tenantId, String key)
      throws IOException {
    return files.moveNamed(temporary, tenantId, key);
  }

  /**
   * Copies the first {@code bytes} of an earlier attempt's temporary object into {@code target}
   * (created or truncated), feeding them to {@code digest}, and forces them to disk. The earlier
   * object may still be written by a frozen worker, but only beyond its checkpoint, so the prefix
   * read here is stable. False when the earlier object is missing or shorter than {@code bytes}.
   */
  public boolean copyPrefix(Path source, Path target, long bytes, MessageDigest digest)
      throws IOException {
    if (!Files.isRegularFile(source) || Files.size(source) < bytes) {
      return false;
    }
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
        FileChannel out =
            FileChannel.open(
                target,
                StandardOpenOption.WRITE,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
      if (hashPrefix(in, bytes, digest, out) < bytes) {
        return false;
      }
      files.force(out, target);
    }
    return true;
  }

  /**
   * Opens {@code path} for a body that continues at {@code position}, which must be its size unless
   * {@code truncate} (then it is 0 and the object is emptied). {@code digest} has seen the first
   * {@code position} bytes and sees the rest as it is written. Completes on the caller's context.
   */
  public Future<ObjectWriter> openWriter(
      Path path, long position, boolean truncate, MessageDigest digest) {
    return io.executeBlocking(
        () -> {
          List<OpenOption> options =
              new ArrayList<>(
                  List.of(
                      StandardOpenOption.READ,
                      StandardOpenOption.WRITE,
                      StandardOpenOption.CREATE));
          if (truncate) {
            options.add(StandardOpenOption.TRUNCATE_EXISTING);
          }
          FileChannel channel = FileChannel.open(path, options.toArray(OpenOption[]::new));
          FileChannel direct = null;
          byte[] head = null;
          try {
            if (!truncate && channel.size() > position) {
              channel.truncate(position);
            }
            direct = openDirect(path);
            int odd = (int) (position % ALIGN);
            if (direct != null && odd > 0) {
              // O_DIRECT writes start at a block boundary: the first chunk begins with the bytes
              // of the block that are already stored.
              ByteBuffer b = ByteBuffer.allocate(odd);
              while (b.hasRemaining()) {
                if (channel.read(b, position - odd + b.position()) < 0) {
                  throw new IOException(path + " is shorter than " + position + " bytes");
                }
              }
              head = b.array();
            }
          } catch (IOException | RuntimeException e) {
            channel.close();
            if (direct != null) {
              direct.close();
            }
            throw e;
          }
          return new ObjectWriter(
              new ObjectChannels(this, path, buffers.alignment(), channel, direct),
              io,
              buffers,
              digest,
              position,
              head);
        },
        false);
  }

  /**
   * Opens the stored object {@code path} to send its first {@code size} bytes, which {@code digest}
   * sees as they are read. Completes on the caller's context.
   */
  public Future<ObjectReader> openReader(Path path, long size, MessageDigest digest) {
    return openReader(path, 0, size, digest);
  }

  /**
   * As {@link #openReader(Path, long, MessageDigest)}, for a body that continues at {@code from} (a
   * resumable upload the target holds the first {@code from} bytes of): those bytes are read and
   * fed to {@code digest} first, not handed over, so that the digest still covers the whole object.
   * Completes on the caller's context.
   */
  public Future<ObjectReader> openReader(Path path, long from, long size, MessageDigest digest) {
    return io.executeBlocking(
        () -> {
          FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
          try {
            if (hashPrefix(channel, from, digest, null) < from) {
              throw new IOException(path + " is shorter than " + from + " bytes");
            }
          } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
          }
          return new ObjectReader(
              path.toString(), io, buffers, digest, ObjectReader.Source.of(channel), from, size);
        },
        false);
  }

  /**
   * Reads the first {@code bytes} of {@code in} into {@code digest}, and into {@code out} when it
   * is not null; answers how many there were (fewer when {@code in} is shorter).
   */
  private static long hashPrefix(FileChannel in, long bytes, MessageDigest digest, FileChannel out)
      throws IOException {
    if (bytes <= 0) {
      return 0;
    }
    ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(1 << 20, bytes));
    long done = 0;
    while (done < bytes) {
      buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
      int n = in.read(buf, done);
      if (n < 0) {
        return done;
      }
      buf.flip();
      digest.update(buf.duplicate());
      while (out != null && buf.hasRemaining()) {
        out.write(buf);
      }
      done += n;
    }
    return done;
  }

  /** An O_DIRECT channel on {@code path}, or null when this storage does not take them. */
  private FileChannel openDirect(Path path) {
    if (directIoOff.get()) {
      return null;
    }
    try {
      long block = blockSize;
      if (block < 0) {
        block = blockSize = Files.getFileStore(path).getBlockSize();
      }
      if (block <= 0 || ALIGN % block != 0) {
        directIoUnavailable(path, new IOException("its block size is " + block + " bytes"));
        return null;
      }
      return openDirectChannel(path);
    } catch (IOException | UnsupportedOperationException e) {
      directIoUnavailable(path, e);
      return null;
    }
  }

  /** Opens {@code path} for O_DIRECT writes (a test may refuse them). */
  FileChannel openDirectChannel(Path path) throws IOException {
    return FileChannel.open(path, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
  }

  /** Said once per worker: this storage does not take O_DIRECT writes; the page cache it is. */
  void directIoUnavailable(Path path, Exception why) {
    if (directIoOff.compareAndSet(false, true)) {
      Log.warnf(
          "Storage %s does not take O_DIRECT writes (%s: %s); bodies are written through the"
              + " page cache from now on",
          files.layout().root(), path.getFileName(), why.getMessage());
    }
  }

  /** Deletes this task's temporary objects of attempts before {@code epoch} (all if MAX_VALUE). */
  public void deleteTemporaries(String taskId, long beforeEpoch) {
    files.deleteTemporaries(taskId, beforeEpoch);
  }

  public void deleteQuietly(Path p) {
    StoredFiles.deleteQuietly(p);
  }
}
