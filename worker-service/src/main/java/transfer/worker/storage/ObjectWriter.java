package transfer.worker.storage;

import io.quarkus.logging.Log;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayDeque;

/**
 * Writes one transfer's body into its temporary object and hashes it, off the event loop, in large
 * aligned chunks. See DESIGN.md, "The write path".
 *
 * <p>The event loop copies each received buffer into the chunk being filled (a direct buffer from
 * {@link WriteBuffers}). A full chunk goes to two lanes that work on it at the same time on storage
 * threads: the hash lane feeds it to the SHA-256 digest, the write lane writes it at its offset
 * ({@link ObjectChannels}), with {@code O_DIRECT} where the filesystem allows it (so the page cache
 * does not grow by the size of the body), through the page cache otherwise. Each lane runs at most
 * one task at a time for this writer, in order; the chunk goes back to the pool when both are done
 * with it.
 *
 * <p>Back-pressure: {@link #write} answers false once {@link #MAX_OUTSTANDING} chunks are handed to
 * the lanes and not yet done; the caller pauses its source until the drain handler runs. So a
 * transfer holds at most three chunks, and a slow one three small chunks at most.
 *
 * <p>{@code O_DIRECT} wants the file offset, the buffer address and the length of every write to be
 * multiples of the filesystem's block size. Chunks are aligned and start at aligned offsets; only a
 * partly filled chunk (a checkpoint, the end) has an unaligned tail, which goes through the page
 * cache. After a checkpoint the next chunk starts at the tail's aligned start with a copy of it, so
 * the tail is written again, directly, with the bytes that follow it.
 *
 * <p>All public methods run on the transfer's Vert.x context (one thread at a time); lane tasks
 * touch only the chunk they were given, the digest (hash lane) and the channels (write lane).
 */
public final class ObjectWriter implements BodySink {
  /** Chunks handed to the lanes and not yet done, beyond which {@link #write} answers false. */
  static final int MAX_OUTSTANDING = 2;

  /** A chunk filled faster than this makes the next one larger. */
  private static final long FAST_NANOS = 20_000_000L;

  /** A chunk filled slower than this makes the next one smaller. */
  private static final long SLOW_NANOS = 1_000_000_000L;

  private final ObjectChannels channels;
  private final WorkerExecutor io;
  private final WriteBuffers buffers;
  private final MessageDigest digest;
  private final int align;

  // ---------------------------------------------------------- event-loop state

  private Chunk filling;

  /** Bytes before the first chunk's offset that it must start with (resume at an odd offset). */
  private byte[] head;

  private final ArrayDeque<Chunk> toHash = new ArrayDeque<>();
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
  private int chunks;
  private int pauses;

  ObjectWriter(
      ObjectChannels channels,
      WorkerExecutor io,
      WriteBuffers buffers,
      MessageDigest digest,
      long position,
      byte[] head) {
    this.channels = channels;
    this.io = io;
    this.buffers = buffers;
    this.digest = digest;
    this.align = buffers.alignment();
    this.accepted = position;
    this.head = head;
  }

  /** Called once, on the context, with the first storage error; the writer stops. */
  @Override
  public ObjectWriter exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  /** Called once when {@link #write} answered false and there is room again. */
  @Override
  public ObjectWriter drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  /** Bytes accepted so far: the object's size once everything is written. */
  @Override
  public long position() {
    return accepted;
  }

  /** True while the writer wants no more bytes (its chunks are all with the storage threads). */
  @Override
  public boolean full() {
    return outstanding >= MAX_OUTSTANDING;
  }

  /** True when the writer writes with {@code O_DIRECT}. */
  public boolean directIo() {
    return channels.directIo();
  }

  /**
   * Appends {@code data}: copied into the current chunk, so the caller may drop it. Answers false
   * when the caller should stop sending bytes until the drain handler runs (the bytes given are
   * taken all the same).
   */
  @Override
  public boolean write(Buffer data) {
    if (ending || aborted) {
      return false;
    }
    BodySink.eachNioBuffer(data, this::append);
    if (full()) {
      pauses++;
      pausedSince = System.nanoTime();
      return false;
    }
    return true;
  }

  private void append(ByteBuffer src) {
    while (src.hasRemaining()) {
      if (filling == null) {
        filling = newChunk(accepted);
      }
      ByteBuffer dst = filling.buf;
      int n = Math.min(src.remaining(), dst.remaining());
      int limit = src.limit();
      src.limit(src.position() + n);
      dst.put(src);
      src.limit(limit);
      accepted += n;
      if (!dst.hasRemaining()) {
        Chunk full = filling;
        filling = null;
        long took = System.nanoTime() - full.started;
        if (took < FAST_NANOS && full.buf.capacity() >= buffers.size(sizeClass)) {
          sizeClass = Math.min(sizeClass + 1, buffers.classes() - 1);
        } else if (took > SLOW_NANOS) {
          sizeClass = Math.max(sizeClass - 1, 0);
        }
        handOff(full);
      }
    }
  }

  /** A chunk for the bytes from {@code position} on ({@code position} is aligned when direct). */
  private Chunk newChunk(long position) {
    ByteBuffer buf = buffers.acquire(sizeClass);
    if (head != null) {
      // Resumed at an offset that is not a block boundary: the chunk starts at the boundary
      // before it, with the bytes that are already stored there (and already hashed).
      Chunk c = new Chunk(buf, position - head.length, head.length);
      buf.put(head);
      head = null;
      return c;
    }
    return new Chunk(buf, position, 0);
  }

  private void handOff(Chunk c) {
    chunks++;
    c.length = c.buf.position();
    outstanding++;
    toHash.add(c);
    toWrite.add(new Op(c, null, 0, false));
    pump();
  }

  /**
   * Writes everything accepted so far and forces it to disk; completes with the number of bytes
   * that are now durable (the position at the call), or fails.
   */
  @Override
  public Future<Long> flush() {
    if (ending || aborted) {
      return Future.failedFuture(new IllegalStateException("the writer is closed"));
    }
    Chunk c = filling;
    if (c != null && c.buf.position() > c.hashFrom) {
      filling = null;
      int len = c.buf.position();
      if (len < c.buf.capacity() / 4) {
        sizeClass = Math.max(sizeClass - 1, 0); // a slow transfer: smaller chunks
      }
      int tail = len % align;
      if (channels.directIo() && tail > 0) {
        // The next chunk starts at the tail's block and writes it again, directly.
        Chunk next = new Chunk(buffers.acquire(sizeClass), c.offset + len - tail, tail);
        next.buf.put(c.buf.duplicate().position(len - tail).limit(len));
        filling = next;
      }
      handOff(c);
    }
    Promise<Long> p = Promise.promise();
    toWrite.add(new Op(null, p, accepted, false));
    pump();
    return p.future();
  }

  /**
   * The body is complete: writes what is left, forces it to disk and closes the object. Completes
   * once every byte is durable and hashed, so the digest may be read and the object published.
   */
  @Override
  public Future<Void> finish() {
    if (ending || aborted) {
      return Future.failedFuture(new IllegalStateException("the writer is closed"));
    }
    ending = true;
    finished = Promise.promise();
    Chunk c = filling;
    filling = null;
    if (c != null && c.buf.position() > c.hashFrom) {
      handOff(c);
    } else if (c != null) {
      buffers.release(c.buf);
    }
    toWrite.add(new Op(null, null, accepted, true));
    pump();
    return finished.future();
  }

  /**
   * Stops at once: nothing queued is written any more (a write already under way ends first), the
   * channels are closed and the chunks go back to the pool. The object stays as it is.
   */
  @Override
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
      Chunk c = toHash.poll();
      if (c.length > c.hashFrom) {
        hashing = true;
        ByteBuffer bytes = c.buf.duplicate().position(c.hashFrom).limit(c.length);
        run(
            () -> {
              long t0 = System.nanoTime();
              digest.update(bytes);
              hashNanos += System.nanoTime() - t0;
            },
            ar -> {
              hashing = false;
              laneDone(c);
              maybeFinished();
            });
      } else {
        laneDone(c);
      }
    }
    if (!writing && !toWrite.isEmpty()) {
      Op op = toWrite.poll();
      writing = true;
      if (op.chunk != null) {
        Chunk c = op.chunk;
        ByteBuffer bytes = c.buf.duplicate().position(0).limit(c.length);
        run(
            () -> {
              long t0 = System.nanoTime();
              channels.write(bytes, c.offset);
              writeNanos += System.nanoTime() - t0;
            },
            ar -> {
              writing = false;
              laneDone(c);
            });
      } else if (op.close) {
        long size = op.position;
        run(
            // Durable before anyone may record it: the completion follows this.
            () -> channels.finish(size),
            ar -> {
              writing = false;
              channelsClosed = true;
              maybeFinished();
            });
      } else {
        run(
            channels::force,
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

  /** A lane is done with {@code c}; the second to finish gives it back. */
  private void laneDone(Chunk c) {
    if (++c.lanesDone < 2) {
      return;
    }
    buffers.release(c.buf);
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
          "%s: %d bytes in %d chunks (%s); hash lane %d ms, write lane %d ms; %d pauses, %d ms",
          channels.path().getFileName(),
          accepted,
          chunks,
          channels.directIo() ? "O_DIRECT" : "page cache",
          hashNanos / 1_000_000,
          writeNanos / 1_000_000,
          pauses,
          pausedNanos / 1_000_000);
      finished.tryComplete();
    }
  }

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
      if (op.chunk != null) {
        laneDone(op.chunk);
      } else if (op.synced != null) {
        op.synced.tryFail(cause);
      }
    }
    if (filling != null) {
      buffers.release(filling.buf);
      filling = null;
    }
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
            channels.close();
            return null;
          },
          false);
    }
  }

  /** Bytes of the object from {@code offset}: filled on the context, then read by both lanes. */
  private static final class Chunk {
    final ByteBuffer buf;
    final long offset;

    /** Bytes at the start that were hashed before (carried over from the chunk before). */
    final int hashFrom;

    final long started = System.nanoTime();
    int length;
    int lanesDone;

    Chunk(ByteBuffer buf, long offset, int hashFrom) {
      this.buf = buf;
      this.offset = offset;
      this.hashFrom = hashFrom;
    }
  }

  /** A write-lane task: a chunk, a force (synced != null), or the close. */
  private record Op(Chunk chunk, Promise<Long> synced, long position, boolean close) {}
}
