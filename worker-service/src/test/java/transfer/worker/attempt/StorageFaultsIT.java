package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.WaitReasons;
import transfer.ledger.Claim;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;
import transfer.worker.WorkerMetrics;
import transfer.worker.storage.FileStorage;
import transfer.worker.storage.StorageHealth;

/**
 * Storage faults on a real volume (an ext4 image on a loop device, {@link LoopVolume}), a real
 * ledger and origin: a full disk and a hung volume each end the attempt (the hung one within the
 * session's {@code requestTimeout}, where before it waited on its own disk forever while its
 * heartbeats renewed the lease), with {@code storage_failed}, which uses up no attempt (the task
 * waits, {@code storage}); the worker's storage is then failing ({@link StorageHealth}: no claims,
 * readiness down) until a probe writes on the volume again.
 */
class StorageFaultsIT {
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(2);

  private static TestAttempts.Ground ground;

  @BeforeAll
  static void infrastructure() {
    ground = TestAttempts.Ground.start(StorageFaultsIT.class);
  }

  @AfterAll
  static void stopAll() throws Exception {
    ground.close();
  }

  @Test
  void aFullDiskFailsTheAttemptWithoutUsingItUpAndTheStorageIsFailingUntilThereIsRoom()
      throws Exception {
    try (LoopVolume volume = LoopVolume.mount(8);
        StorageHealth health = new StorageHealth(StorageHealth.writing(volume.root(), "it"))) {
      Ledger ledger = new Ledger(ground.dataSource(), Clock.systemUTC());
      String[] ids = TestAttempts.tenantWithSession(ledger);
      // 16 MiB into a volume of 8 (6.5 free).
      TaskRow task =
          submit(ledger, ids, "/bytes/" + (16 << 20) + "?seed=81", SessionConfig.DEFAULT);

      Attempt attempt = start(ledger, task, volume.root(), health);
      attempt.finished().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);

      TaskRow after = ledger.taskControl().task(ids[0], ids[1], task.id()).orElseThrow();
      assertThat(after.state()).isEqualTo(TaskState.WAITING);
      assertThat(after.waitingReason()).isEqualTo(WaitReasons.STORAGE);
      assertThat(after.error().code()).isEqualTo(ErrorCodes.STORAGE_FAILED);
      assertThat(after.error().message()).containsIgnoringCase("space");
      assertThat(after.countedAttempts()).as("the full disk used up no attempt").isZero();
      assertThat(health.healthy()).isFalse();
      assertThat(health.failure()).contains(task.id());

      // The disk stays full (the attempt's bytes are kept for its resume): the probe fails.
      Thread.sleep(StorageHealth.PROBE_EVERY.toMillis() + 1000);
      assertThat(health.healthy()).as("still full").isFalse();
      // An operator makes room: the next probe writes, and the worker claims again.
      try (Stream<Path> files = Files.walk(volume.root())) {
        files
            .filter(p -> p.getFileName().toString().contains(task.id()))
            .forEach(p -> p.toFile().delete());
      }
      await().atMost(Duration.ofSeconds(15)).until(health::healthy);
    }
  }

  @Test
  void aHungVolumeEndsTheAttemptWithinTheRequestTimeoutWithoutUsingItUp() throws Exception {
    try (LoopVolume volume = LoopVolume.mount(64);
        StorageHealth health = new StorageHealth(StorageHealth.writing(volume.root(), "it"))) {
      Ledger ledger = new Ledger(ground.dataSource(), Clock.systemUTC());
      String[] ids = TestAttempts.tenantWithSession(ledger);
      SessionConfig quick =
          new SessionConfig(null, null, REQUEST_TIMEOUT, null, false, null, null, null);
      ledger.sessions().upsertSession(ids[0], ids[1], quick);
      // 32 MiB at 2 MiB a second: the volume hangs in the middle of the body.
      TaskRow task =
          submit(ledger, ids, "/bytes/" + (32 << 20) + "?seed=82&rate=" + (2 << 20), quick);

      Attempt attempt = start(ledger, task, volume.root(), health);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  ledger
                          .taskControl()
                          .task(ids[0], ids[1], task.id())
                          .orElseThrow()
                          .bytesTransferred()
                      > 0);
      volume.freeze();
      long frozenAt = System.nanoTime();
      try {
        attempt.finished().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        Duration ended = Duration.ofNanos(System.nanoTime() - frozenAt);
        System.out.printf(
            "hung volume: the attempt ended %d ms after the volume froze (requestTimeout %d ms)%n",
            ended.toMillis(), REQUEST_TIMEOUT.toMillis());
        // The writer fills its buffers first (up to 64 MiB of memory at 2 MiB/s would be long:
        // the origin's rate keeps it well inside), then the watchdog's next look ends it.
        assertThat(ended).isLessThan(REQUEST_TIMEOUT.multipliedBy(4));

        TaskRow after = ledger.taskControl().task(ids[0], ids[1], task.id()).orElseThrow();
        assertThat(after.state()).isEqualTo(TaskState.WAITING);
        assertThat(after.waitingReason()).isEqualTo(WaitReasons.STORAGE);
        assertThat(after.error().message()).contains("took no bytes");
        assertThat(after.countedAttempts()).as("the hung volume used up no attempt").isZero();
        assertThat(health.healthy()).isFalse();
        // The probe hangs on the frozen volume too: still failing.
        Thread.sleep(StorageHealth.PROBE_EVERY.toMillis() + 1000);
        assertThat(health.healthy()).isFalse();
      } finally {
        volume.thaw();
      }
      await().atMost(Duration.ofSeconds(15)).until(health::healthy);
    }
  }

  private static TaskRow submit(Ledger ledger, String[] ids, String path, SessionConfig config) {
    return ledger
        .submissions()
        .submit(
            ids[0],
            ids[1],
            TaskRequest.download(ground.origin().url(path)),
            config.withDefaults(),
            null,
            null)
        .task();
  }

  private static Attempt start(Ledger ledger, TaskRow task, Path root, StorageHealth health)
      throws Exception {
    FileStorage storage = new FileStorage(root, ground.vertx(), true, 256 << 10, 8 << 20, 2);
    WorkerMetrics metrics = new WorkerMetrics(new SimpleMeterRegistry());
    Claim claim =
        TestClaims.claim(ledger, task.id(), "storage-it", Duration.ofSeconds(30)).orElseThrow();
    Attempt attempt =
        TestAttempts.of(
                ground.vertx(),
                ground.client(),
                TestAttempts.ledgerWriter(ground.vertx(), ledger, storage, metrics),
                ground.origin(),
                storage,
                metrics,
                "storage-it",
                Duration.ofSeconds(1),
                TestAttempts.UNLIMITED_ROOM,
                health)
            .of(claim, io.opentelemetry.context.Context.root());
    attempt.start();
    return attempt;
  }
}
