package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static transfer.client.Events.completed;
import static transfer.client.Events.event;
import static transfer.client.Events.progress;
import static transfer.client.Events.taskData;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import transfer.contracts.CloudEvent;
import transfer.contracts.EventTypes;
import transfer.contracts.Json;
import transfer.contracts.TaskError;

class DeliveryTest {
  private final RecordingListener listener = new RecordingListener();
  private final InMemoryDedupeStore store = new InMemoryDedupeStore();
  private final Delivery delivery = new Delivery(listener, store, Json.mapper());

  @Test
  void eachEventReachesItsCallbackOnce() {
    ObjectNode up = taskData("t2", "upload");
    up.put("bytesTransferred", 10);
    up.put("totalBytesTransferred", 10);
    up.putNull("totalBytesExpected");
    ObjectNode dl = taskData("t1", "download");
    dl.put("location", "file:///data/t1");
    dl.put("size", 1000);
    dl.put("sha256", "ab");
    ObjectNode failed = taskData("t2", "upload");
    failed.put("state", "failed");
    failed.set("error", Json.mapper().valueToTree(TaskError.of("http_status", "404", false)));
    ObjectNode drained = Json.mapper().createObjectNode();
    drained.put("sessionId", "s");
    ObjectNode waiting = taskData("t3", "download");
    waiting.put("reason", "connectivity");
    waiting.set(
        "error",
        Json.mapper().valueToTree(TaskError.of("connection_failed", "Connection refused", true)));
    waiting.put("nextAttemptAt", "2026-11-21T12:00:05Z");
    waiting.put("deadlineAt", "2026-11-28T12:00:00Z");
    ObjectNode challenge = taskData("t3", "download");
    challenge.put("httpStatus", 403);
    challenge.set(
        "error",
        Json.mapper().valueToTree(new TaskError("credentials_required", "HTTP 403", 403, true)));
    challenge.put("deadlineAt", "2026-11-28T12:00:00Z");
    ObjectNode resumed = taskData("t3", "download");
    resumed.put("fileOffset", 4096);
    resumed.put("expectedTotalBytes", 10000);
    ObjectNode created = taskData("t4", "download");
    created.put("url", "https://files.example/a");
    ObjectNode measured = taskData("t4", "download");
    measured.put("state", "completed");
    measured.putNull("error");
    ObjectNode metrics = measured.putObject("metrics");
    metrics.put("attempt", 2);
    metrics.put("fetchStart", "2026-12-07T00:00:00Z");
    metrics.put("totalMs", 120);
    metrics.put("redirects", 0);
    metrics.put("requests", 1);
    metrics.put("protocol", "h2");
    metrics.put("bytes", 42);
    metrics.put("aFigureOfALaterVersion", 1); // skipped, not a failure

    CloudEvent[] events = {
      progress("s", 1, "t1", 1000, 1000),
      event("s", 2, "e2", EventTypes.PROGRESS, "t2", up),
      event("s", 3, "t1:downloaded", EventTypes.DOWNLOADED, "t1", dl),
      completed("s", 4, "t1"),
      event("s", 5, "t2:completed", EventTypes.COMPLETED, "t2", failed),
      event("s", 6, "t2:drained", EventTypes.SESSION_DRAINED, null, drained),
      event("s", 7, "e7", "transfer.something.new", null, null),
      event("s", 8, "t3:waiting:1", EventTypes.WAITING, "t3", waiting),
      event("s", 9, "t3:credentials_required:2", EventTypes.CREDENTIALS_REQUIRED, "t3", challenge),
      event("s", 10, "t3:resumed:3", EventTypes.RESUMED, "t3", resumed),
      event("s", 11, "t4:created", EventTypes.CREATED, "t4", created),
      event("s", 12, "t4:completed", EventTypes.COMPLETED, "t4", measured),
    };
    for (CloudEvent e : events) {
      assertThat(delivery.deliver("s", e, 0)).isEqualTo(Delivery.Outcome.DELIVERED);
      assertThat(delivery.deliver("s", e, 0)).isEqualTo(Delivery.Outcome.DUPLICATE);
    }
    assertThat(listener.calls)
        .containsExactly(
            "write t1 1000 1000 1000",
            "send t2 10 10 -1",
            "downloaded t1 file:///data/t1 1000 ab",
            "complete t1 COMPLETED null",
            "complete t2 FAILED http_status",
            "drained s",
            "waiting t3 connectivity connection_failed 2026-11-21T12:00:05Z"
                + " 2026-11-28T12:00:00Z",
            "challenge t3 403 credentials_required 2026-11-28T12:00:00Z",
            "resumed t3 4096 10000",
            "created t4 https://files.example/a",
            "metrics t4 attempt 2 h2 42",
            "complete t4 COMPLETED null");
    assertThat(listener.events).hasSize(12);
    assertThat(store.lastSequence("s")).isEqualTo(12);
  }

  @Test
  void anEventAtOrBelowTheLastSequenceIsNotDeliveredEvenWithANewId() {
    delivery.deliver("s", progress("s", 5, "t", 1, 1), 4); // 4 delivered before (a floor)
    CloudEvent older =
        event("s", 4, "other-id", EventTypes.PROGRESS, "t", taskData("t", "download"));
    assertThat(delivery.deliver("s", older, 0)).isEqualTo(Delivery.Outcome.STALE);
    // a floor known from elsewhere (the Kafka commit) counts the same
    assertThat(delivery.deliver("s2", progress("s2", 3, "t", 1, 1), 3))
        .isEqualTo(Delivery.Outcome.STALE);
    assertThat(delivery.deliver("s2", progress("s2", 4, "t", 1, 1), 3))
        .isEqualTo(Delivery.Outcome.DELIVERED);
    assertThat(listener.sequences("s")).containsExactly(5L);
    assertThat(listener.sequences("s2")).containsExactly(4L);
  }

  @Test
  void anEventThatJumpsAheadIsDeliveredButDoesNotMoveTheOrderMark() {
    delivery.deliver("s", progress("s", 1, "t", 1, 1), 0);
    assertThat(delivery.deliver("s", progress("s", 900, "t", 1, 1), 0))
        .isEqualTo(Delivery.Outcome.DELIVERED);
    assertThat(store.lastSequence("s")).isEqualTo(1);
    assertThat(delivery.deliver("s", progress("s", 2, "t", 2, 2), 0))
        .isEqualTo(Delivery.Outcome.DELIVERED);
    assertThat(delivery.deliver("s", progress("s", 3, "t", 3, 3), 0))
        .isEqualTo(Delivery.Outcome.DELIVERED);
    assertThat(store.lastSequence("s")).isEqualTo(3);
    assertThat(listener.sequences("s")).containsExactly(1L, 900L, 2L, 3L);
  }

  @Test
  void anEventWhoseListenerThrewIsNotRecordedAndComesAgain() {
    AtomicInteger calls = new AtomicInteger();
    Delivery d =
        new Delivery(
            new TransferListener() {
              @Override
              public void didCompleteWithError(TaskEvent task, TaskError error) {
                if (calls.incrementAndGet() == 1) {
                  throw new IllegalStateException("database down");
                }
              }
            },
            store,
            Json.mapper());
    assertThatThrownBy(() -> d.deliver("s", completed("s", 1, "t"), 0)).hasMessage("database down");
    assertThat(store.lastSequence("s")).isZero();
    assertThat(d.deliver("s", completed("s", 1, "t"), 0)).isEqualTo(Delivery.Outcome.DELIVERED);
    assertThat(calls).hasValue(2);
  }

  @Test
  void theInMemoryStoreIsBounded() {
    InMemoryDedupeStore small = new InMemoryDedupeStore(2, 2);
    small.record("a", "1", 1);
    small.record("a", "2", 2);
    small.record("a", "3", 3);
    assertThat(small.contains("a", "1")).isFalse();
    assertThat(small.contains("a", "3")).isTrue();
    assertThat(small.lastSequence("a")).isEqualTo(3);
    small.record("b", "x", 1);
    small.record("c", "y", 1);
    assertThat(small.lastSequence("a")).isZero(); // least recently used session forgotten
    assertThat(small.lastSequence("c")).isEqualTo(1);
  }
}
