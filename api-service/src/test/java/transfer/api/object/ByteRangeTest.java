package transfer.api.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import transfer.api.problem.ApiException;

class ByteRangeTest {
  @Test
  void eachFormOfOneRange() {
    assertThat(ByteRange.of("bytes=0-99", 1000)).contains(new ByteRange(0, 99));
    assertThat(ByteRange.of("bytes=900-", 1000)).contains(new ByteRange(900, 999));
    assertThat(ByteRange.of("bytes=-100", 1000)).contains(new ByteRange(900, 999));
    assertThat(ByteRange.of("bytes=-5000", 1000)).contains(new ByteRange(0, 999));
    assertThat(ByteRange.of("bytes=990-5000", 1000)).contains(new ByteRange(990, 999));
    assertThat(ByteRange.of("bytes=990-5000", 1000).get().contentRange(1000))
        .isEqualTo("bytes 990-999/1000");
  }

  @Test
  void whatIsNotOneByteRangeIsIgnored() {
    assertThat(ByteRange.of(null, 10)).isEmpty();
    assertThat(ByteRange.of("bytes=0-1,5-6", 10)).isEmpty();
    assertThat(ByteRange.of("items=0-1", 10)).isEmpty();
    assertThat(ByteRange.of("bytes=5-1", 10)).isEmpty();
    assertThat(ByteRange.of("bytes=-", 10)).isEmpty();
    assertThat(ByteRange.of("bytes=99999999999999999999-", 10)).isEmpty();
  }

  @Test
  void aRangePastTheEndIs416() {
    assertThatThrownBy(() -> ByteRange.of("bytes=1000-", 1000))
        .isInstanceOf(ApiException.class)
        .satisfies(e -> assertThat(((ApiException) e).status()).isEqualTo(416));
    assertThatThrownBy(() -> ByteRange.of("bytes=-0", 1000)).isInstanceOf(ApiException.class);
    assertThatThrownBy(() -> ByteRange.of("bytes=1000-2000", 1000))
        .isInstanceOf(ApiException.class);
  }
}
