package transfer.worker.storage;

import io.netty.buffer.Unpooled;
import io.quarkus.logging.Log;
import io.vertx.core.Handler;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one stored object for an upload and hashes it, both off the event loop, in chunks that the
 * caller sends as they are (direct buffers: the socket takes them without another copy). See
 * DESIGN.md, "Uploads".
 *
 * <p>A read lane reads the next chunk into a direct buffer from {@link WriteBuffers} and hands it
 * to the caller; a hash lane feeds the same chunk to the digest at the same time. The last chunk is
 * handed over only together with the end, once the whole object is hashed, so the caller can hold
 * back the end of the body until the digest is checked. A chunk goes back to the pool when the
 * caller has {@link #release released} it (its write completed) and the hash lane is done with it;
 * at most {@link #MAX_OUTSTANDING} chunks are out at once, which is the back-pressure.
 *
 * <p>Chunk sizes adapt: 64 KiB at first, four times larger each time the caller released a chunk
 * within 20 ms (a fast target), up to the largest size, smaller when it took over a second.
 *
 * <p>Public methods run on the caller's Vert.x context; lane tasks touch only their chunk, the
 * channel (read lane) and the digest (hash lane).
 */
public final class ObjectReader {
  /** Chunks read and not yet released by the caller or the hash lane. */
  static final int MAX_OUTSTANDING = 3;

  private static final long FAST_NANOS = 20_000_000L;
  private static final long SLOW_NANOS = 1_000_000_000L;

  private final String path;
  private final WorkerExecutor io;
  private final WriteBuffers buffers;
  private final MessageDigest digest;
  private final Source channel;
  private final long size;

  private Handler<Chunk> handler;
  private Handler<Chunk> endHandler;
  private Handler<Throwable> exceptionHandler;

  private final ArrayDeque<Chunk> toHash = new ArrayDeque<>();
  private boolean started;
  private boolean reading;
  private boolean hashing;
  private boolean stopped;
  private boolean closed;
  private int outstanding;
  private long readTo;
  private final List<Chunk> live = new ArrayList<>();
  private int sizeClass = 1;
  private Chunk last;

  ObjectReader(
      String path,
      WorkerExecutor io,
      WriteBuffers buffers,
      MessageDigest digest,
      Source channel,
      long from,
      long size) {
    this.path = path;
    this.io = io;
    this.buffers = buffers;
    this.digest = digest;
    this.channel = channel;
    this.readTo = from;
    this.size = size;
  }

  /** Gets every chunk but the last, in order. */
  public ObjectReader handler(Handler<Chunk> handler) {
    this.handler = handler;
    return this;
  }

  /**
   * Gets the last chunk (null when there is nothing to send) once all {@code size} bytes are read
   * and hashed: the digest is complete.
   */
  public ObjectReader endHandler(Handler<Chunk> handler) {
    this.endHandler = handler;
    return this;
  }

  /**
   * Gets the first error, once; the reader stops. {@link Shorter} when the object ended before
   * {@code size} bytes.
   */
  public ObjectReader exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  public void start() {
    if (started) {
      return;
    }
    started = true;
    if (readTo == size) {
      close();
      endHandler.handle(null);
      return;
    }
    pump();
  }

  /** The caller is done with {@code c} (its write completed, or failed). */
  public void release(Chunk c) {
    long took = System.nanoTime() - c.handedOver;
    if (took < FAST_NANOS) {
      sizeClass = Math.min(sizeClass + 1, buffers.classes() - 1);
    } else if (took > SLOW_NANOS) {
      sizeClass = Math.max(sizeClass - 1, 0);
    }
    done(c);
    pump();
  }

  /**
   * Stops reading. Chunks still out are given up: the socket may still hold them, so they never go
   * back to the pool (the garbage collector frees them).
   */
  public void abort() {
    if (stopped) {
      return;
    }
    stopped = true;
    toHash.clear();
    for (Chunk c : live) {
      c.discarded = true;
      buffers.discard(c.buf);
    }
    outstanding -= live.size();
    live.clear();
    closeWhenIdle();
  }

  private void pump() {
    if (stopped) {
      closeWhenIdle();
      return;
    }
    if (!reading && readTo < size && outstanding < MAX_OUTSTANDING) {
      reading = true;
      outstanding++;
      ByteBuffer buf = buffers.acquire(sizeClass);
      long at = readTo;
      int want = (int) Math.min(buf.capacity(), size - at);
      buf.limit(want);
      io.<Void>executeBlocking(
              () -> {
                while (buf.hasRemaining()) {
                  if (channel.read(buf, at + buf.position()) < 0) {
                    throw new Shorter(
                        "the stored source "
                            + path
                            + " ended after "
                            + (at + buf.position())
                            + " of its "
                            + size
                            + " bytes");
                  }
                }
                buf.flip();
                return null;
              },
              false)
          .onComplete(
              ar -> {
                reading = false;
                Chunk c = new Chunk(buf, at);
                if (ar.failed()) {
                  buffers.release(buf);
                  outstanding--;
                  fail(ar.cause());
                  return;
                }
                if (stopped) {
                  buffers.release(buf);
                  outstanding--;
                  return;
                }
                readTo = at + want;
                live.add(c);
                toHash.add(c);
                if (readTo == size) {
                  last = c;
                  close();
                } else {
                  c.handedOver = System.nanoTime();
                  handler.handle(c);
                }
                pump();
              });
    }
    if (!hashing && !toHash.isEmpty()) {
      hashing = true;
      Chunk c = toHash.poll();
      ByteBuffer bytes = c.buf.duplicate();
      io.<Void>executeBlocking(
              () -> {
                digest.update(bytes);
                return null;
              },
              false)
          .onComplete(
              ar -> {
                hashing = false;
                done(c);
                if (ar.failed()) {
                  fail(ar.cause());
                  return;
                }
                if (c == last && !stopped) {
                  c.handedOver = System.nanoTime();
                  endHandler.handle(c); // the caller releases it like any other
                }
                pump();
              });
    }
  }

  /** One of the two holders of {@code c} (the caller, the hash lane) is done with it. */
  private void done(Chunk c) {
    if (c.discarded || ++c.holdersDone < 2) {
      return;
    }
    live.remove(c);
    outstanding--;
    buffers.release(c.buf);
  }

  private void fail(Throwable e) {
    if (stopped) {
      return;
    }
    abort();
    if (exceptionHandler != null) {
      exceptionHandler.handle(e);
    }
  }

  private void closeWhenIdle() {
    if (!reading) {
      close();
    }
  }

  private void close() {
    if (closed) {
      return;
    }
    closed = true;
    io.executeBlocking(
        () -> {
          try {
            channel.close();
          } catch (IOException e) {
            Log.debugf("closing %s: %s", path, e.getMessage());
          }
          return null;
        },
        false);
  }

  /** Bytes of the object from {@code offset}: sent by the caller, hashed by the hash lane. */
  public static final class Chunk {
    final ByteBuffer buf;
    final long offset;
    long handedOver;
    int holdersDone;
    boolean discarded;

    Chunk(ByteBuffer buf, long offset) {
      this.buf = buf;
      this.offset = offset;
    }

    public int length() {
      return buf.remaining();
    }

    /** The bytes, for one write (the buffer's memory is the pool's: no copy, no release). */
    public Buffer buffer() {
      return Buffer.buffer(Unpooled.wrappedBuffer(buf.duplicate()));
    }
  }

  /**
   * Where the bytes come from: a file (read at positions), or an S3 object's stream (read in order:
   * the reader asks for each position right after the one before).
   */
  public interface Source extends java.io.Closeable {
    /** Reads into {@code dst} from {@code position}; -1 at the end. */
    int read(ByteBuffer dst, long position) throws IOException;

    /** A file's channel. */
    static Source of(java.nio.channels.FileChannel channel) {
      return new Source() {
        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
          return channel.read(dst, position);
        }

        @Override
        public void close() throws IOException {
          channel.close();
        }
      };
    }
  }

  /** The stored object has fewer bytes than it had when the task was submitted. */
  public static final class Shorter extends IOException {
    Shorter(String message) {
      super(message);
    }
  }
}
