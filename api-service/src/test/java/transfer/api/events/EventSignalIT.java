package transfer.api.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;

/**
 * Second catalogue, fault 4 (the wake-ups): a sequencer round that numbered one session's events
 * wakes that session's streams only, not every open stream of every tenant (each woken stream reads
 * the ledger); and while the signal listens, idle streams do not read the ledger between their
 * keep-alives, however many are open.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class EventSignalIT {
  @Inject EventSignal signal;
  @Inject EventStreamRoute route;

  @TestHTTPResource("/")
  URL base;

  private static String newSession() {
    return TestSessions.create(InfraResource.KEY, "signal");
  }

  @Test
  void aRoundWakesOnlyTheStreamsOfTheSessionsItNumbered() throws Exception {
    String busy = newSession();
    String quiet = newSession();
    AtomicInteger busyWakes = new AtomicInteger();
    AtomicInteger quietWakes = new AtomicInteger();
    try (EventSignal.Subscription a =
            signal.subscribe("default", busy, busyWakes::incrementAndGet);
        EventSignal.Subscription b =
            signal.subscribe("default", quiet, quietWakes::incrementAndGet)) {
      await().atMost(Duration.ofSeconds(10)).until(signal::listening);
      // Listening (re)started wakes everyone once; what counts comes after.
      Thread.sleep(300);
      int busyBefore = busyWakes.get();
      int quietBefore = quietWakes.get();
      long notifiedBefore = signal.notified();

      for (int i = 0; i < 3; i++) {
        TestSessions.canceledTask(InfraResource.KEY, busy);
      }
      await("the busy session's stream is woken")
          .atMost(Duration.ofSeconds(10))
          .until(() -> busyWakes.get() > busyBefore);
      await("the rounds are notified").until(() -> signal.notified() > notifiedBefore);
      Thread.sleep(300);

      System.out.printf(
          "[figures] %d notification(s): busy session's stream woken %d time(s), quiet one's %d%n",
          signal.notified() - notifiedBefore,
          busyWakes.get() - busyBefore,
          quietWakes.get() - quietBefore);
      assertThat(quietWakes.get()).as("the quiet session's stream").isEqualTo(quietBefore);
    }
  }

  @Test
  void idleStreamsDoNotReadTheLedgerWhileTheSignalListens() throws Exception {
    int streams = 50;
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<InputStream> bodies = new ArrayList<>();
    try {
      for (int i = 0; i < streams; i++) {
        HttpRequest req =
            HttpRequest.newBuilder(
                    base.toURI().resolve("/v1/sessions/" + newSession() + "/events/stream"))
                .header("Accept", "text/event-stream")
                .header("Authorization", "Bearer " + InfraResource.KEY)
                .build();
        HttpResponse<InputStream> r =
            http.sendAsync(req, HttpResponse.BodyHandlers.ofInputStream())
                .get(10, TimeUnit.SECONDS);
        bodies.add(r.body());
        assertThat(r.statusCode()).isEqualTo(200);
      }
      await().atMost(Duration.ofSeconds(10)).until(signal::listening);
      await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() >= streams);
      Thread.sleep(500); // the first read of each, and the wake-up when listening began
      long before = route.reads();
      Thread.sleep(5000);
      long reads = route.reads() - before;
      System.out.printf(
          "[figures] %d idle streams read the ledger %d time(s) in 5 s (at 1 s polls: %d)%n",
          streams, reads, 5 * streams);
      // A fallback read of a stream falls due once per keep-alive period (15 s): at most each
      // stream once in these 5 s, and most not at all.
      assertThat(reads).isLessThanOrEqualTo(streams);
    } finally {
      for (InputStream in : bodies) {
        in.close();
      }
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() == 0);
  }
}
