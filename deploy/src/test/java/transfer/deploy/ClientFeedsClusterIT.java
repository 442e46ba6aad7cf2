package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.client.EventJournal;
import transfer.client.EventPage;
import transfer.client.SseEventFeed;
import transfer.client.TransferClient;
import transfer.client.TransferListener;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskView;

/**
 * The client's two feeds against the real cluster. The Kafka feed runs in a JVM of its own ({@link
 * FeedProcess}) that is killed or stopped midway and started again with the same group: the union
 * of what its listener saw has every event of the sessions exactly once, in each session's order,
 * the same list the API replays. The SSE feed, its connections cut midway, delivers the same list.
 */
class ClientFeedsClusterIT extends ClusterTest {
  private static TransferClient api;
  @TempDir static Path dir;
  private final List<Process> processes = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void client() {
    api = cluster.transferClient();
  }

  @org.junit.jupiter.api.AfterEach
  void stopProcesses() throws InterruptedException {
    for (Process p : processes) {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  @Test
  void aKafkaListenerKilledMidwaySeesEveryEventExactlyOnceInOrderAcrossRestarts() throws Exception {
    List<String> sessions = sessionsWithSlowDownloads("kill", 3, 3);
    Path journal = dir.resolve("journal-kill.log");
    String group = "client-it-kill-" + UUID.randomUUID();
    // Started once events are waiting, so that the kills land while a backlog is being worked on.
    awaitStoredEvents(sessions, 8);
    for (int kill = 1; kill <= 2; kill++) {
      Process p = startFeed(group, journal, "journal", sessions);
      int before = lines(journal);
      awaitJournal(p, journal, before + 5);
      p.destroyForcibly(); // kill -9: whatever the listener was doing, it stops there
      p.waitFor();
    }
    Process last = startFeed(group, journal, "journal", sessions);
    assertJournalEqualsReplay(last, journal, sessions);
    last.destroy();
    last.waitFor();
  }

  @Test
  void aKafkaListenerStoppedAndStartedAgainWithTheInMemoryStoreSeesEachEventOnce()
      throws Exception {
    List<String> sessions = sessionsWithSlowDownloads("stop", 2, 3);
    Path journal = dir.resolve("journal-stop.log");
    String group = "client-it-stop-" + UUID.randomUUID();
    awaitStoredEvents(sessions, 6);
    Process p = startFeed(group, journal, "memory", sessions);
    awaitJournal(p, journal, 5);
    p.destroy(); // SIGTERM: the listener call under way returns, the feed commits and stops
    assertThat(p.waitFor()).isIn(0, 143);
    Process again = startFeed(group, journal, "memory", sessions);
    assertJournalEqualsReplay(again, journal, sessions);
    again.destroy();
    again.waitFor();
  }

  @Test
  void theSseFeedDeliversTheSameSequenceAcrossCutConnections() throws Exception {
    List<String> sessions = sessionsWithSlowDownloads("sse", 2, 3);
    Map<String, List<CloudEvent>> seen = new ConcurrentHashMap<>();
    sessions.forEach(s -> seen.put(s, new CopyOnWriteArrayList<>()));
    TransferListener listener =
        new TransferListener() {
          @Override
          public void onEvent(CloudEvent e) {
            seen.get(e.source().substring("/sessions/".length())).add(e);
          }
        };
    try (CuttingProxy proxy = new CuttingProxy(cluster.apiPort)) {
      TransferClient viaProxy =
          TransferClient.builder()
              .baseUri("http://127.0.0.1:" + proxy.port())
              .apiKey(ClusterFixture.API_KEY)
              .build();
      try (SseEventFeed feed =
          SseEventFeed.builder(viaProxy)
              .listener(listener)
              .sessions(sessions.toArray(String[]::new))
              .reconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(1))
              .build()
              .start()) {
        for (int cut = 1; cut <= 2; cut++) {
          int atLeast = 3 * cut;
          await()
              .atMost(Duration.ofMinutes(1))
              .until(() -> seen.values().stream().allMatch(l -> l.size() >= atLeast));
          proxy.cutAll();
        }
        Map<String, List<String>> expected = awaitAllStored(sessions);
        awaitSettled(
            () -> seen.values().stream().mapToInt(List::size).sum(),
            expected.values().stream().mapToInt(List::size).sum(),
            () -> false);
        for (String s : sessions) {
          assertThat(seen.get(s))
              .as("session %s", s)
              .extracting(CloudEvent::id)
              .containsExactlyElementsOf(expected.get(s));
        }
      }
      // Each session's stream was opened again after each cut, after the last delivered event.
      for (String s : sessions) {
        List<Long> lastIds = lastEventIds(proxy.heads, s);
        assertThat(lastIds).as("Last-Event-ID of session %s", s).hasSizeGreaterThanOrEqualTo(3);
        assertThat(lastIds.get(0)).isZero();
        assertThat(lastIds.subList(1, lastIds.size()))
            .allSatisfy(id -> assertThat(id).isPositive());
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  /** {@code n} sessions with {@code tasks} downloads each, slow enough to send several events. */
  private static List<String> sessionsWithSlowDownloads(String prefix, int n, int tasks) {
    List<String> sessions = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String sid = "feed-" + prefix + "-" + i + "-" + UUID.randomUUID();
      api.putSession(sid, null);
      int seed = 900 + i;
      List<TaskRequest> batch =
          IntStream.range(0, tasks)
              .mapToObj(
                  t ->
                      TaskRequest.download(
                          origin.url(
                              "/bytes/"
                                  + (3 << 20)
                                  + "?seed="
                                  + (seed * 10 + t)
                                  + "&rate=1000000")))
              .toList();
      api.submitBatch(sid, batch);
      sessions.add(sid);
    }
    return sessions;
  }

  private Process startFeed(String group, Path journal, String store, List<String> sessions)
      throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx128m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(FeedProcess.class.getName());
    cmd.add(cluster.infra.kafkaBootstrap());
    cmd.add(group);
    cmd.add(journal.toString());
    cmd.add("100");
    cmd.add(store);
    cmd.addAll(sessions);
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(
                java.lang.ProcessBuilder.Redirect.appendTo(
                    cluster.dataDir.resolve("feed-" + group + ".log").toFile()))
            .start();
    processes.add(p);
    return p;
  }

  private static int lines(Path journal) {
    try {
      return Files.exists(journal) ? EventJournal.read(journal).size() : 0;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void awaitJournal(Process feed, Path journal, int atLeast) {
    await()
        .atMost(Duration.ofMinutes(1))
        .failFast("the feed process ended", () -> !feed.isAlive())
        .pollInterval(Duration.ofMillis(20))
        .until(() -> lines(journal) >= atLeast);
  }

  private static void awaitStoredEvents(Collection<String> sessions, int atLeast) {
    await()
        .atMost(Duration.ofMinutes(1))
        .until(
            () ->
                sessions.stream().mapToInt(s -> api.events(s, 0, 1000).events().size()).sum()
                    >= atLeast);
  }

  /** Waits until every task is final and each session drained; answers the stored event ids. */
  private static Map<String, List<String>> awaitAllStored(List<String> sessions) {
    Map<String, List<String>> ids = new LinkedHashMap<>();
    for (String s : sessions) {
      await()
          .atMost(Duration.ofMinutes(2))
          .until(() -> api.allTasks(s).allMatch(t -> t.state().isFinal()));
      List<CloudEvent> events =
          await()
              .atMost(Duration.ofMinutes(1))
              .until(
                  () -> replay(s),
                  l -> l.stream().anyMatch(e -> e.type().equals(EventTypes.SESSION_DRAINED)));
      assertThat(api.allTasks(s).map(TaskView::state).distinct())
          .containsOnly(transfer.contracts.TaskState.COMPLETED);
      ids.put(s, events.stream().map(CloudEvent::id).toList());
    }
    return ids;
  }

  private static List<CloudEvent> replay(String sid) {
    List<CloudEvent> all = new ArrayList<>();
    long after = 0;
    while (true) {
      EventPage p = api.events(sid, after, 1000);
      all.addAll(p.events());
      if (p.events().isEmpty()) {
        return all;
      }
      after = p.last();
    }
  }

  private static void assertJournalEqualsReplay(Process feed, Path journal, List<String> sessions)
      throws IOException {
    Map<String, List<String>> expected = awaitAllStored(sessions);
    int total = expected.values().stream().mapToInt(List::size).sum();
    awaitSettled(() -> lines(journal), total, () -> !feed.isAlive());
    List<EventJournal.Entry> got = EventJournal.read(journal);
    for (String s : sessions) {
      List<EventJournal.Entry> ofSession =
          got.stream().filter(l -> l.sessionId().equals(s)).toList();
      assertThat(ofSession)
          .as("the listener's events of session %s, over every run", s)
          .extracting(EventJournal.Entry::eventId)
          .containsExactlyElementsOf(expected.get(s));
      assertThat(ofSession)
          .extracting(EventJournal.Entry::sequence)
          .isSorted()
          .doesNotHaveDuplicates();
    }
    assertThat(got).hasSize(total);
    Path duplicates = Path.of(journal + ".duplicates");
    assertThat(duplicates)
        .as("events the listener was called with again after it had handled them")
        .doesNotExist();
  }

  /**
   * Waits until {@code count} reaches {@code total}, or stays unchanged for 10 s (then the caller's
   * comparison shows what is missing, rather than a timeout).
   */
  private static void awaitSettled(
      java.util.function.IntSupplier count,
      int total,
      java.util.concurrent.Callable<Boolean> dead) {
    long[] last = {-1, System.nanoTime()};
    await()
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(200))
        .failFast("the feed process ended", dead)
        .until(
            () -> {
              int n = count.getAsInt();
              if (n != last[0]) {
                last[0] = n;
                last[1] = System.nanoTime();
              }
              return n >= total || System.nanoTime() - last[1] > 10_000_000_000L;
            });
  }

  private static final Pattern LAST_EVENT_ID = Pattern.compile("(?i)last-event-id: *(\\d+)");

  /** The Last-Event-ID of each stream request for the session, in order. */
  private static List<Long> lastEventIds(List<String> heads, String sid) {
    List<Long> ids = new ArrayList<>();
    for (String h : heads) {
      if (h.startsWith("GET /v1/sessions/" + sid + "/events/stream")) {
        Matcher m = LAST_EVENT_ID.matcher(h);
        ids.add(m.find() ? Long.parseLong(m.group(1)) : -1);
      }
    }
    return ids;
  }
}
