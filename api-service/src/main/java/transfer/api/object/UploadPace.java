package transfer.api.object;

import io.quarkus.logging.Log;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import transfer.api.ApiConfig;

/**
 * The slowest an object's body may arrive ({@code transfer.objects.min-rate}, measured over each
 * {@code transfer.objects.min-rate-window}). An upload holds a worker thread while it reads, and a
 * read waits for as long as the client sends nothing, so the pace is watched from outside: once a
 * second a ticker looks at every upload in progress, and one that brought less than the minimum in
 * its last window is cut (its connection closed), which ends the waiting read. Apache's
 * mod_reqtimeout ({@code MinRate}) and nginx's {@code client_body_timeout} bound a body the same
 * way.
 */
@Singleton
public class UploadPace {
  private final long minBytesPerWindow;
  private final long windowNanos;
  private final Set<Metered> inProgress = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "upload-pace");
            t.setDaemon(true);
            return t;
          });

  public UploadPace(ApiConfig config) {
    this.windowNanos = config.objects().minRateWindow().toNanos();
    this.minBytesPerWindow =
        (long) (config.objects().minRate().asLongValue() * (windowNanos / 1e9));
    ticker.scheduleWithFixedDelay(this::check, 1, 1, TimeUnit.SECONDS);
  }

  @PreDestroy
  void stop() {
    ticker.shutdownNow();
  }

  /**
   * The body, counted and watched until {@link Metered#close()}; {@code cut} runs (once) if a
   * window brings less than the minimum, and must make the body's reads end.
   */
  public Metered watch(InputStream body, Runnable cut) {
    Metered m = new Metered(body, cut, System.nanoTime());
    if (minBytesPerWindow > 0) {
      inProgress.add(m);
    }
    return m;
  }

  /** The minimum pace, as the log and the 408 say it. */
  String minimum() {
    return minBytesPerWindow
        + " bytes in "
        + windowNanos / 1_000_000_000L
        + " s (transfer.objects.min-rate)";
  }

  private void check() {
    long now = System.nanoTime();
    for (Metered m : inProgress) {
      if (now - m.windowStart < windowNanos) {
        continue;
      }
      long got = m.bytes.get();
      if (got - m.bytesAtWindowStart >= minBytesPerWindow) {
        m.windowStart = now;
        m.bytesAtWindowStart = got;
      } else if (m.state.compareAndSet(WATCHED, CUT)) {
        inProgress.remove(m);
        try {
          m.onCut.run();
        } catch (RuntimeException e) {
          // The connection may be gone already; the ticker must go on for the other uploads.
          Log.debugf("cutting a slow upload: %s", e);
        }
      }
    }
  }

  private static final int WATCHED = 0;
  private static final int DONE = 1;
  private static final int CUT = 2;

  /** An upload's body as it is read: its bytes counted, and whether it was cut for its pace. */
  public final class Metered extends FilterInputStream {
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger state = new AtomicInteger(WATCHED);
    private final Runnable onCut;
    // The ticker's own: read and written by its thread only.
    private long windowStart;
    private long bytesAtWindowStart;

    private Metered(InputStream in, Runnable onCut, long started) {
      super(in);
      this.onCut = onCut;
      this.windowStart = started;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        bytes.incrementAndGet();
      } else {
        done();
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      if (n > 0) {
        bytes.addAndGet(n);
      } else if (n < 0) {
        done();
      }
      return n;
    }

    /**
     * The whole body has arrived (or the upload ends): no longer watched, so storing it, which may
     * take long (an fsync, an upload to S3), is never cut. Either this or a cut happens, not both.
     */
    private void done() {
      if (state.compareAndSet(WATCHED, DONE)) {
        inProgress.remove(this);
      }
    }

    /** Whether the body was cut for arriving slower than the minimum. */
    public boolean wasCut() {
      return state.get() == CUT;
    }

    /** The bytes read so far. */
    public long bytes() {
      return bytes.get();
    }

    /** Ends the watch; the body itself is left to its owner. */
    @Override
    public void close() {
      done();
    }
  }
}
