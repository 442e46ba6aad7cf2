package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;
import transfer.ledger.TaskRow;
import transfer.s3server.EmbeddedS3;
import transfer.storage.Stored;
import transfer.storage.s3.S3Bucket;
import transfer.storage.s3.S3Settings;

/**
 * Downloads into a real S3 API server (S3Proxy on loopback, checking signatures): parts, the
 * checkpoint state, a continuation on a fresh writer (another worker) from the last part, and the
 * single PUT of a small body.
 */
class S3DownloadsIT {
  static final long PART = 5L << 20;
  static Vertx vertx;
  static EmbeddedS3 server;
  static S3Bucket bucket;
  static Path spool;

  @TempDir static Path dir;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    server = EmbeddedS3.start(dir.resolve("s3"), 0, "it-access", "it-secret-key");
    System.setProperty("aws.accessKeyId", "it-access");
    System.setProperty("aws.secretAccessKey", "it-secret-key");
    S3Settings settings =
        new S3Settings(
            Optional.of(server.endpoint()),
            Optional.of("us-east-1"),
            true,
            Optional.of(true),
            Duration.ofSeconds(30));
    bucket = S3Bucket.open(settings, "downloads-it", "cluster/");
    bucket.create();
    spool = dir.resolve("spool");
  }

  @AfterAll
  static void stop() throws Exception {
    bucket.close();
    server.close();
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  private S3Downloads downloads() {
    FileStorage files = new FileStorage(dir.resolve("files"), vertx, false, 1 << 20, 16 << 20, 2);
    return new S3Downloads(
        bucket, files, vertx.createSharedWorkerExecutor("it-s3", 4), PART, spool);
  }

  @Test
  void aBodyOfSeveralPartsIsStoredWholeWithItsDigestAndEachPartIsACheckpoint() throws Exception {
    byte[] body = random(2 * PART + 123_457, 1);
    TaskRow task = task("t-parts", 0, null);
    DownloadBody target = downloads().body(task, 1);
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    assertThat(target.resumableFrom(true)).isZero();

    Context ctx = vertx.getOrCreateContext();
    BodySink sink = await(ctx, () -> target.open(0, digest));
    write(ctx, sink, body, 0, body.length);
    await(ctx, sink::finish);
    long durable = await(ctx, sink::flush);
    assertThat(durable).as("the last whole part is the last checkpoint").isEqualTo(2 * PART);
    assertThat(target.state(PART)).startsWith("s3.v1 ");
    assertThat(target.state(2 * PART)).startsWith("s3.v1 ");
    assertThat(target.state(body.length)).as("the last part is no checkpoint").isNull();

    Stored stored = target.publish(body.length, NO_DESTINATION);
    assertThat(stored.location()).isEqualTo("s3://downloads-it/cluster/ten/ses/t-parts.e1");
    assertThat(stored.directories()).isEmpty();
    assertThat(read("cluster/ten/ses/t-parts.e1")).isEqualTo(body);
    assertThat(digest.digest()).isEqualTo(sha256(body));
    assertThat(bucket.uploads("cluster/")).isEmpty();
    assertThat(spoolFiles()).isEmpty();
  }

  @Test
  void anotherWorkerContinuesTheSameUploadFromTheLastPartWithTheDigestItHadThere()
      throws Exception {
    byte[] body = random(3 * PART + 99, 2);
    Context ctx = vertx.getOrCreateContext();

    // The first attempt gets two parts and a half into S3, then stops (its worker died).
    TaskRow first = task("t-resume", 0, null);
    DownloadBody one = downloads().body(first, 1);
    MessageDigest d1 = MessageDigest.getInstance("SHA-256");
    BodySink s1 = await(ctx, () -> one.open(0, d1));
    write(ctx, s1, body, 0, (int) (2 * PART + PART / 2));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> await(ctx, s1::flush) == 2 * PART);
    String state = one.state(2 * PART);
    assertThat(state).isNotNull();
    ctx.runOnContext(v -> s1.abort());

    // The next attempt, on a fresh store (another worker), continues from the checkpoint.
    TaskRow second = task("t-resume", 2 * PART, state);
    DownloadBody two = downloads().body(second, 2);
    assertThat(two.resumableFrom(true)).isEqualTo(2 * PART);
    assertThat(two.resumableFrom(false)).as("no validator: no resume").isZero();
    assertThat(two.resumableFrom(true)).isEqualTo(2 * PART);
    MessageDigest d2 = MessageDigest.getInstance("SHA-256");
    assertThat(two.restore(2 * PART, d2)).isTrue();
    BodySink s2 = await(ctx, () -> two.open(2 * PART, d2));
    write(ctx, s2, body, (int) (2 * PART), body.length);
    await(ctx, s2::finish);
    Stored stored = two.publish(body.length, NO_DESTINATION);

    // Completed under the key of the attempt that began the upload, with the whole digest.
    assertThat(stored.location()).endsWith("/t-resume.e1");
    assertThat(read("cluster/ten/ses/t-resume.e1")).isEqualTo(body);
    assertThat(d2.digest()).isEqualTo(sha256(body));
    two.dropEarlier();
    assertThat(bucket.uploads("cluster/ten/ses/t-resume")).isEmpty();
  }

  @Test
  void aCheckpointWhoseUploadIsGoneStartsOver() throws Exception {
    byte[] body = random(PART + 10, 3);
    Context ctx = vertx.getOrCreateContext();
    DownloadBody one = downloads().body(task("t-gone", 0, null), 1);
    MessageDigest d1 = MessageDigest.getInstance("SHA-256");
    BodySink s1 = await(ctx, () -> one.open(0, d1));
    write(ctx, s1, body, 0, (int) PART + 5);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> await(ctx, s1::flush) == PART);
    String state = one.state(PART);
    ctx.runOnContext(v -> s1.abort());
    one.dropAll(); // a final failure aborts the task's uploads

    DownloadBody two = downloads().body(task("t-gone", PART, state), 2);
    assertThat(two.resumableFrom(true)).isEqualTo(PART);
    assertThat(two.restore(PART, MessageDigest.getInstance("SHA-256"))).isFalse();
  }

  @Test
  void aBodyShorterThanAPartIsOnePutAndNeverAMultipartUpload() throws Exception {
    byte[] body = random(70_000, 4);
    Context ctx = vertx.getOrCreateContext();
    DownloadBody target = downloads().body(task("t-small", 0, null), 1);
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    BodySink sink = await(ctx, () -> target.open(0, digest));
    write(ctx, sink, body, 0, body.length);
    await(ctx, sink::finish);
    assertThat(bucket.uploads("cluster/ten/ses/t-small")).isEmpty();
    target.publish(body.length, NO_DESTINATION);
    assertThat(read("cluster/ten/ses/t-small.e1")).isEqualTo(body);
    assertThat(digest.digest()).isEqualTo(sha256(body));

    DownloadBody empty = downloads().body(task("t-empty", 0, null), 1);
    MessageDigest d0 = MessageDigest.getInstance("SHA-256");
    BodySink none = await(ctx, () -> empty.open(0, d0));
    await(ctx, none::finish);
    empty.publish(0, NO_DESTINATION);
    assertThat(read("cluster/ten/ses/t-empty.e1")).isEmpty();
    assertThat(spoolFiles()).isEmpty();
  }

  @Test
  void aNamedDestinationGetsTheObjectOnceTheLeaseIsRenewedAndTheAttemptsOwnKeyGoes()
      throws Exception {
    byte[] body = random(PART + 4_321, 5);
    Context ctx = vertx.getOrCreateContext();
    DownloadBody target = downloads().body(task("t-named", 0, null, "reports/2026/q4.csv"), 1);
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    BodySink sink = await(ctx, () -> target.open(0, digest));
    write(ctx, sink, body, 0, body.length);
    await(ctx, sink::finish);
    AtomicInteger asked = new AtomicInteger();

    Stored stored = target.publish(body.length, asked::incrementAndGet);

    assertThat(asked).as("the lease is renewed once, before the object is visible").hasValue(1);
    assertThat(stored.location())
        .isEqualTo("s3://downloads-it/cluster/ten/_named/reports/2026/q4.csv");
    assertThat(read("cluster/ten/_named/reports/2026/q4.csv")).isEqualTo(body);
    assertThat(bucket.size("cluster/ten/ses/t-named.e1")).as("the attempt's own key").isEmpty();
    assertThat(bucket.uploads("cluster/")).isEmpty();

    // A refused completion leaves a named destination alone: the attempt the ledger took may have
    // written it.
    target.discard(stored);
    assertThat(read("cluster/ten/_named/reports/2026/q4.csv")).isEqualTo(body);
  }

  @Test
  void aLapsedLeaseLeavesTheNamedDestinationAsItWas() throws Exception {
    bucket.put("cluster/ten/_named/kept.bin", new java.io.ByteArrayInputStream(new byte[] {7}), 1);
    byte[] body = random(PART + 1, 6);
    Context ctx = vertx.getOrCreateContext();
    DownloadBody target = downloads().body(task("t-lapsed", 0, null, "kept.bin"), 1);
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    BodySink sink = await(ctx, () -> target.open(0, digest));
    write(ctx, sink, body, 0, body.length);
    await(ctx, sink::finish);

    assertThatThrownBy(
            () ->
                target.publish(
                    body.length,
                    () -> {
                      throw new LeaseGate.LeaseLapsed("taken over by another worker");
                    }))
        .isInstanceOf(LeaseGate.LeaseLapsed.class);

    assertThat(read("cluster/ten/_named/kept.bin")).containsExactly(7);
    assertThat(bucket.size("cluster/ten/ses/t-lapsed.e1")).isEmpty();
    assertThat(bucket.uploads("cluster/")).as("the copy's upload is aborted").isEmpty();
  }

  // ------------------------------------------------------------------ helpers

  /** A task that names no destination never asks the gate. */
  private static final LeaseGate NO_DESTINATION =
      () -> {
        throw new AssertionError("a body with no destination asked for the lease");
      };

  /** Writes {@code body[from, to)} in pieces of varying size, honouring back-pressure. */
  private static void write(Context ctx, BodySink sink, byte[] body, int from, int to)
      throws Exception {
    Random r = new Random(from);
    int at = from;
    while (at < to) {
      int n = Math.min(to - at, 1 + r.nextInt(200_000));
      Buffer piece = Buffer.buffer().appendBytes(body, at, n);
      at += n;
      await(
          ctx,
          () -> {
            Promise<Void> room = Promise.promise();
            if (sink.write(piece)) {
              room.complete();
            } else {
              sink.drainHandler(v -> room.tryComplete());
            }
            return room.future();
          });
    }
  }

  private static <T> T await(Context ctx, Supplier<Future<T>> op) throws Exception {
    CompletableFuture<T> done = new CompletableFuture<>();
    ctx.runOnContext(
        v -> {
          try {
            op.get().onSuccess(done::complete).onFailure(done::completeExceptionally);
          } catch (RuntimeException e) {
            done.completeExceptionally(e);
          }
        });
    return done.get(60, TimeUnit.SECONDS);
  }

  private static byte[] read(String key) throws Exception {
    try (InputStream in = bucket.read(key, 0, -1)) {
      return in.readAllBytes();
    }
  }

  private static List<Path> spoolFiles() throws Exception {
    if (!Files.exists(spool)) {
      return List.of();
    }
    try (var s = Files.list(spool)) {
      return s.toList();
    }
  }

  private static byte[] random(long size, long seed) {
    byte[] b = new byte[(int) size];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] sha256(byte[] b) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(b);
  }

  /**
   * A running download of tenant "ten", session "ses", with a checkpoint when {@code bytes} > 0.
   */
  private static TaskRow task(String id, long bytesDurable, String state) {
    return task(id, bytesDurable, state, null);
  }

  private static TaskRow task(String id, long bytesDurable, String state, String destination) {
    String url = "http://127.0.0.1:1/f";
    TaskRequest request =
        destination == null
            ? TaskRequest.download(url)
            : TaskRequest.download(url).withDestination(destination);
    Instant now = Instant.now();
    return new TaskRow(
        id,
        "ten",
        "ses",
        TaskType.DOWNLOAD,
        TaskState.RUNNING,
        url,
        request,
        0.5,
        1,
        5,
        null,
        "w",
        1,
        null,
        bytesDurable,
        bytesDurable,
        null,
        "\"v1\"",
        null,
        null,
        null,
        null,
        now,
        now,
        null,
        bytesDurable > 0 ? 1L : null,
        null,
        "127.0.0.1:1",
        false,
        null,
        null,
        null,
        null,
        null,
        null,
        0,
        null,
        null,
        null,
        state);
  }
}
