package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;

/**
 * Event numbers after the commit: contiguous per session, in task order, one drained event after
 * the last completion, stored for replay whether or not the session sends events.
 */
class EventSequencerIT extends LedgerFixture {
  EventSequencerIT() {
    super("2026-03-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    // claimNext ranks every queued task of the schema: park those other tests left behind.
    db.parkQueuedTasks();
  }

  @Test
  void concurrentWritersAndTwoSequencersGiveContiguousNumbersTaskOrderAndOneDrainedEvent()
      throws Exception {
    int tasks = 40;
    List<Long> epochs = new java.util.ArrayList<>();
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      TaskRow t = submit();
      ids.add(t.id());
      epochs.add(
          TestClaims.claim(ledger, t.id(), "w1", Duration.ofSeconds(30)).orElseThrow().epoch());
    }
    var pool = java.util.concurrent.Executors.newFixedThreadPool(10);
    var writing = new java.util.concurrent.atomic.AtomicBoolean(true);
    try {
      // Two sequencers at once (two relays in a failover): the advisory lock must serialize them.
      List<java.util.concurrent.Future<?>> sequencers = new java.util.ArrayList<>();
      for (int s = 0; s < 2; s++) {
        sequencers.add(
            pool.submit(
                () -> {
                  while (writing.get()) {
                    ledger
                        .eventSequencer()
                        .sequenceEvents(7); // small batches: numbering interleaves the writers
                  }
                }));
      }
      List<java.util.concurrent.Future<?>> writers = new java.util.ArrayList<>();
      for (int w = 0; w < 8; w++) {
        int first = w;
        writers.add(
            pool.submit(
                () -> {
                  for (int i = first; i < tasks; i += 8) {
                    var hb = new Leases.Heartbeat(1, null, 2L, true, 1);
                    assertThat(
                            ledger
                                .leases()
                                .heartbeat(
                                    Lease.of(ids.get(i), epochs.get(i)),
                                    Duration.ofSeconds(30),
                                    hb))
                        .isTrue();
                    assertThat(
                            ledger
                                .leases()
                                .completeDownload(
                                    Lease.of(ids.get(i), epochs.get(i)),
                                    "file:///x" + i,
                                    2,
                                    "ab",
                                    1))
                        .isTrue();
                  }
                }));
      }
      for (var f : writers) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
      writing.set(false);
      for (var f : sequencers) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
    } finally {
      writing.set(false);
      pool.shutdownNow();
    }

    var events = numberedEvents(tenant, session, 0, 10_000);
    // Four events per task (progress, progress, downloaded, completed), then one drained.
    assertThat(events).hasSize(tasks * 4 + 1);
    assertThat(events)
        .extracting(n -> n.get("sequence").asLong())
        .containsExactlyElementsOf(
            java.util.stream.LongStream.rangeClosed(1, tasks * 4L + 1).boxed().toList());
    assertThat(events).extracting(n -> n.get("id").asText()).doesNotHaveDuplicates();
    assertThat(events.get(events.size() - 1).get("type").asText())
        .isEqualTo("transfer.session.drained");
    for (String id : ids) {
      assertThat(events)
          .filteredOn(n -> id.equals(n.path("subject").asText()))
          .extracting(n -> n.get("type").asText())
          .as("events of task %s, in sequence order", id)
          .containsExactly(
              "transfer.task.progress",
              "transfer.task.progress",
              "transfer.task.downloaded",
              "transfer.task.completed");
    }
  }

  @Test
  void theSessionIsDrainedOnlyWhenItsLastTaskEnds() {
    TaskRow a = submit(withPriority("http://a.test/a", 0.9));
    TaskRow b = submit(withPriority("http://a.test/b", 0.8));
    long ea = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    long eb = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(a.id(), ea), "file:///a", 1, "00", 1);
    assertThat(lastOfType("transfer.session.drained")).isNull();
    ledger
        .leases()
        .failAttempt(
            Lease.of(b.id(), eb),
            new TaskError(ErrorCodes.HTTP_STATUS, "404", 404, false),
            Duration.ZERO);
    List<JsonNode> events = numberedEvents(tenant, session, 0, 100);
    JsonNode last = events.get(events.size() - 1);
    assertThat(last.get("type").asText()).isEqualTo("transfer.session.drained");
    assertThat(last.get("id").asText()).isEqualTo(b.id() + ":drained");
    assertThat(last.get("data").get("tasks").get("completed").asLong()).isEqualTo(1);
    assertThat(last.get("data").get("tasks").get("failed").asLong()).isEqualTo(1);
  }

  @Test
  void aSessionThatSendsNoEventsStillStoresThemForReplay() throws Exception {
    ledger
        .sessions()
        .upsertSession(
            tenant, session, new SessionConfig(null, null, null, null, null, false, null, null));
    clearOutbox();
    TaskRow t = submit(withPriority("http://a.test/quiet", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///q", 1, "00", 1);
    assertThat(outboxKeys("transfer-events")).isEmpty();
    assertThat(numberedEvents(tenant, session, 0, 100))
        .extracting(n -> n.get("type").asText())
        .contains("transfer.task.completed", "transfer.session.drained");
  }
}
