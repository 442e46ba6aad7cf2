package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.storage.StorageLayout;
import transfer.storage.StoredFiles;
import transfer.testkit.RecordingDurability;

/** The write path on real files: on this disk (O_DIRECT), on tmpfs (refused) and with it off. */
class ObjectWriterTest {
  static Vertx vertx;

  @TempDir Path dir;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() {
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  private FileStorage storage(Path root, boolean directIo) {
    return new FileStorage(root, vertx, directIo, 4 << 20, 16 << 20, 2);
  }

  @Test
  void aBodyWrittenInPiecesOfAnySizeIsStoredAndHashedExactly() throws Exception {
    FileStorage storage = storage(dir, true);
    byte[] body = random(5_000_003, 1);
    Path file = dir.resolve("a.part");
    MessageDigest sha = sha256();
    ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha));
    assertThat(w.directIo()).as("O_DIRECT on the test's disk").isTrue();
    onContext(() -> writeAll(w, pieces(body, 0, body.length, 7)));
    onContext(w::finish);
    assertThat(Files.readAllBytes(file)).isEqualTo(body);
    assertThat(sha.digest()).isEqualTo(sha256().digest(body));
    assertThat(storage.buffers().committed()).isLessThanOrEqualTo(16 << 20);
  }

  @Test
  void finishingForcesTheWholeBodyBeforeItCompletes() throws Exception {
    for (boolean directIo : new boolean[] {true, false}) {
      RecordingDurability durability = new RecordingDurability();
      Path root = Files.createDirectories(dir.resolve("forced-" + directIo));
      FileStorage storage =
          new FileStorage(
              new StoredFiles(new StorageLayout(root), durability),
              vertx,
              directIo,
              4 << 20,
              16 << 20,
              2);
      byte[] body = random(1_000_003, 5);
      Path file = root.resolve("f.part");
      // The size on disk when the body was forced: all of it, truncated to its end.
      durability.observe(p -> p.toFile().length());
      ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha256()));
      onContext(() -> writeAll(w, pieces(body, 0, body.length, 3)));
      assertThat(durability.of(file)).isEmpty();

      onContext(w::finish);

      assertThat(durability.of(file))
          .as("direct I/O " + directIo)
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.kind()).isEqualTo(RecordingDurability.Kind.FORCE);
                assertThat(s.observed()).isEqualTo((long) body.length);
              });
    }
  }

  @Test
  void onTmpfsTheBodyIsStoredWhetherOrNotItTakesODirect() throws Exception {
    // Linux 6.6 and later take O_DIRECT on tmpfs; earlier ones refuse it when the file is opened.
    Path shm = Path.of("/dev/shm");
    assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no /dev/shm");
    Path root = Files.createTempDirectory(shm, "object-writer-test");
    try {
      FileStorage storage = storage(root, true);
      roundTrip(storage, root.resolve("b.part"), null);
    } finally {
      try (var files = Files.list(root)) {
        for (Path p : files.toList()) {
          Files.delete(p);
        }
      }
      Files.delete(root);
    }
  }

  @Test
  void aFilesystemThatRefusesODirectAtOpenGetsThePageCache() throws Exception {
    FileStorage storage =
        new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2) {
          @Override
          FileChannel openDirectChannel(Path path) throws IOException {
            throw new FileSystemException(path.toString(), null, "Invalid argument");
          }
        };
    roundTrip(storage, dir.resolve("h.part"), false);
    roundTrip(storage, dir.resolve("i.part"), false);
  }

  @Test
  void aFilesystemThatRefusesODirectWritesGetsThePageCacheFromThatWriteOn() throws Exception {
    FileStorage storage =
        new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2) {
          @Override
          FileChannel openDirectChannel(Path path) {
            return new RefusingChannel();
          }
        };
    roundTrip(storage, dir.resolve("j.part"), true);
  }

  @Test
  void withDirectIoOffTheBodyGoesThroughThePageCache() throws Exception {
    roundTrip(storage(dir, false), dir.resolve("c.part"), false);
  }

  /** Writes, checkpoints and finishes a body; {@code direct}: what the writer says at first. */
  private void roundTrip(FileStorage storage, Path file, Boolean direct) throws Exception {
    byte[] body = random(3_000_001, 2);
    MessageDigest sha = sha256();
    ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha));
    if (direct != null) {
      assertThat(w.directIo()).isEqualTo(direct);
    }
    onContext(() -> writeAll(w, pieces(body, 0, 1_000_000, 3)));
    assertThat((long) onContext(w::flush)).isEqualTo(1_000_000L);
    onContext(() -> writeAll(w, pieces(body, 1_000_000, body.length, 4)));
    onContext(w::finish);
    assertThat(Files.readAllBytes(file)).isEqualTo(body);
    assertThat(sha.digest()).isEqualTo(sha256().digest(body));
    if (Boolean.TRUE.equals(direct) && !w.directIo()) {
      // It fell back: the next object does not try again.
      assertThat(onContext(() -> storage.openWriter(file, 0, true, sha256())).directIo()).isFalse();
    }
  }

  @Test
  void aCheckpointAtAnOddOffsetMakesThatPrefixDurableAndTheRestFollowsIt() throws Exception {
    FileStorage storage = storage(dir, true);
    byte[] body = random(2_000_000, 3);
    Path file = dir.resolve("d.part");
    MessageDigest sha = sha256();
    ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha));
    int[] cuts = {1, 4095, 4097, 70_001, 70_002, 1_234_567};
    int at = 0;
    for (int cut : cuts) {
      int from = at;
      onContext(() -> writeAll(w, pieces(body, from, cut, 5)));
      assertThat((long) onContext(w::flush)).isEqualTo(cut);
      // What a checkpoint records is on disk, exactly.
      assertThat(Arrays.copyOf(Files.readAllBytes(file), cut)).isEqualTo(Arrays.copyOf(body, cut));
      at = cut;
    }
    int from = at;
    onContext(() -> writeAll(w, pieces(body, from, body.length, 6)));
    onContext(w::finish);
    assertThat(Files.readAllBytes(file)).isEqualTo(body);
    assertThat(sha.digest()).isEqualTo(sha256().digest(body));
  }

  @Test
  void aResumedBodyContinuesAfterAPrefixOfAnyLength() throws Exception {
    FileStorage storage = storage(dir, true);
    byte[] body = random(1_500_000, 4);
    for (int prefix : new int[] {4096, 12_345, 1_048_576 + 1}) {
      Path file = dir.resolve("e" + prefix + ".part");
      Files.write(file, Arrays.copyOf(body, prefix));
      MessageDigest sha = sha256();
      sha.update(body, 0, prefix);
      ObjectWriter w = onContext(() -> storage.openWriter(file, prefix, false, sha));
      onContext(() -> writeAll(w, pieces(body, prefix, body.length, 8)));
      onContext(w::finish);
      assertThat(Files.readAllBytes(file)).as("prefix %d", prefix).isEqualTo(body);
      assertThat(sha.digest()).isEqualTo(sha256().digest(body));
    }
  }

  @Test
  void aFastWriterIsHeldBackAndDrainedAndASlowOneKeepsToSmallChunks() throws Exception {
    FileStorage storage = storage(dir, true);
    Path file = dir.resolve("f.part");
    ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha256()));
    // A little, then a checkpoint: one small chunk, nothing from the budget.
    onContext(() -> writeAll(w, List.of(Buffer.buffer(new byte[100]))));
    onContext(w::flush);
    assertThat(storage.buffers().committed()).isZero();
    // Many bytes at once: the writer asks to pause at some point and drains later.
    byte[] body = random(32 << 20, 5);
    boolean[] pausedOnce = {false};
    onContext(
        () -> {
          Promise<Void> p = Promise.promise();
          List<Buffer> all = pieces(body, 0, body.length, 9);
          new Object() {
            int i;

            void next() {
              while (i < all.size()) {
                if (!w.write(all.get(i++))) {
                  pausedOnce[0] = true;
                  w.drainHandler(v -> next());
                  return;
                }
              }
              p.complete();
            }
          }.next();
          return p.future();
        });
    assertThat(pausedOnce[0]).isTrue();
    assertThat(storage.buffers().committed()).isGreaterThan(0);
    onContext(w::finish);
    assertThat(Files.size(file)).isEqualTo(100 + body.length);
  }

  @Test
  void anAbortedWriterWritesNothingMoreAndRefusesToFinish() throws Exception {
    FileStorage storage = storage(dir, true);
    Path file = dir.resolve("g.part");
    ObjectWriter w = onContext(() -> storage.openWriter(file, 0, true, sha256()));
    byte[] body = random(1_000_000, 6);
    onContext(() -> writeAll(w, pieces(body, 0, body.length, 10)));
    onContext(
        () -> {
          w.abort();
          assertThat(w.write(Buffer.buffer(new byte[10]))).isFalse();
          return Future.succeededFuture();
        });
    assertThatThrownBy(() -> onContext(w::finish)).hasMessageContaining("closed");
    assertThatThrownBy(() -> onContext(w::flush)).hasMessageContaining("closed");
    assertThat(Files.size(file)).isLessThan(body.length);
  }

  // ---------------------------------------------------------------- helpers

  /** An O_DIRECT channel of a filesystem that opens such files but refuses every write. */
  private static final class RefusingChannel extends FileChannel {
    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      throw new IOException("Invalid argument");
    }

    @Override
    protected void implCloseChannel() {}

    @Override
    public int read(ByteBuffer dst) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public int write(ByteBuffer src) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long position() {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileChannel position(long newPosition) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long size() {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileChannel truncate(long size) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void force(boolean metaData) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
      throw new UnsupportedOperationException();
    }

    @Override
    public int read(ByteBuffer dst, long position) {
      throw new UnsupportedOperationException();
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) {
      throw new UnsupportedOperationException();
    }
  }

  /** Runs {@code work} on one Vert.x context (as an attempt does) and waits for its future. */
  private static <T> T onContext(Supplier<Future<T>> work) throws Exception {
    Context context = vertx.getOrCreateContext();
    CompletableFuture<T> done = new CompletableFuture<>();
    context.runOnContext(
        v -> work.get().onSuccess(done::complete).onFailure(done::completeExceptionally));
    try {
      return done.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  /** Writes every piece, pausing (as a response would) whenever the writer asks. */
  private static Future<Void> writeAll(ObjectWriter w, List<Buffer> all) {
    Promise<Void> p = Promise.promise();
    new Object() {
      int i;

      void next() {
        while (i < all.size()) {
          if (!w.write(all.get(i++))) {
            w.drainHandler(v -> next());
            return;
          }
        }
        p.complete();
      }
    }.next();
    return p.future();
  }

  /** {@code body[from, to)} cut into pieces of 1 byte to 130 KiB. */
  private static List<Buffer> pieces(byte[] body, int from, int to, long seed) {
    Random r = new Random(seed);
    List<Buffer> out = new ArrayList<>();
    int at = from;
    while (at < to) {
      int n = Math.min(to - at, r.nextInt(4) == 0 ? 1 + r.nextInt(100) : 1 + r.nextInt(130_000));
      out.add(Buffer.buffer(Arrays.copyOfRange(body, at, at + n)));
      at += n;
    }
    return out;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
