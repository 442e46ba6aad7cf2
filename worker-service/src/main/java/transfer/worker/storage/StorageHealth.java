package transfer.worker.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;

/**
 * Whether this worker's own storage takes bytes. An attempt that ends with {@code storage_failed}
 * (a full disk, an I/O error, or a volume that took nothing for {@code requestTimeout}) marks it
 * failing: the worker then claims nothing (its slots count as taken, so its doorbell partitions
 * pause and other workers take the tasks) and its readiness is down ({@code StorageReadiness}),
 * which is what an operator and Kubernetes see. A probe writes, forces and deletes a file of 1 MiB
 * under the storage root every {@link #PROBE_EVERY} until one succeeds; a probe that hangs (a hung
 * volume) keeps the worker failing. The tasks themselves lose nothing: a storage failure does not
 * count as an attempt (the task waits, {@code storage}) and another worker continues it.
 *
 * <p>Written by hand rather than with a library: it is one flag, one timer and one file.
 */
public final class StorageHealth implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(StorageHealth.class);

  /** How often a failing storage is probed. */
  public static final Duration PROBE_EVERY = Duration.ofSeconds(5);

  /** What the probe does; null: nothing to probe (the failure passes at the next probe's time). */
  public interface Probe {
    void run() throws IOException;
  }

  private final Probe probe;
  private final ScheduledExecutorService timer;
  private final ExecutorService prober;

  private volatile String failure;
  private volatile Instant failingSince;
  private Future<?> probing;
  private java.util.concurrent.ScheduledFuture<?> probes;

  public StorageHealth(Probe probe) {
    this.probe = probe;
    this.timer = Executors.newSingleThreadScheduledExecutor(daemon("storage-health"));
    // Its own thread: a probe stuck on a hung volume holds nothing else.
    this.prober = Executors.newSingleThreadExecutor(daemon("storage-probe"));
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Bytes a probe writes: room for a chunk of the write path, not just a block. */
  static final int PROBE_BYTES = 1 << 20;

  /**
   * A probe that writes {@link #PROBE_BYTES}, forces and deletes {@code <root>/.health/<worker>}: a
   * disk with a few blocks left is still full for a download.
   */
  public static Probe writing(Path root, String workerId) {
    Path file = root.resolve(".health").resolve(workerId.replaceAll("[^A-Za-z0-9._-]", "_"));
    return () -> {
      Files.createDirectories(file.getParent());
      try (FileChannel ch =
          FileChannel.open(
              file,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer bytes = ByteBuffer.allocate(PROBE_BYTES);
        while (bytes.hasRemaining()) {
          ch.write(bytes);
        }
        ch.force(true);
      }
      Files.deleteIfExists(file);
    };
  }

  /** Whether the storage takes bytes, as far as this worker knows. */
  public boolean healthy() {
    return failure == null;
  }

  /** Why the storage is failing, or null. */
  public String failure() {
    return failure;
  }

  /** Since when the storage is failing, or null. */
  public Instant failingSince() {
    return failingSince;
  }

  /**
   * An attempt ended with {@code errorCode}: a storage failure marks the storage failing, {@code
   * line} saying what failed (made only then: every attempt's end passes here).
   */
  public void attemptEnded(String errorCode, java.util.function.Supplier<String> line) {
    if (ErrorCodes.STORAGE_FAILED.equals(errorCode)) {
      storageFailed(line.get());
    }
  }

  private synchronized void storageFailed(String line) {
    if (failure == null) {
      failingSince = Instant.now();
      failure = line;
      // The executors make their threads when first given work: a worker whose storage never
      // fails runs none.
      probes =
          timer.scheduleWithFixedDelay(
              this::probeIfFailing,
              PROBE_EVERY.toMillis(),
              PROBE_EVERY.toMillis(),
              TimeUnit.MILLISECONDS);
      LOG.warnf(
          "storage failing (%s): this worker claims nothing and is not ready until a probe"
              + " writes under its storage root in time (every %d s); its tasks wait, their"
              + " attempts not counted, for a worker whose storage works",
          line, PROBE_EVERY.toSeconds());
    }
  }

  private synchronized void probeIfFailing() {
    if (failure == null) {
      return;
    }
    if (probing != null && !probing.isDone()) {
      LOG.warnf(
          "storage failing since %s: the last probe has not returned (a hung volume?)",
          failingSince);
      return;
    }
    probing =
        prober.submit(
            () -> {
              try {
                if (probe != null) {
                  probe.run();
                }
                LOG.infof(
                    "storage works again (a probe wrote under the storage root); failing since"
                        + " %s. This worker claims again",
                    failingSince);
                recovered();
              } catch (IOException | RuntimeException e) {
                LOG.warnf("storage still failing: the probe failed (%s)", e.getMessage());
              }
            });
  }

  private synchronized void recovered() {
    failure = null;
    failingSince = null;
    if (probes != null) {
      probes.cancel(false);
      probes = null;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    prober.shutdownNow();
  }
}
