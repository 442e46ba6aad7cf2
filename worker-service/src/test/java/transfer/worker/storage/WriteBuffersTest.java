package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class WriteBuffersTest {

  @Test
  void sizesArePowersOfFourFromSixteenKibUpToTheLargest() {
    WriteBuffers b = new WriteBuffers(4 << 20, 64 << 20, 4096);
    assertThat(b.classes()).isEqualTo(5);
    assertThat(b.size(0)).isEqualTo(16 << 10);
    assertThat(b.size(4)).isEqualTo(4 << 20);
    assertThat(new WriteBuffers(3 << 20, 64 << 20, 4096).classes()).isEqualTo(4);
    assertThat(new WriteBuffers(1, 64 << 20, 4096).classes()).isEqualTo(1);
  }

  @Test
  void everyBufferIsDirectAlignedAndOfItsClassSize() {
    WriteBuffers b = new WriteBuffers(4 << 20, 64 << 20, 4096);
    for (int c = 0; c < b.classes(); c++) {
      ByteBuffer buf = b.acquire(c);
      assertThat(buf.isDirect()).isTrue();
      assertThat(buf.capacity()).isEqualTo(b.size(c));
      assertThat(buf.remaining()).isEqualTo(b.size(c));
      assertThat(buf.alignmentOffset(0, 4096)).isZero();
    }
  }

  @Test
  void theBudgetBoundsLargeBuffersAndTheSmallestIsAlwaysGranted() {
    WriteBuffers b = new WriteBuffers(4 << 20, 9 << 20, 4096);
    ByteBuffer first = b.acquire(4);
    ByteBuffer second = b.acquire(4);
    assertThat(first.capacity()).isEqualTo(4 << 20);
    assertThat(second.capacity()).isEqualTo(4 << 20);
    // 8 MiB taken of 9: the next large one is at most 1 MiB, then smaller, then the smallest.
    assertThat(b.acquire(4).capacity()).isEqualTo(1 << 20);
    assertThat(b.acquire(4).capacity()).isEqualTo(16 << 10);
    assertThat(b.acquire(3).capacity()).isEqualTo(16 << 10);
    assertThat(b.committed()).isEqualTo(9 << 20);
  }

  @Test
  void releasedBuffersAreReusedWithoutGrowingTheCommittedMemory() {
    WriteBuffers b = new WriteBuffers(4 << 20, 8 << 20, 4096);
    ByteBuffer x = b.acquire(4);
    x.put((byte) 1);
    b.release(x);
    ByteBuffer y = b.acquire(4);
    assertThat(y).isSameAs(x);
    assertThat(y.position()).isZero();
    assertThat(b.committed()).isEqualTo(4 << 20);
  }

  @Test
  void keptBuffersOfAnotherSizeAreDroppedToMakeRoom() {
    WriteBuffers b = new WriteBuffers(4 << 20, 4 << 20, 4096);
    b.release(b.acquire(4));
    assertThat(b.acquire(3).capacity()).isEqualTo(1 << 20);
    assertThat(b.committed()).isEqualTo(1 << 20);
  }
}
