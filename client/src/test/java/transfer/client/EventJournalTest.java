package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.client.Events.completed;
import static transfer.client.Events.progress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.Json;

class EventJournalTest {

  @Test
  void whatWasAppendedIsKnownAfterReopeningAndAHalfLineIsSkipped(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("journal");
    try (EventJournal j = EventJournal.open(file)) {
      assertThat(j.append(progress("s", 1, "t", 1, 1))).isTrue();
      assertThat(j.append(completed("s", 2, "t"))).isTrue();
      assertThat(j.append(completed("s", 2, "t"))).isFalse();
      j.record("s", "p-s-3", 3); // the feed's record after the listener
      j.record("s", "p-s-3", 3);
    }
    Files.writeString(file, "s 4 half", StandardOpenOption.APPEND); // a torn last write
    try (EventJournal j = EventJournal.open(file)) {
      assertThat(j.size()).isEqualTo(3);
      assertThat(j.lastSequence("s")).isEqualTo(3);
      assertThat(j.contains("s", "t:completed")).isTrue();
      assertThat(j.contains("s", "half")).isFalse();
      assertThat(j.append(progress("s", 4, "t", 1, 2))).isTrue();
    }
    assertThat(EventJournal.read(file))
        .extracting(EventJournal.Entry::sequence)
        .containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void asTheStoreOfADeliveryItResumesAfterTheLastHandledEvent(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("journal");
    RecordingListener first = new RecordingListener();
    try (EventJournal j = EventJournal.open(file)) {
      Delivery d = new Delivery(first, j, Json.mapper());
      d.deliver("s", progress("s", 1, "t", 1, 1), 0);
      d.deliver("s", completed("s", 2, "t"), 0);
    }
    RecordingListener second = new RecordingListener();
    try (EventJournal j = EventJournal.open(file)) {
      Delivery d = new Delivery(second, j, Json.mapper());
      d.deliver("s", progress("s", 1, "t", 1, 1), 0);
      d.deliver("s", completed("s", 2, "t"), 0);
      d.deliver("s", completed("s", 3, "u"), 0);
    }
    assertThat(first.sequences("s")).containsExactly(1L, 2L);
    assertThat(second.sequences("s")).containsExactly(3L);
  }
}
