package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ContentRangeTest {

  @Test
  void parsesAByteRangeWithAndWithoutItsTotal() {
    assertThat(ContentRange.parse("bytes 100-199/1000"))
        .isEqualTo(new ContentRange(100, 199, 1000L));
    assertThat(ContentRange.parse("bytes 100-199/*")).isEqualTo(new ContentRange(100, 199, null));
    assertThat(ContentRange.parse("BYTES 0-0/1")).isEqualTo(new ContentRange(0, 0, 1L));
  }

  @Test
  void refusesWhatIsNotOneSatisfiableRange() {
    assertThat(ContentRange.parse(null)).isNull();
    assertThat(ContentRange.parse("bytes */1000")).isNull();
    assertThat(ContentRange.parse("bytes 200-100/1000")).isNull();
    assertThat(ContentRange.parse("bytes 0-1000/1000")).isNull();
    assertThat(ContentRange.parse("items 0-1/2")).isNull();
    assertThat(ContentRange.parse("bytes a-b/c")).isNull();
  }
}
