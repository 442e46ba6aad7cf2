package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import transfer.contracts.ErrorCodes;
import transfer.contracts.Json;
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

  @Test
  void aTransactionThatCommitsAfterARoundIsNumberedByALaterRoundAndNoneIsSkipped()
      throws Exception {
    EventSequencer sequencer = ledger.eventSequencer();
    sequencer.sequenceEvents(100_000);
    assertThat(sequencer.hasNewEvents()).as("all numbered").isFalse();
    EventWriter writer = new EventWriter(ledger.tx());
    TaskRow t = submit();
    try (Connection late = db.dataSource().getConnection()) {
      late.setAutoCommit(false);
      // The earlier transaction (the older xid) is still open while a later one commits.
      writer.append(late, List.of(writer.progress(t, null, 1, 1, null)));
      ledger.tx().run("write", c -> writeProgress(writer, c, t, 3));
      assertThat(sequencer.hasNewEvents()).isTrue();
      assertThat(sequencer.sequenceEvents(100)).isEqualTo(1);
      assertThat(sequencer.hasNewEvents()).as("the open transaction's event is unseen").isFalse();
      assertThat(sequencer.sequenceEvents(100)).isZero();
      late.commit();
    }
    assertThat(sequencer.hasNewEvents()).as("the round left that transaction in flight").isTrue();
    assertThat(sequencer.sequenceEvents(100)).isEqualTo(1);
    assertThat(sequencer.hasNewEvents()).isFalse();
    assertThat(sequencer.sequenceEvents(100)).isZero();
    assertThat(ledger.eventReplay().events(tenant, session, 0, 100))
        .extracting(e -> e.get("data").get("totalBytesTransferred").asLong())
        .containsExactly(3L, 1L);
  }

  @Test
  void theRelaysLookSeesADoorbellOrANumberedEventAfterItsCursor() throws Exception {
    Outbox outbox = ledger.outbox();
    ledger.eventSequencer().sequenceEvents(100_000);
    clearOutbox();
    long end =
        ledger
            .tx()
            .run(
                "read the last number",
                c -> {
                  try (PreparedStatement ps =
                          c.prepareStatement("select coalesce(max(ord), 0) from event_numbers");
                      java.sql.ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                  }
                });
    assertThat(outbox.hasDoorbells()).as("no doorbell").isFalse();
    assertThat(outbox.hasNumberedEvents(end)).as("nothing after the cursor").isFalse();
    TaskRow t = submit();
    assertThat(outbox.hasDoorbells()).as("the submit's doorbell").isTrue();
    assertThat(outbox.oldestDoorbells(10))
        .extracting(OutboxMessage::key)
        .as("the oldest first")
        .first()
        .isEqualTo(t.id());
    clearOutbox();
    assertThat(outbox.hasDoorbells()).isFalse();
    EventWriter writer = new EventWriter(ledger.tx());
    ledger.tx().run("write", c -> writeProgress(writer, c, t, 1));
    assertThat(outbox.hasNumberedEvents(end)).as("written, not yet numbered").isFalse();
    int numbered = ledger.eventSequencer().sequenceEvents(100);
    assertThat(outbox.hasNumberedEvents(end)).as("numbered after the cursor").isTrue();
    assertThat(outbox.hasNumberedEvents(end + numbered)).as("the cursor past it").isFalse();
    assertThat(outbox.hasDoorbells()).as("events are not doorbells").isFalse();
  }

  @Test
  void aRoundAtItsLimitStopsAfterAWholeTransaction() {
    ledger.eventSequencer().sequenceEvents(100_000);
    EventWriter writer = new EventWriter(ledger.tx());
    TaskRow t = submit();
    for (int events : new int[] {5, 2, 2}) {
      ledger
          .tx()
          .run(
              "write",
              c -> {
                for (int i = 0; i < events; i++) {
                  writeProgress(writer, c, t, events);
                }
                return null;
              });
    }
    assertThat(ledger.eventSequencer().sequenceEvents(3))
        .as("the first transaction, whole")
        .isEqualTo(5);
    assertThat(ledger.eventSequencer().sequenceEvents(3)).as("the second and third").isEqualTo(4);
    assertThat(ledger.eventSequencer().sequenceEvents(3)).isZero();
    assertThat(ledger.eventReplay().events(tenant, session, 0, 100))
        .extracting(e -> e.get("sequence").asLong())
        .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, 9).boxed().toList());
  }

  @Test
  void anIdleSessionsInvalidationCountsTheCompletionsNotYetNumbered() {
    TaskRow t = submit(withPriority("http://a.test/last", 0.9));
    long e = ledger.claims().claimNext("w1", TTL).orElseThrow().epoch();
    ledger.leases().completeDownload(Lease.of(t.id(), e), "file:///l", 1, "00", 1);
    // The completion waits for its number when the session is invalidated.
    ledger.sessions().invalidateSession(tenant, session, true);
    List<JsonNode> drained =
        numberedEvents(tenant, session, 0, 100).stream()
            .filter(n -> n.get("type").asText().equals("transfer.session.drained"))
            .toList();
    assertThat(drained).isNotEmpty();
    for (JsonNode d : drained) {
      assertThat(d.get("data").get("tasks").get("completed").asLong()).as("%s", d).isEqualTo(1);
    }
  }

  @Test
  void writersWakeTheSequencerAndTheRelayOnlyWhileTheySleep() throws Exception {
    EventWriter writer = new EventWriter(ledger.tx());
    TaskRow t = submit();
    try (Connection listen = db.dataSource().getConnection()) {
      listen.setAutoCommit(true);
      try (Statement st = listen.createStatement()) {
        st.execute("LISTEN " + EventWakeups.EVENTS_WRITTEN);
        st.execute("LISTEN " + EventWakeups.DOORBELLS);
      }
      PGConnection pg = listen.unwrap(PGConnection.class);
      pg.getNotifications(200);
      // Awake: writers send nothing.
      ledger.tx().run("write", c -> writeProgress(writer, c, t, 1));
      submit();
      assertThat(pg.getNotifications(300)).isNullOrEmpty();
      // Asleep: each channel's writers wake its listener.
      assertThat(advisory(listen, "pg_try_advisory_lock", EventWakeups.SEQUENCER_ASLEEP)).isTrue();
      ledger.tx().run("write", c -> writeProgress(writer, c, t, 2));
      assertThat(channels(pg)).containsExactly(EventWakeups.EVENTS_WRITTEN);
      assertThat(advisory(listen, "pg_try_advisory_lock", EventWakeups.RELAY_ASLEEP)).isTrue();
      submit();
      assertThat(channels(pg)).containsExactly(EventWakeups.DOORBELLS);
      advisory(listen, "pg_advisory_unlock", EventWakeups.SEQUENCER_ASLEEP);
      advisory(listen, "pg_advisory_unlock", EventWakeups.RELAY_ASLEEP);
      // A writer between its insert and its commit keeps the sequencer awake.
      try (Connection open = db.dataSource().getConnection()) {
        open.setAutoCommit(false);
        writer.append(open, List.of(writer.progress(t, null, 1, 3, null)));
        assertThat(advisory(listen, "pg_try_advisory_lock", EventWakeups.SEQUENCER_ASLEEP))
            .isFalse();
        open.commit();
      }
      assertThat(advisory(listen, "pg_try_advisory_lock", EventWakeups.SEQUENCER_ASLEEP)).isTrue();
      advisory(listen, "pg_advisory_unlock", EventWakeups.SEQUENCER_ASLEEP);
    }
    ledger.eventSequencer().sequenceEvents(100_000);
  }

  /**
   * The idle loop's look reads a few index entries of the events, however many are kept (they stay
   * for replay): with every event numbered it finds none past the horizon at once.
   */
  @Test
  void theSequencersLookReadsAFewEventsWhateverTheEventsKept() throws Exception {
    EventWriter writer = new EventWriter(ledger.tx());
    TaskRow t = submit();
    // Events of the size a download's are (its URL, location and digest in the data): a few to a
    // page, as in a running cluster.
    String pad = "x".repeat(500);
    for (int i = 0; i < 20; i++) {
      ledger
          .tx()
          .run(
              "write",
              c -> {
                List<EventWriter.NewEvent> events = new java.util.ArrayList<>();
                for (int j = 0; j < 300; j++) {
                  events.add(
                      writer.taskEvent(
                          t,
                          "transfer.task.downloaded",
                          UUID.randomUUID() + ":downloaded",
                          Json.mapper().createObjectNode().put("pad", pad),
                          null));
                }
                writer.append(c, events);
                return null;
              });
    }
    ledger.eventSequencer().sequenceEvents(100_000);
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement()) {
      st.execute("analyze events");
      // The sequencer's row is updated at every round: a running cluster's table holds many
      // versions of it, and the planner's estimate of its rows grows with them.
      for (int i = 0; i < 2_000; i++) {
        st.execute("update event_sequencer set last_ord = last_ord where id = 1");
      }
    }
    assertThat(count("events")).isGreaterThanOrEqualTo(6_000);
    assertThat(ledger.eventSequencer().hasNewEvents()).isFalse();
    assertThat(PlanRows.rowsRead(db.dataSource(), EventSequencer.LOOK, "events"))
        .as("event rows (index entries) the look read")
        .isLessThan(10);
  }

  /**
   * What an event costs: one row in events (its transaction) and one in event_numbers (its round),
   * nothing updated or deleted, and the WAL of each, per event, on this PostgreSQL.
   */
  @Test
  void eachEventIsOneRowWrittenOnceAndOneNumber() throws Exception {
    ledger.eventSequencer().sequenceEvents(100_000);
    EventWriter writer = new EventWriter(ledger.tx());
    TaskRow t = submit();
    int tasks = 200;
    writeTasksEvents(writer, t, 50); // warm the pages up: no full-page image in the measure
    ledger.eventSequencer().sequenceEvents(100_000);
    int events = tasks * 3;
    // The WAL position is the server's: whatever else writes meanwhile (an autovacuum of another
    // test's tables) counts too, and once made a window three times this one's figure. Only ever
    // more: the least of three windows is ours.
    long writeBytes = Long.MAX_VALUE;
    long numberBytes = Long.MAX_VALUE;
    for (int window = 0; window < 3; window++) {
      long rowsBefore = count("events");
      long numbersBefore = count("event_numbers");
      String start = lsn();
      writeTasksEvents(writer, t, tasks);
      String written = lsn();
      while (ledger.eventSequencer().sequenceEvents(500) > 0) {
        // rounds of up to 500
      }
      String numbered = lsn();
      assertThat(count("events") - rowsBefore).isEqualTo(events);
      assertThat(count("event_numbers") - numbersBefore).isEqualTo(events);
      writeBytes = Math.min(writeBytes, walBetween(start, written) / events);
      numberBytes = Math.min(numberBytes, walBetween(written, numbered) / events);
    }
    System.out.printf(
        "WAL per event: %d bytes written by its transaction (3 per commit), %d numbered%n",
        writeBytes, numberBytes);
    assertThat(writeBytes).as("WAL per event written").isLessThan(1_400);
    assertThat(numberBytes).as("WAL per event numbered").isLessThan(700);
  }

  /** Three events per transaction, as a download's completion writes them. */
  private void writeTasksEvents(EventWriter writer, TaskRow t, int tasks) {
    for (int i = 0; i < tasks; i++) {
      ledger
          .tx()
          .run(
              "write",
              c -> {
                writer.append(
                    c,
                    List.of(
                        writer.progress(t, null, 65_536, 65_536, 65_536L),
                        writer.taskEvent(
                            t,
                            "transfer.task.downloaded",
                            UUID.randomUUID() + ":downloaded",
                            Json.mapper().createObjectNode().put("size", 65_536),
                            null),
                        writer.taskEvent(
                            t,
                            "transfer.task.completed",
                            UUID.randomUUID() + ":completed",
                            Json.mapper().createObjectNode().put("state", "queued"),
                            null)));
                return null;
              });
    }
  }

  private static Object writeProgress(EventWriter writer, Connection c, TaskRow t, long total)
      throws SQLException {
    writer.append(c, List.of(writer.progress(t, null, 1, total, null)));
    return null;
  }

  private static boolean advisory(Connection c, String function, long key) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("select " + function + "(?)")) {
      ps.setLong(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  private static List<String> channels(PGConnection pg) throws SQLException {
    PGNotification[] got = pg.getNotifications(5_000);
    return got == null
        ? List.of()
        : java.util.Arrays.stream(got).map(PGNotification::getName).distinct().toList();
  }

  private long count(String table) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        ResultSet rs = c.createStatement().executeQuery("select count(*) from " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private String lsn() throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        ResultSet rs = c.createStatement().executeQuery("select pg_current_wal_insert_lsn()")) {
      rs.next();
      return rs.getString(1);
    }
  }

  private long walBetween(String from, String to) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("select pg_wal_lsn_diff(?::pg_lsn, ?::pg_lsn)")) {
      ps.setString(1, to);
      ps.setString(2, from);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
