package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static transfer.client.Events.completed;
import static transfer.client.Events.json;
import static transfer.client.Events.progress;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.CloudEvent;

/** The SSE feed against a scripted stream on loopback: reconnects, Last-Event-ID, dedupe. */
class SseEventFeedTest {
  private final LoopbackServer server;
  private final TransferClient client;

  SseEventFeedTest() throws Exception {
    server = new LoopbackServer();
    client =
        TransferClient.builder().baseUri(server.uri()).apiKey("k").retry(RequestRetry.NONE).build();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private static String frame(CloudEvent e) {
    return "id: " + e.sequence() + "\nevent: " + e.type() + "\ndata: " + json(e) + "\n\n";
  }

  /** Answers a stream with these frames, then ends it (as a restarting server does). */
  private static LoopbackServer.Answer stream(String... frames) {
    return ex -> {
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(": stream\n\n".getBytes(StandardCharsets.UTF_8));
        for (String f : frames) {
          out.write(f.getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
      }
    };
  }

  @Test
  void reconnectsAfterTheLastDeliveredEventAndDropsWhatCameBefore() {
    CloudEvent e1 = progress("s", 1, "t", 10, 10);
    CloudEvent e2 = progress("s", 2, "t", 10, 20);
    CloudEvent e3 = completed("s", 3, "t");
    server
        .then(stream(frame(e1), frame(e2)))
        // a server that ignores Last-Event-ID and sends everything again: deduplicated
        .then(stream(frame(e1), frame(e2), frame(e3)))
        .otherwise(stream());
    RecordingListener l = new RecordingListener();
    try (SseEventFeed f =
        SseEventFeed.builder(client)
            .listener(l)
            .sessions("s")
            .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
            .build()
            .start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> l.events.size() == 3);
    }
    assertThat(l.sequences("s")).containsExactly(1L, 2L, 3L);
    assertThat(server.seen.get(0).path()).isEqualTo("/v1/sessions/s/events/stream");
    assertThat(server.seen.get(0).header("Last-Event-ID")).isEqualTo("0");
    assertThat(server.seen.get(1).header("Last-Event-ID")).isEqualTo("2");
    assertThat(server.seen.get(0).header("Authorization")).isEqualTo("Bearer k");
  }

  @Test
  void aSilentConnectionIsReopened() {
    CountDownLatch release = new CountDownLatch(1);
    server
        .then(
            ex -> {
              ex.getResponseHeaders().add("Content-Type", "text/event-stream");
              ex.sendResponseHeaders(200, 0);
              ex.getResponseBody().write(": stream\n\n".getBytes(StandardCharsets.UTF_8));
              ex.getResponseBody().flush();
              try {
                release.await(20, TimeUnit.SECONDS); // says nothing, not even a keep-alive
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              ex.getResponseBody().close();
            })
        .then(stream(frame(completed("s", 1, "t"))))
        .otherwise(stream());
    RecordingListener l = new RecordingListener();
    try (SseEventFeed f =
        SseEventFeed.builder(client)
            .listener(l)
            .sessions("s")
            .idleTimeout(Duration.ofMillis(400))
            .reconnectBackoff(Duration.ofMillis(10), Duration.ofMillis(50))
            .build()
            .start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> l.events.size() == 1);
    } finally {
      release.countDown();
    }
    assertThat(l.calls).containsExactly("complete t COMPLETED null");
  }

  @Test
  void aSessionThatDoesNotExistEndsItsFeedWithTheError() {
    server.otherwise(
        LoopbackServer.problem(
            404,
            null,
            "{\"type\":\"urn:transfer:problem:not-found\",\"status\":404,\"detail\":\"session s"
                + " does not exist\"}"));
    AtomicReference<Throwable> invalid = new AtomicReference<>();
    TransferListener l =
        new TransferListener() {
          @Override
          public void didBecomeInvalidWithError(String sessionId, Throwable error) {
            invalid.set(error);
          }
        };
    try (SseEventFeed f = client.sseFeed(l, "s")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> !f.isRunning());
    }
    assertThat(invalid.get()).isInstanceOf(NotFoundException.class);
    assertThat(server.seen).hasSize(1);
  }

  @Test
  void multiLineDataAndCommentsFollowTheSseRules() {
    CloudEvent e = completed("s", 1, "t");
    // the JSON split over two data lines joins with a newline, which JSON ignores
    String js = json(e);
    int cut = js.indexOf(",\"type\"");
    String framed =
        ": keep-alive\n\nid: 1\nevent: x\ndata: "
            + js.substring(0, cut)
            + "\ndata:"
            + js.substring(cut)
            + "\r\n\r\n";
    server.then(stream(framed)).otherwise(stream());
    RecordingListener l = new RecordingListener();
    try (SseEventFeed f = client.sseFeed(l, "s")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> l.events.size() == 1);
    }
    assertThat(l.events).extracting(CloudEvent::id).isEqualTo(List.of("t:completed"));
  }
}
