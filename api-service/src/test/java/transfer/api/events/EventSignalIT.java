package transfer.api.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;

/**
 * Second catalogue, fault 4 (the wake-ups): a sequencer round that numbered one session's events
 * wakes that session's streams only, not every open stream of every tenant (each woken stream reads
 * the ledger).
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class EventSignalIT {
  @Inject EventSignal signal;

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
}
