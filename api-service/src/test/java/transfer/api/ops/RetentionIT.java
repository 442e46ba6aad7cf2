package transfer.api.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.ledger.Lease;
import transfer.ledger.Ledger;
import transfer.ledger.TaskRow;
import transfer.ledger.TestClaims;

/** The retention job on the real ledger and storage: rows, stored objects and temporaries go. */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class RetentionIT {
  @Inject Ledger ledger;
  @Inject Retention retention;
  @Inject ApiConfig config;

  @Test
  void finishedTasksTheirObjectsAndOldEventsGoAfterTheirRetention() throws Exception {
    String tenant = config.api().bootstrapTenant();
    String sid = "retention-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, sid, SessionConfig.DEFAULT);
    TaskRow done = submit(tenant, sid);
    TaskRow open = submit(tenant, sid);
    long epoch =
        TestClaims.claim(ledger, done.id(), "test-worker", Duration.ofSeconds(30))
            .orElseThrow()
            .epoch();
    Path root = config.storage().root().toAbsolutePath();
    Path stored = Files.createDirectories(root.resolve(tenant).resolve(sid)).resolve("obj");
    Files.writeString(stored, "x");
    Path partial =
        Files.createDirectories(root.resolve(".partial")).resolve(done.id() + ".e1.part");
    Files.writeString(partial, "x");
    Path otherPartial = root.resolve(".partial").resolve(open.id() + ".e1.part");
    Files.writeString(otherPartial, "y");
    assertThat(
            ledger
                .leases()
                .completeDownload(
                    Lease.of(done.id(), epoch), stored.toUri().toString(), 1, "00".repeat(32), 1))
        .isTrue();

    // Events are numbered after their transaction (by this app's relay, or here): the purge must
    // find them stored, or one numbered after it would outlive it.
    ledger.eventSequencer().sequenceEvents(10_000);
    assertThat(ledger.eventReplay().events(tenant, sid, 0, 100)).hasSize(3);

    retention.purge(Instant.now().plus(Duration.ofDays(1)));
    assertThat(ledger.taskControl().task(tenant, sid, done.id())).as("not yet due").isPresent();

    retention.purge(Instant.now().plus(Duration.ofDays(8)));
    assertThat(ledger.taskControl().task(tenant, sid, done.id())).isEmpty();
    assertThat(stored).doesNotExist();
    assertThat(partial).doesNotExist();
    assertThat(ledger.taskControl().task(tenant, sid, open.id()))
        .as("open tasks are kept")
        .isPresent();
    assertThat(otherPartial).exists();
    assertThat(ledger.eventReplay().events(tenant, sid, 0, 100)).isEmpty();
  }

  /**
   * Second catalogue, fault 9 (orphans): temporary objects nothing will finish are deleted once
   * untouched for {@code orphans-idle}: a staged body whose PUT broke off with its api-service, and
   * a download attempt's whose task no longer exists. An open task's is kept (it resumes from it),
   * and so is anything touched recently.
   */
  @Test
  void orphanedTemporaryObjectsGoOnceIdle() throws Exception {
    String tenant = config.api().bootstrapTenant();
    String sid = "orphans-" + UUID.randomUUID();
    ledger.sessions().upsertSession(tenant, sid, SessionConfig.DEFAULT);
    TaskRow open = submit(tenant, sid);
    Path partials =
        Files.createDirectories(config.storage().root().toAbsolutePath().resolve(".partial"));
    java.nio.file.attribute.FileTime old =
        java.nio.file.attribute.FileTime.from(Instant.now().minus(Duration.ofHours(7)));
    Path brokenPut = partials.resolve("obj-" + UUID.randomUUID() + ".part");
    Path goneTask = partials.resolve(UUID.randomUUID() + ".e3.part");
    Path openTask = partials.resolve(open.id() + ".e1.part");
    Path freshPut = partials.resolve("obj-" + UUID.randomUUID() + ".part");
    for (Path p : List.of(brokenPut, goneTask, openTask, freshPut)) {
      Files.writeString(p, "x");
      if (p != freshPut) {
        Files.setLastModifiedTime(p, old);
      }
    }

    retention.purge(Instant.now());

    assertThat(brokenPut).as("a staged body whose upload broke off").doesNotExist();
    assertThat(goneTask).as("an attempt's of a task that no longer exists").doesNotExist();
    assertThat(openTask).as("an open task's, which it resumes from").exists();
    assertThat(freshPut).as("an upload still arriving").exists();
  }

  private TaskRow submit(String tenant, String sid) {
    return ledger
        .submissions()
        .submit(
            tenant,
            sid,
            TaskRequest.download("http://127.0.0.1:9/x"),
            SessionConfig.DEFAULT.withDefaults(),
            null,
            null)
        .task();
  }
}
