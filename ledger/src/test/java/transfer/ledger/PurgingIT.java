package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;

/** Retention: finished tasks and old events removed after their time. */
class PurgingIT extends LedgerFixture {
  PurgingIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void finishedTasksAndOldEventsArePurgedAfterTheirRetention() {
    TaskRow t =
        ledger
            .submissions()
            .submit(
                tenant,
                session,
                withPriority("http://a.test/old", 0.9),
                SessionConfig.DEFAULT.withDefaults(),
                "key-" + UUID.randomUUID(),
                null)
            .task();
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///store/old", 1, "00", 1);
    TaskRow open = submit(withPriority("http://a.test/open", 0.1));
    ledger
        .eventSequencer()
        .sequenceEvents(100); // the relay's job, within milliseconds of the commit
    clock.advance(Duration.ofDays(8));

    Purging.Purged purged =
        ledger
            .purging()
            .purgeExpired(
                clock.instant().minus(Duration.ofDays(7)),
                clock.instant().minus(Duration.ofDays(7)),
                10_000);

    assertThat(purged.taskIds()).contains(t.id()).doesNotContain(open.id());
    assertThat(purged.left())
        .filteredOn(l -> l.taskId().equals(t.id()))
        .singleElement()
        .satisfies(
            l -> {
              assertThat(l.tenantId()).isEqualTo(tenant);
              assertThat(l.sessionId()).isEqualTo(session);
              assertThat(l.durableState()).as("a completion clears it").isNull();
            });
    assertThat(purged.locations()).contains("file:///store/old");
    assertThat(ledger.taskControl().task(tenant, session, t.id())).isEmpty();
    assertThat(ledger.taskControl().task(tenant, session, open.id())).isPresent();
    assertThat(numberedEvents(tenant, session, 0, 100)).isEmpty();
  }

  @Test
  void aNamedDestinationStaysUnlessItsSessionSaysRetentionTakesIt() {
    String dropping = "s-" + UUID.randomUUID();
    SessionConfig drops =
        new SessionConfig(
            null, null, null, null, null, null, null, null, null, null, null, null, false);
    ledger.sessions().upsertSession(tenant, dropping, drops);
    TaskRow kept = completedNamed(session, SessionConfig.DEFAULT.withDefaults(), "kept");
    TaskRow dropped = completedNamed(dropping, drops.withDefaults(), "dropped");
    clock.advance(Duration.ofDays(8));

    Purging.Purged purged =
        ledger
            .purging()
            .purgeExpired(
                clock.instant().minus(Duration.ofDays(7)),
                clock.instant().minus(Duration.ofDays(7)),
                10_000);

    assertThat(purged.taskIds()).contains(kept.id(), dropped.id());
    assertThat(purged.locations())
        .contains("file:///store/t/_named/dropped")
        .doesNotContain("file:///store/t/_named/kept");
  }

  /** A download of {@code sid} that named its destination {@code key}, completed there. */
  private TaskRow completedNamed(String sid, SessionConfig config, String key) {
    TaskRequest named = withPriority("http://a.test/" + key, 1.0).withDestination(key);
    TaskRow t =
        ledger
            .submissions()
            .submit(tenant, sid, named, config, "key-" + UUID.randomUUID(), null)
            .task();
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    assertThat(c.task().id()).isEqualTo(t.id());
    ledger
        .leases()
        .completeDownload(Lease.of(t.id(), c.epoch()), "file:///store/t/_named/" + key, 1, "00", 1);
    return t;
  }
}
