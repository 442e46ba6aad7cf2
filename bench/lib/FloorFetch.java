import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The least a worker's download of a small file can cost on this machine, with the libraries the
 * worker uses: a Vert.x HTTP GET, SHA-256 of the body, written to a new file, and (with
 * {@code fsync}) the file forced to disk before the download counts, as the cluster does before it
 * commits a completion. No ledger, no events, no Kafka: what is left of the cluster's cost per task
 * once everything it does besides moving the bytes is gone.
 *
 * <p>Run by bench/floor: {@code java -cp <the worker's jars> FloorFetch.java HOST PORT LIST OUT
 * WARMUP FSYNC CONCURRENCY}. LIST holds one "path sha256" per line; every file is checked. The first
 * WARMUP lines are the warm-up, fetched into OUT/warmup (not measured) so that the JIT has compiled
 * the path; the rest are measured, fetched into OUT/measured. Nothing is deleted while it runs (on an
 * ext4 without a journal, creating files right after deleting many costs more). Prints one line of
 * {@code key=value} figures: files, seconds, files/s, process CPU ms per file, JIT CPU ms per file.
 */
public final class FloorFetch {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    List<String[]> files = Files.readAllLines(Path.of(args[2])).stream().map(l -> l.trim().split("\\s+")).toList();
    Path out = Path.of(args[3]);
    int warmup = Integer.parseInt(args[4]);
    boolean fsync = Boolean.parseBoolean(args[5]);
    int concurrency = Integer.parseInt(args[6]);

    Vertx vertx = Vertx.vertx();
    HttpClient client =
        vertx.createHttpClient(new HttpClientOptions().setMaxPoolSize(concurrency).setKeepAlive(true));
    try {
      Path warm = Files.createDirectories(out.resolve("warmup"));
      Path measured = Files.createDirectories(out.resolve("measured"));
      int warmupCount = Math.min(warmup, files.size());
      fetchAll(vertx, client, host, port, files.subList(0, warmupCount), warm, fsync, concurrency);
      var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      var jit = ManagementFactory.getCompilationMXBean();
      long cpu0 = os.getProcessCpuTime();
      long jit0 = jit.getTotalCompilationTime();
      long t0 = System.nanoTime();
      fetchAll(vertx, client, host, port, files.subList(warmupCount, files.size()), measured, fsync, concurrency);
      long t1 = System.nanoTime();
      long cpu1 = os.getProcessCpuTime();
      long jit1 = jit.getTotalCompilationTime();
      double seconds = (t1 - t0) / 1e9;
      int measuredCount = files.size() - warmupCount;
      System.out.printf(
          "files=%d seconds=%.3f files_per_s=%.0f cpu_ms_per_file=%.4f jit_ms_per_file=%.4f%n",
          measuredCount, seconds, measuredCount / seconds, (cpu1 - cpu0) / 1e6 / measuredCount,
          (double) (jit1 - jit0) / measuredCount);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().join();
    }
  }

  /** Fetches every file, {@code concurrency} at a time; fails on the first error or wrong digest. */
  static void fetchAll(Vertx vertx, HttpClient client, String host, int port, List<String[]> files, Path dir,
      boolean fsync, int concurrency) throws Exception {
    CountDownLatch done = new CountDownLatch(files.size());
    AtomicInteger next = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable[] one = new Runnable[1];
    one[0] = () -> {
      int i = next.getAndIncrement();
      while (i < files.size() && failure.get() != null) {
        done.countDown(); // after a failure the rest is skipped, so that the wait ends
        i = next.getAndIncrement();
      }
      if (i >= files.size()) {
        return;
      }
      String path = files.get(i)[0];
      String expected = files.get(i)[1];
      Path target = dir.resolve(Path.of(path).getFileName().toString());
      client.request(HttpMethod.GET, port, host, path)
          .compose(request -> request.send())
          .compose(response -> {
            try {
              MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
              FileChannel channel = FileChannel.open(target, StandardOpenOption.CREATE,
                  StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
              response.handler(chunk -> {
                ByteBuffer bytes = chunk.getByteBuf().nioBuffer();
                sha256.update(bytes.duplicate());
                try {
                  while (bytes.hasRemaining()) {
                    channel.write(bytes);
                  }
                } catch (Exception e) {
                  failure.compareAndSet(null, e);
                }
              });
              return response.end().compose(v -> vertx.executeBlocking(() -> {
                if (fsync) {
                  channel.force(true);
                }
                channel.close();
                return HexFormat.of().formatHex(sha256.digest());
              }, false));
            } catch (Exception e) {
              return io.vertx.core.Future.failedFuture(e);
            }
          })
          .onComplete(result -> {
            if (result.failed()) {
              failure.compareAndSet(null, new IllegalStateException(path + ": " + result.cause(), result.cause()));
            } else if (!result.result().equals(expected)) {
              failure.compareAndSet(null, new IllegalStateException(path + ": sha256 " + result.result() + ", expected " + expected));
            }
            done.countDown();
            one[0].run();
          });
    };
    for (int i = 0; i < concurrency; i++) {
      vertx.runOnContext(v -> one[0].run());
    }
    done.await();
    if (failure.get() != null) {
      throw new IllegalStateException("floor fetch failed: " + failure.get().getMessage(), failure.get());
    }
  }
}
