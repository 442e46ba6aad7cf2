package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.storage.s3.S3Checkpoint;

class UploadedPartsTest {
  private static final int PART = 16;

  @TempDir Path dir;

  private SpooledPart part(int number, String digestState) throws IOException {
    SpooledPart p = new SpooledPart(number, (number - 1L) * PART, dir.resolve("p" + number));
    p.write(ByteBuffer.allocate(PART), 0);
    p.close();
    p.digestState = digestState;
    return p;
  }

  @Test
  void aPartThatFinishesBeforeTheOneAheadOfItIsNoCheckpointUntilTheGapCloses() throws IOException {
    UploadedParts parts = new UploadedParts("k", PART, List.of(), 0);
    SpooledPart one = part(1, "d1");
    SpooledPart two = part(2, "d2");
    SpooledPart three = part(3, "d3");

    assertThat(parts.add(two, "e2", "u")).isEmpty();
    assertThat(parts.durable()).isZero();
    assertThat(parts.settled()).isFalse();
    assertThat(parts.etags()).isEmpty();
    assertThat(parts.none()).isFalse();

    assertThat(parts.add(one, "e1", "u")).containsExactly(one, two);
    assertThat(parts.durable()).isEqualTo(2 * PART);
    assertThat(parts.settled()).isTrue();
    assertThat(parts.etags()).containsExactly("e1", "e2");
    assertThat(S3Checkpoint.decode(parts.state(2 * PART)))
        .isEqualTo(new S3Checkpoint("k", "u", PART, 2, "d2"));
    // Each part that joined without a gap was a checkpoint of its own.
    assertThat(S3Checkpoint.decode(parts.state(PART)).parts()).isEqualTo(1);

    assertThat(parts.add(three, "e3", "u")).containsExactly(three);
    assertThat(parts.durable()).isEqualTo(3 * PART);
  }

  @Test
  void aContinuedUploadNumbersOnFromItsPartsAndTheLastPartIsNoCheckpoint() throws IOException {
    UploadedParts parts = new UploadedParts("k", PART, List.of("e1", "e2"), 2 * PART);
    parts.continues(2 * PART, "given");
    SpooledPart last = part(3, "d3");
    last.last = true;

    assertThat(parts.add(last, "e3", "u")).containsExactly(last);
    assertThat(parts.etags()).containsExactly("e1", "e2", "e3");
    assertThat(parts.durable()).isEqualTo(2 * PART);
    assertThat(parts.state(2 * PART)).isEqualTo("given");
  }

  @Test
  void aPartWithoutASavedDigestStateIsNoCheckpoint() throws IOException {
    UploadedParts parts = new UploadedParts("k", PART, List.of(), 0);
    parts.add(part(1, null), "e1", "u");
    assertThat(parts.etags()).containsExactly("e1");
    assertThat(parts.durable()).isZero();
  }
}
