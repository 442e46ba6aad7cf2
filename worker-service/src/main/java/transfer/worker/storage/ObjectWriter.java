package transfer.worker.storage;

import io.netty.buffer.ByteBuf;
import io.quarkus.logging.Log;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes one transfer's body into its temporary object and hashes it, both off the event loop, in
 * large aligned writes. See DESIGN.md, "The write path".
 *
 * <p>The event loop only collects the received buffers into a batch. A batch that reaches its
 * target size goes to two lanes that work on it at the same time on storage threads: the hash lane
 * feeds it to the SHA-256 digest, the write lane copies it into an aligned direct buffer from
 * {@link WriteBuffers} and writes it at its offset, with {@code O_DIRECT} where the filesystem
 * takes it (so the page cache does not grow by the size of the body), through the page cache
 * otherwise. Each lane runs at most one task at a time for this writer, in order.
 *
 * <p>Batch sizes adapt: 16 KiB while bytes come slowly, four times larger each time a batch filled
 * within 20 ms, up to {@link WriteBuffers}' largest size (and within its budget). Back-pressure:
 * {@link #write} answers false once {@link #MAX_OUTSTANDING} batches are with the lanes; the caller
 * pauses its source until the drain handler runs. So a transfer holds at most three batches of
 * received bytes, and a slow one three small ones.
 *
 * <p>{@code O_DIRECT} wants the file offset, the buffer address and the length of every write to be
 * multiples of the filesystem's block size. The write lane writes whole blocks only and keeps the
 * unaligned rest of a batch (less than a block) in memory, in front of the next batch; at a
 * checkpoint and at the end that rest is written through the page cache, and later written again,
 * directly, as the start of the next block.
 *
 * <p>The public methods run on the transfer's Vert.x context (one thread at a time); lane tasks
 * touch only their batch, the digest (hash lane), and the channels and {@link #tail} (write lane).
 */
public final class ObjectWriter {
  /** Batches handed to the lanes and not yet done, beyond which {@link #write} answers false. */
  static final int MAX_OUTSTANDING = 2;

  /** A batch filled faster than this makes the next one larger. */
  private static final long FAST_NANOS = 20_000_000L;

  /** A batch filled slower than this makes the next one smaller. */
  private static final long SLOW_NANOS = 1_000_000_000L;

  private static final byte[] NONE = new byte[0];

  private final FileStorage storage;
  private final Path path;
  private final WorkerExecutor io;
  private final WriteBuffers buffers;
  private final MessageDigest digest;
  private final int align;
  private final FileChannel channel;

  /** The {@code O_DIRECT} channel, or null when writing through the page cache. */
  private volatile FileChannel direct;

  // ---------------------------------------------------------- write-lane state

  /**
   * Bytes of the object from the last block boundary the write lane reached that are not yet
   * written directly (fewer than a block; empty through the page cache).
   */
  private byte[] tail;

  /** Where the write lane's next bytes go: the end of everything it was given. */
  private long laneEnd;

  // ---------------------------------------------------------- event-loop state

  private Batch filling;
  private final ArrayDeque<Batch> toHash = new ArrayDeque<>();
  private final ArrayDeque<Op> toWrite = new ArrayDeque<>();
  private boolean hashing;
  private boolean writing;
  private int outstanding;
  private long accepted;
  private int sizeClass;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;
  private boolean ending;
  private boolean aborted;
  private boolean channelsClosed;
  private Promise<Void> finished;

  // statistics, for the debug line of a finished body
  private long hashNanos;
  private long writeNanos;
  private long pausedNanos;
  private long pausedSince;
  private int batches;
  private int pauses;

  ObjectWriter(
      FileStorage storage,
      Path path,
      WorkerExecutor io,
      WriteBuffers buffers,
      MessageDigest digest,
      FileChannel channel,
      FileChannel direct,
      long position,
      byte[] head) {
    this.storage = storage;
    this.path = path;
    this.io = io;
    this.buffers = buffers;
    this.digest = digest;
    this.align = buffers.alignment();
    this.channel = channel;
    this.direct = direct;
    this.accepted = position;
    this.laneEnd = position;
    this.tail = head == null ? NONE : head;
  }

  /** Called once, on the context, with the first storage error; the writer stops. */
  public ObjectWriter exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  /** Called once when {@link #write} answered false and there is room again. */
  public ObjectWriter drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  /** Bytes accepted so far: the object's size once everything is written. */
  public long position() {
    return accepted;
  }

  /** True while the writer wants no more bytes (its batches are all with the storage threads). */
  public boolean full() {
    return outstanding >= MAX_OUTSTANDING;
  }

  /** True when the writer writes with {@code O_DIRECT}. */
  public boolean directIo() {
    return direct != null;
  }

  /**
   * Appends {@code data}. The writer keeps the buffer until it is written and hashed, so its bytes
   * must not change (Vert.x hands each piece of a body over in a heap buffer of its own). Answers
   * false when the caller should stop sending bytes until the drain handler runs (the bytes given
   * are taken all the same).
   */
  public boolean write(Buffer data) {
    if (ending || aborted) {
      return false;
    }
    ByteBuf bb = data.getByteBuf();
    if (!bb.isReadable()) {
      return !full();
    }
    if (filling == null) {
      filling = new Batch(buffers.size(sizeClass));
    }
    if (bb.hasArray()) {
      filling.add(bb.nioBuffer());
    } else {
      // Not a buffer of its own (a direct or pooled one): copied, since it is kept for a while.
      byte[] copy = new byte[bb.readableBytes()];
      bb.getBytes(bb.readerIndex(), copy);
      filling.add(ByteBuffer.wrap(copy));
    }
    accepted += bb.readableBytes();
    if (filling.bytes >= filling.target) {
      Batch full = filling;
      filling = null;
      long took = System.nanoTime() - full.started;
      if (took < FAST_NANOS) {
        sizeClass = Math.min(sizeClass + 1, buffers.classes() - 1);
      } else if (took > SLOW_NANOS) {
        sizeClass = Math.max(sizeClass - 1, 0);
      }
      handOff(full);
    }
    if (full()) {
      pauses++;
      pausedSince = System.nanoTime();
      return false;
    }
    return true;
  }

  private void handOff(Batch b) {
    batches++;
    outstanding++;
    toHash.add(b);
    toWrite.add(new Op(b, null, 0, false));
    pump();
  }

  /**
   * Writes everything accepted so far and forces it to disk; completes with the number of bytes
   * that are now durable (the position at the call), or fails.
   */
  public Future<Long> flush() {
    if (ending || aborted) {
      return Future.failedFuture(new IllegalStateException("the writer is closed"));
    }
    if (filling != null) {
      if (filling.bytes < filling.target / 4) {
        sizeClass = Math.max(sizeClass - 1, 0); // a slow transfer: smaller batches
      }
      handOff(filling);
      filling = null;
    }
    Promise<Long> p = Promise.promise();
    toWrite.add(new Op(null, p, accepted, false));
    pump();
    return p.future();
  }

  /**
   * The body is complete: writes what is left and closes the object (without forcing it). Completes
   * once every byte is written and hashed, so the digest may be read then.
   */
  public Future<Void> finish() {
    if (ending || aborted) {
      return Future.failedFuture(new IllegalStateException("the writer is closed"));
    }
    ending = true;
    finished = Promise.promise();
    if (filling != null) {
      handOff(filling);
      filling = null;
    }
    toWrite.add(new Op(null, null, 0, true));
    pump();
    return finished.future();
  }

  /**
   * Stops at once: nothing queued is written any more (a write already under way ends first) and
   * the channels are closed. The object stays as it is.
   */
  public void abort() {
    stop(new IOException("the transfer stopped"), false);
  }

  // ---------------------------------------------------------- the lanes

  private void pump() {
    if (aborted) {
      closeChannelsWhenIdle();
      return;
    }
    if (!hashing && !toHash.isEmpty()) {
      Batch b = toHash.poll();
      hashing = true;
      run(
          () -> {
            long t0 = System.nanoTime();
            for (ByteBuffer part : b.parts) {
              digest.update(part.duplicate());
            }
            hashNanos += System.nanoTime() - t0;
          },
          ar -> {
            hashing = false;
            laneDone(b);
            maybeFinished();
          });
    }
    if (!writing && !toWrite.isEmpty()) {
      Op op = toWrite.poll();
      writing = true;
      if (op.batch != null) {
        Batch b = op.batch;
        run(
            () -> {
              long t0 = System.nanoTime();
              writeBatch(b);
              writeNanos += System.nanoTime() - t0;
            },
            ar -> {
              writing = false;
              laneDone(b);
            });
      } else if (op.close) {
        run(
            () -> {
              writeTail();
              channel.truncate(laneEnd);
              closeChannels();
            },
            ar -> {
              writing = false;
              channelsClosed = true;
              maybeFinished();
            });
      } else {
        run(
            () -> {
              writeTail();
              channel.force(false);
            },
            ar -> {
              writing = false;
              if (ar.succeeded()) {
                op.synced.complete(op.position);
              } else {
                op.synced.fail(ar.cause());
              }
            });
      }
    }
  }

  /** What a lane runs on a storage thread. */
  private interface Task {
    void run() throws IOException;
  }

  /**
   * Runs {@code task} on a storage thread, then {@code after} on the context, then stops the writer
   * if it failed, else looks for more work.
   */
  private void run(Task task, Handler<AsyncResult<Void>> after) {
    io.<Void>executeBlocking(
            () -> {
              task.run();
              return null;
            },
            false)
        .onComplete(
            ar -> {
              after.handle(ar);
              if (ar.failed()) {
                stop(ar.cause(), true);
              } else {
                pump();
              }
            });
  }

  /** A lane is done with {@code b}; when both are, it is dropped and room is made. */
  private void laneDone(Batch b) {
    if (++b.lanesDone < 2) {
      return;
    }
    outstanding--;
    if (!aborted && outstanding < MAX_OUTSTANDING && drainHandler != null) {
      pausedNanos += System.nanoTime() - pausedSince;
      Handler<Void> h = drainHandler;
      drainHandler = null;
      h.handle(null);
    }
  }

  private void maybeFinished() {
    if (finished != null && channelsClosed && outstanding == 0 && !hashing) {
      Log.debugf(
          "%s: %d bytes in %d batches (%s); hash lane %d ms, write lane %d ms; %d pauses, %d ms",
          path.getFileName(),
          accepted,
          batches,
          direct != null ? "O_DIRECT" : "page cache",
          hashNanos / 1_000_000,
          writeNanos / 1_000_000,
          pauses,
          pausedNanos / 1_000_000);
      finished.tryComplete();
    }
  }

  // ---------------------------------------------------------- on the write lane's thread

  /**
   * Writes {@link #tail} and the batch: through an aligned direct buffer, whole blocks directly;
   * what is left of the last block becomes the new tail.
   */
  private void writeBatch(Batch b) throws IOException {
    ByteBuffer staging = buffers.acquire(b.sizeClass);
    try {
      long at = laneEnd - tail.length;
      staging.put(tail);
      for (ByteBuffer part : b.parts) {
        ByteBuffer src = part.duplicate();
        while (src.hasRemaining()) {
          int n = Math.min(src.remaining(), staging.remaining());
          int limit = src.limit();
          src.limit(src.position() + n);
          staging.put(src);
          src.limit(limit);
          if (!staging.hasRemaining()) {
            at += writeBlocks(staging.flip(), at);
            staging.compact();
          }
        }
      }
      at += writeBlocks(staging.flip(), at);
      tail = new byte[staging.remaining()];
      staging.get(tail);
      laneEnd = at + tail.length;
    } finally {
      buffers.release(staging);
    }
  }

  /**
   * Writes the whole blocks of {@code bytes} at {@code offset} (everything, through the page
   * cache); leaves the rest in {@code bytes}. Answers how many bytes were written.
   */
  private int writeBlocks(ByteBuffer bytes, long offset) throws IOException {
    FileChannel d = direct;
    int len = bytes.remaining();
    if (d == null) {
      writeFully(channel, bytes, offset);
      return len;
    }
    int whole = len - len % align;
    if (whole == 0) {
      return 0;
    }
    ByteBuffer blocks = bytes.duplicate().limit(bytes.position() + whole);
    try {
      writeFully(d, blocks, offset);
    } catch (IOException e) {
      if (!invalidArgument(e)) {
        throw e;
      }
      // Some filesystems open O_DIRECT files but refuse the writes: the page cache it is.
      direct = null;
      closeQuietly(d);
      storage.directIoUnavailable(path, e);
      writeFully(channel, bytes, offset);
      return len;
    }
    bytes.position(bytes.position() + whole);
    return whole;
  }

  /** The tail, through the page cache (it stays the tail: the next direct write includes it). */
  private void writeTail() throws IOException {
    if (tail.length > 0) {
      writeFully(channel, ByteBuffer.wrap(tail), laneEnd - tail.length);
    }
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

  // ---------------------------------------------------------- stopping

  /**
   * Stops the writer (a storage error, or the caller's abort): what is queued is dropped, the
   * channels close once no write is under way, and a storage error goes to the exception handler.
   */
  private void stop(Throwable cause, boolean error) {
    if (aborted) {
      return;
    }
    aborted = true;
    while (!toHash.isEmpty()) {
      laneDone(toHash.poll());
    }
    while (!toWrite.isEmpty()) {
      Op op = toWrite.poll();
      if (op.batch != null) {
        laneDone(op.batch);
      } else if (op.synced != null) {
        op.synced.tryFail(cause);
      }
    }
    filling = null;
    closeChannelsWhenIdle();
    if (finished != null) {
      finished.tryFail(cause);
    }
    if (error && exceptionHandler != null) {
      exceptionHandler.handle(cause);
    }
  }

  private void closeChannelsWhenIdle() {
    if (!writing && !channelsClosed) {
      channelsClosed = true;
      io.executeBlocking(
          () -> {
            closeChannels();
            return null;
          },
          false);
    }
  }

  private void closeChannels() {
    closeQuietly(direct);
    closeQuietly(channel);
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

  /** Received bytes in order: collected on the context, then read by both lanes. */
  private final class Batch {
    final List<ByteBuffer> parts = new ArrayList<>();
    final int sizeClass = ObjectWriter.this.sizeClass;
    final int target;
    final long started = System.nanoTime();
    int bytes;
    int lanesDone;

    Batch(int target) {
      this.target = target;
    }

    void add(ByteBuffer part) {
      parts.add(part);
      bytes += part.remaining();
    }
  }

  /**
   * A write-lane task: a batch, a force of everything before {@code position} (synced != null), or
   * the close.
   */
  private record Op(Batch batch, Promise<Long> synced, long position, boolean close) {}
}
