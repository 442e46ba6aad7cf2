package transfer.worker.storage;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import transfer.storage.s3.S3Bucket;
import transfer.storage.s3.S3Checkpoint;

/**
 * Writes one download's body into an S3 multipart upload, a part at a time, through a bounded spool
 * on the worker's local disk. See DESIGN.md, "Downloads into S3".
 *
 * <p>The event loop copies received bytes into chunks ({@link WriteBuffers}), cut at part
 * boundaries. Each chunk goes to two lanes on storage threads: the hash lane feeds the SHA-256
 * digest (and saves its state at the end of each part, {@link DigestState}), the spool lane writes
 * the chunk into its part's spool file. A part whose bytes are all spooled and hashed is sealed and
 * goes to the upload lane (one {@code UploadPart} at a time, on the request threads); once S3 has
 * it, it is durable and the spool file is deleted; {@link #flush} reports the bytes up to the last
 * whole part whose digest state was saved: what a checkpoint can continue from. At most one part
 * uploads and one waits while the next fills: a transfer holds at most three parts of local disk
 * and two chunks of memory, whatever its size.
 *
 * <p>A body shorter than one part is never a multipart upload: {@link #publish} stores its single
 * spool file with one {@code PUT}. The multipart upload is begun when the first part is sealed.
 */
public final class S3PartWriter implements BodySink {
  static final int MAX_OUTSTANDING = 2;
  private static final long FAST_NANOS = 20_000_000L;
  private static final long SLOW_NANOS = 1_000_000_000L;
  private static final int STATES_KEPT = 16;

  private final S3Bucket bucket;
  private final WorkerExecutor io;
  private final WorkerExecutor requests;
  private final WriteBuffers buffers;
  private final MessageDigest digest;
  private final long partSize;
  private final Path spoolDir;
  private final String spoolName;
  private final String key;

  /** Written on the request threads (begun), read on the context after. */
  private volatile String uploadId;

  private final List<String> etags;

  /** Checkpoint states by the durable byte count they describe (the last few). */
  private final LinkedHashMap<Long, String> states = new LinkedHashMap<>();

  // ---------------------------------------------------------- context state
  private Part part;
  private Chunk filling;
  private final ArrayDeque<Chunk> toHash = new ArrayDeque<>();
  private final ArrayDeque<Chunk> toSpool = new ArrayDeque<>();
  private final ArrayDeque<Part> sealed = new ArrayDeque<>();
  private final List<Part> open = new ArrayList<>();
  private boolean hashing;
  private boolean spooling;
  private boolean uploading;
  private int outstanding;
  private int sizeClass;
  private long accepted;

  /** Bytes in S3 up to the last whole part whose digest state was saved (see {@link #flush}). */
  private long durable;

  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;
  private boolean ending;
  private boolean stopped;
  private Promise<Void> finished;

  /** The single part of a body shorter than a part, kept for one PUT. */
  private Part single;

  /**
   * @param from where the body continues: a multiple of {@code partSize}, the parts before it
   *     uploaded to {@code uploadId} ({@code etags}), and {@code digest} restored to their state; 0
   *     with a null {@code uploadId} for a new body
   */
  S3PartWriter(
      S3Bucket bucket,
      WorkerExecutor io,
      WorkerExecutor requests,
      WriteBuffers buffers,
      MessageDigest digest,
      long partSize,
      Path spoolDir,
      String spoolName,
      String key,
      String uploadId,
      List<String> etags,
      long from) {
    this.bucket = bucket;
    this.io = io;
    this.requests = requests;
    this.buffers = buffers;
    this.digest = digest;
    this.partSize = partSize;
    this.spoolDir = spoolDir;
    this.spoolName = spoolName;
    this.key = key;
    this.uploadId = uploadId;
    this.etags = new ArrayList<>(etags);
    this.accepted = from;
    this.durable = from;
  }

  public String key() {
    return key;
  }

  /** The multipart upload written into, or null while there is none (yet). */
  public String uploadId() {
    return uploadId;
  }

  /**
   * The checkpoint state that goes with {@code bytes} durable (a value {@link #flush} reported):
   * the upload, its parts and the digest after them; null when there is none to give.
   */
  public String state(long bytes) {
    return states.get(bytes);
  }

  /** The state of the checkpoint this writer continues from ({@code bytes}, its first byte). */
  void continues(long bytes, String state) {
    states.put(bytes, state);
  }

  @Override
  public S3PartWriter exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public S3PartWriter drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  @Override
  public long position() {
    return accepted;
  }

  @Override
  public boolean full() {
    return outstanding >= MAX_OUTSTANDING || !sealed.isEmpty();
  }

  @Override
  public boolean write(Buffer data) {
    if (ending || stopped) {
      return false;
    }
    BodySink.eachNioBuffer(data, this::append);
    return !full();
  }

  private void append(ByteBuffer src) {
    while (src.hasRemaining()) {
      if (part == null) {
        part = new Part((int) (accepted / partSize) + 1, accepted);
        open.add(part);
      }
      if (filling == null) {
        filling = new Chunk(buffers.acquire(sizeClass), part, accepted);
      }
      ByteBuffer dst = filling.buf;
      long toPartEnd = part.start + partSize - accepted;
      int n = (int) Math.min(Math.min(src.remaining(), dst.remaining()), toPartEnd);
      int limit = src.limit();
      src.limit(src.position() + n);
      dst.put(src);
      src.limit(limit);
      accepted += n;
      boolean partFull = accepted == part.start + partSize;
      if (!dst.hasRemaining() || partFull) {
        Chunk c = filling;
        filling = null;
        long took = System.nanoTime() - c.started;
        if (took < FAST_NANOS) {
          sizeClass = Math.min(sizeClass + 1, buffers.classes() - 1);
        } else if (took > SLOW_NANOS) {
          sizeClass = Math.max(sizeClass - 1, 0);
        }
        c.endsPart = partFull;
        handOff(c);
        if (partFull) {
          part.complete = true;
          part = null;
        }
      }
    }
  }

  private void handOff(Chunk c) {
    c.length = c.buf.position();
    c.part.pending++;
    outstanding++;
    toHash.add(c);
    toSpool.add(c);
    pump();
  }

  @Override
  public Future<Long> flush() {
    return stopped
        ? Future.failedFuture(new IOException("the body's upload stopped"))
        : Future.succeededFuture(durable);
  }

  @Override
  public Future<Void> finish() {
    if (ending || stopped) {
      return Future.failedFuture(new IllegalStateException("the writer is closed"));
    }
    ending = true;
    finished = Promise.promise();
    if (filling != null) {
      Chunk c = filling;
      filling = null;
      handOff(c);
    }
    if (part == null && uploadId == null && etags.isEmpty() && accepted == 0) {
      part = new Part(1, 0); // an empty body: one empty object
      open.add(part);
    }
    if (part != null) {
      part.complete = true;
      part.last = true;
      part = null;
    }
    maybeSeal();
    pump();
    return finished.future();
  }

  @Override
  public void abort() {
    stop(new IOException("the transfer stopped"), false);
  }

  /**
   * Publishes the complete body under its key (on a request thread): the multipart upload
   * completed, or the single part stored with one PUT. The object exists from then on.
   */
  public void publish() throws IOException {
    if (single != null) {
      try {
        single.close();
        if (single.size() == 0) {
          bucket.put(key, java.io.InputStream.nullInputStream(), 0);
        } else {
          bucket.put(key, single.file(this));
        }
      } finally {
        single.delete(this);
      }
    } else {
      bucket.complete(key, uploadId, etags);
    }
  }

  // ---------------------------------------------------------- the lanes

  private void pump() {
    if (stopped) {
      return;
    }
    if (!hashing && !toHash.isEmpty()) {
      Chunk c = toHash.poll();
      hashing = true;
      ByteBuffer bytes = c.buf.duplicate().position(0).limit(c.length);
      run(
          io,
          () -> {
            digest.update(bytes);
            if (c.endsPart) {
              c.part.digestState = DigestState.save(digest);
            }
            return null;
          },
          ar -> {
            hashing = false;
            laneDone(c);
          });
    }
    if (!spooling && !toSpool.isEmpty()) {
      Chunk c = toSpool.poll();
      spooling = true;
      ByteBuffer bytes = c.buf.duplicate().position(0).limit(c.length);
      run(
          io,
          () -> {
            c.part.write(this, bytes, c.offset - c.part.start);
            return null;
          },
          ar -> {
            spooling = false;
            laneDone(c);
          });
    }
    if (!uploading && !sealed.isEmpty()) {
      Part p = sealed.poll();
      uploading = true;
      run(
          requests,
          () -> {
            p.close();
            if (uploadId == null) {
              uploadId = bucket.beginUpload(key);
            }
            String etag = bucket.uploadPart(key, uploadId, p.number, p.file(this), p.size());
            p.delete(this);
            return etag;
          },
          ar -> {
            uploading = false;
            if (ar.succeeded()) {
              etags.add((String) ar.result());
              open.remove(p);
              if (!p.last && p.digestState != null) {
                durable = p.start + p.size();
                remember(durable, p.digestState);
              }
              drained();
            }
          });
    }
    maybeFinished();
  }

  private void remember(long bytes, String digestState) {
    states.put(
        bytes, new S3Checkpoint(key, uploadId, partSize, etags.size(), digestState).encode());
    while (states.size() > STATES_KEPT) {
      states.remove(states.keySet().iterator().next());
    }
  }

  private void run(WorkerExecutor on, Callable<Object> task, Handler<AsyncResult<Object>> after) {
    on.<Object>executeBlocking(task, false)
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

  private void laneDone(Chunk c) {
    if (++c.lanesDone < 2) {
      return;
    }
    buffers.release(c.buf);
    outstanding--;
    c.part.pending--;
    maybeSeal();
    drained();
  }

  /**
   * Complete parts whose chunks are all spooled and hashed go to the upload lane, in order; a body
   * shorter than one part is kept for one PUT instead. {@code open} holds the parts not yet
   * uploaded.
   */
  private void maybeSeal() {
    if (stopped) {
      return;
    }
    for (Part p : new ArrayList<>(open)) {
      if (p.sealedOrKept) {
        continue;
      }
      if (!p.complete || p.pending > 0) {
        return;
      }
      p.sealedOrKept = true;
      if (p.last && p.number == 1 && uploadId == null && etags.isEmpty()) {
        single = p;
        open.remove(p);
        continue;
      }
      sealed.add(p);
    }
  }

  private void drained() {
    if (!stopped && !full() && drainHandler != null) {
      Handler<Void> h = drainHandler;
      drainHandler = null;
      h.handle(null);
    }
  }

  private void maybeFinished() {
    if (finished != null
        && !stopped
        && part == null
        && outstanding == 0
        && !hashing
        && !spooling
        && !uploading
        && sealed.isEmpty()
        && open.isEmpty()) {
      finished.tryComplete();
    }
  }

  private void stop(Throwable cause, boolean error) {
    if (stopped) {
      return;
    }
    stopped = true;
    if (filling != null) {
      buffers.release(filling.buf);
      filling = null;
    }
    // Chunks still with a lane go back when it is done; queued ones now.
    for (Chunk c : toHash) {
      c.lanesDone++;
    }
    for (Chunk c : toSpool) {
      c.lanesDone++;
    }
    List<Chunk> queued = new ArrayList<>(toHash);
    for (Chunk c : toSpool) {
      if (!queued.contains(c)) {
        queued.add(c);
      }
    }
    toHash.clear();
    toSpool.clear();
    for (Chunk c : queued) {
      if (c.lanesDone >= 2) {
        buffers.release(c.buf);
        outstanding--;
      }
    }
    List<Part> leftovers = new ArrayList<>(open);
    leftovers.addAll(sealed);
    if (single != null) {
      leftovers.add(single);
    }
    sealed.clear();
    io.executeBlocking(
        () -> {
          for (Part p : leftovers) {
            p.close();
            p.delete(this);
          }
          return null;
        },
        false);
    if (finished != null) {
      finished.tryFail(cause);
    }
    if (error && exceptionHandler != null) {
      exceptionHandler.handle(cause);
    }
  }

  /** Deletes the single part's spool file of a body that will not be published. */
  public void discardSpool() {
    if (single != null) {
      single.close();
      single.delete(this);
    }
  }

  /** One part: bytes {@code start} to {@code start + partSize} of the body, spooled to a file. */
  private static final class Part {
    final int number;
    final long start;
    int pending;
    boolean complete;
    boolean last;
    boolean sealedOrKept;
    volatile String digestState;
    private FileChannel channel;
    private long size;

    Part(int number, long start) {
      this.number = number;
      this.start = start;
    }

    Path file(S3PartWriter w) {
      return w.spoolDir.resolve(w.spoolName + ".p" + number);
    }

    synchronized void write(S3PartWriter w, ByteBuffer bytes, long at) throws IOException {
      if (channel == null) {
        Files.createDirectories(w.spoolDir);
        channel =
            FileChannel.open(
                file(w),
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
      }
      long pos = at;
      while (bytes.hasRemaining()) {
        pos += channel.write(bytes, pos);
      }
      size = Math.max(size, pos);
    }

    synchronized long size() {
      return size;
    }

    synchronized void close() {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException e) {
          // nothing more goes through it
        }
        channel = null;
      }
    }

    void delete(S3PartWriter w) {
      close();
      try {
        Files.deleteIfExists(file(w));
      } catch (IOException e) {
        // a spool file left behind is removed when the worker starts
      }
    }
  }

  /** Bytes of the body from {@code offset}, in one part: filled on the context, then two lanes. */
  private static final class Chunk {
    final ByteBuffer buf;
    final Part part;
    final long offset;
    final long started = System.nanoTime();
    int length;
    int lanesDone;
    boolean endsPart;

    Chunk(ByteBuffer buf, Part part, long offset) {
      this.buf = buf;
      this.part = part;
      this.offset = offset;
    }
  }
}
