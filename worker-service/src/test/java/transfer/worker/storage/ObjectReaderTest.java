package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ObjectReaderTest {
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

  /** What a caller saw: the bytes in order, the chunk sizes, the end or the error. */
  record Seen(byte[] bytes, List<Integer> sizes, boolean ended, Throwable error, int last) {}

  private Seen readAll(FileStorage storage, Path file, long size, MessageDigest sha)
      throws Exception {
    CompletableFuture<Seen> result = new CompletableFuture<>();
    vertx
        .getOrCreateContext()
        .runOnContext(
            v ->
                storage
                    .openReader(file, size, sha)
                    .onFailure(result::completeExceptionally)
                    .onSuccess(
                        r -> {
                          ByteArrayOutputStream out = new ByteArrayOutputStream();
                          List<Integer> sizes = new ArrayList<>();
                          r.handler(
                              c -> {
                                append(out, c);
                                sizes.add(c.length());
                                // Released a little later, as a write completes.
                                vertx.setTimer(1, t -> r.release(c));
                              });
                          r.endHandler(
                              c -> {
                                int last = c == null ? 0 : c.length();
                                if (c != null) {
                                  append(out, c);
                                  r.release(c);
                                }
                                result.complete(
                                    new Seen(out.toByteArray(), sizes, true, null, last));
                              });
                          r.exceptionHandler(
                              e ->
                                  result.complete(new Seen(out.toByteArray(), sizes, false, e, 0)));
                          r.start();
                        }));
    return result.get(60, TimeUnit.SECONDS);
  }

  private static void append(ByteArrayOutputStream out, ObjectReader.Chunk c) {
    byte[] b = new byte[c.length()];
    c.buffer().getBytes(0, b.length, b);
    out.write(b, 0, b.length);
  }

  @Test
  void theObjectArrivesInOrderInGrowingChunksWithTheLastOneAfterTheWholeDigest() throws Exception {
    FileStorage storage = new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2);
    byte[] body = new byte[20_000_001];
    new Random(1).nextBytes(body);
    Path file = dir.resolve("src");
    Files.write(file, body);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    Seen seen = readAll(storage, file, body.length, sha);
    assertThat(seen.ended()).isTrue();
    assertThat(seen.bytes()).isEqualTo(body);
    assertThat(seen.last()).isPositive();
    assertThat(sha.digest()).isEqualTo(MessageDigest.getInstance("SHA-256").digest(body));
    assertThat(seen.sizes().get(0)).isEqualTo(64 << 10);
    assertThat(seen.sizes()).contains(4 << 20);
  }

  @Test
  void onlyTheSizeAskedForIsReadAndAnEmptyObjectEndsAtOnce() throws Exception {
    FileStorage storage = new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2);
    Path file = dir.resolve("src");
    Files.write(file, new byte[100_000]);
    assertThat(readAll(storage, file, 1000, MessageDigest.getInstance("SHA-256")).bytes())
        .hasSize(1000);
    Seen empty = readAll(storage, file, 0, MessageDigest.getInstance("SHA-256"));
    assertThat(empty.ended()).isTrue();
    assertThat(empty.bytes()).isEmpty();
  }

  @Test
  void anObjectShorterThanItsSizeEndsInShorterAndNeverInTheEnd() throws Exception {
    FileStorage storage = new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2);
    Path file = dir.resolve("src");
    Files.write(file, new byte[300_000]);
    Seen seen = readAll(storage, file, 300_001, MessageDigest.getInstance("SHA-256"));
    assertThat(seen.ended()).isFalse();
    assertThat(seen.error()).isInstanceOf(ObjectReader.Shorter.class);
    assertThat(seen.error().getMessage()).contains("300000 of its 300001 bytes");
  }

  @Test
  void anAbortedReaderGivesItsChunksUpAndReadsNoMore() throws Exception {
    FileStorage storage = new FileStorage(dir, vertx, true, 4 << 20, 16 << 20, 2);
    Path file = dir.resolve("src");
    Files.write(file, new byte[10 << 20]);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    CompletableFuture<Integer> chunks = new CompletableFuture<>();
    vertx
        .getOrCreateContext()
        .runOnContext(
            v ->
                storage
                    .openReader(file, 10 << 20, sha)
                    .compose(
                        r -> {
                          Promise<Integer> p = Promise.promise();
                          int[] n = {0};
                          r.handler(
                              c -> {
                                // Never released: the reader stops at its limit of chunks out.
                                if (++n[0] == ObjectReader.MAX_OUTSTANDING) {
                                  r.abort();
                                  vertx.setTimer(200, t -> p.complete(n[0]));
                                }
                              });
                          r.endHandler(c -> p.tryFail("ended"));
                          r.start();
                          return p.future();
                        })
                    .onComplete(
                        ar -> {
                          if (ar.succeeded()) {
                            chunks.complete(ar.result());
                          } else {
                            chunks.completeExceptionally(ar.cause());
                          }
                        }));
    assertThat(chunks.get(30, TimeUnit.SECONDS)).isEqualTo(ObjectReader.MAX_OUTSTANDING);
    assertThat(storage.buffers().committed()).isZero();
  }
}
