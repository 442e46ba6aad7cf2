package transfer.worker.storage;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import transfer.storage.s3.S3Bucket;

/**
 * Writes one download's body into an S3 multipart upload, a part at a time, through a bounded spool
 * on the worker's local disk. See DESIGN.md, "Downloads into S3".
 *
 * <p>The event loop copies received bytes into chunks ({@link WriteBuffers}), cut at part
 * boundaries. Each chunk goes to two lanes on storage threads: the hash lane feeds the SHA-256
 * digest (and saves its state at the end of each part, {@link DigestState}), the spool lane writes
 * the chunk into its part's spool file. A part whose bytes are all spooled and hashed is sealed and
 * goes to the upload lane ({@link #PART_UPLOADS} {@code UploadPart} requests at a time, on the
 * request threads); once S3 has it, the spool file is deleted; {@link #flush} reports the bytes up
 * to the end of the last part whose digest state was saved with no part missing before it ({@link
 * UploadedParts}): what a checkpoint can continue from. At most {@link #PART_UPLOADS} parts upload
 * and one waits while the next fills: a transfer holds at most {@code PART_UPLOADS + 2} parts of
 * local disk and two chunks of memory, whatever its size.
 *
 * <p>A body shorter than one part is never a multipart upload: {@link #publish} stores its single
 * spool file with one {@code PUT}. The multipart upload is begun when the first part is sealed.
 */
public final class S3PartWriter implements BodySink {
  static final int MAX_OUTSTANDING = 2;

  /**
   * UploadPart requests of one body at once: one connection to S3 carries less than a fast origin
   * delivers (the S3 Transfer Manager and rclone upload parts concurrently for the same reason).
   */
  static final int PART_UPLOADS = 2;

  private static final long FAST_NANOS = 20_000_000L;
  private static final long SLOW_NANOS = 1_000_000_000L;

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

  // ---------------------------------------------------------- context state
  private SpooledPart part;
  private Chunk filling;
  private final ArrayDeque<Chunk> toHash = new ArrayDeque<>();
  private final ArrayDeque<Chunk> toSpool = new ArrayDeque<>();
  private final ArrayDeque<SpooledPart> sealed = new ArrayDeque<>();
  private final List<SpooledPart> open = new ArrayList<>();
  private boolean hashing;
  private boolean spooling;
  private int uploading;
  private int outstanding;
  private int sizeClass;
  private long accepted;

  /** The parts S3 has, and the checkpoints they make (see {@link #flush}). */
  private final UploadedParts uploaded;

  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;
  private boolean ending;
  private boolean stopped;
  private Promise<Void> finished;

  /** The single part of a body shorter than a part, kept for one PUT. */
  private SpooledPart single;

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
    this.uploaded = new UploadedParts(key, partSize, etags, from);
    this.accepted = from;
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
    return uploaded.state(bytes);
  }

  /** The state of the checkpoint this writer continues from ({@code bytes}, its first byte). */
  void continues(long bytes, String state) {
    uploaded.continues(bytes, state);
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
        part = spooled((int) (accepted / partSize) + 1, accepted);
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

  private SpooledPart spooled(int number, long start) {
    return new SpooledPart(number, start, spoolDir.resolve(spoolName + ".p" + number));
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
        : Future.succeededFuture(uploaded.durable());
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
    if (part == null && uploadId == null && uploaded.none() && accepted == 0) {
      part = spooled(1, 0); // an empty body: one empty object
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
          bucket.put(key, single.file());
        }
      } finally {
        single.delete();
      }
    } else {
      bucket.complete(key, uploadId, uploaded.etags());
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
            c.part.write(bytes, c.offset - c.part.start);
            return null;
          },
          ar -> {
            spooling = false;
            laneDone(c);
          });
    }
    // The first part begins the upload alone; then up to PART_UPLOADS parts go at once.
    while (uploading < (uploadId == null ? 1 : PART_UPLOADS) && !sealed.isEmpty()) {
      SpooledPart p = sealed.poll();
      uploading++;
      run(
          requests,
          () -> {
            p.close();
            if (uploadId == null) {
              uploadId = bucket.beginUpload(key);
            }
            String etag = bucket.uploadPart(key, uploadId, p.number, p.file(), p.size());
            p.delete();
            return etag;
          },
          ar -> {
            uploading--;
            if (ar.succeeded()) {
              open.removeAll(uploaded.add(p, (String) ar.result(), uploadId));
              drained();
            }
          });
    }
    maybeFinished();
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
    for (SpooledPart p : new ArrayList<>(open)) {
      if (p.sealedOrKept) {
        continue;
      }
      if (!p.complete || p.pending > 0) {
        return;
      }
      p.sealedOrKept = true;
      if (p.last && p.number == 1 && uploadId == null && uploaded.none()) {
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
        && uploading == 0
        && uploaded.settled()
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
    List<SpooledPart> leftovers = new ArrayList<>(open);
    leftovers.addAll(sealed);
    if (single != null) {
      leftovers.add(single);
    }
    sealed.clear();
    io.executeBlocking(
        () -> {
          for (SpooledPart p : leftovers) {
            p.close();
            p.delete();
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
      single.delete();
    }
  }

  /** Bytes of the body from {@code offset}, in one part: filled on the context, then two lanes. */
  private static final class Chunk {
    final ByteBuffer buf;
    final SpooledPart part;
    final long offset;
    final long started = System.nanoTime();
    int length;
    int lanesDone;
    boolean endsPart;

    Chunk(ByteBuffer buf, SpooledPart part, long offset) {
      this.buf = buf;
      this.part = part;
      this.offset = offset;
    }
  }
}
