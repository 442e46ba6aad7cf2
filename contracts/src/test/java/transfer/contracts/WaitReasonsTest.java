package transfer.contracts;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WaitReasonsTest {
  private static TaskError status(int s, boolean retryable) {
    return new TaskError(ErrorCodes.HTTP_STATUS, "HTTP " + s, s, retryable);
  }

  @Test
  void faultsOfTheWayToTheOriginAreWaitedOutWhenTheSessionWaits() {
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.CONNECTION_FAILED, "x", true), true))
        .isEqualTo(WaitReasons.CONNECTIVITY);
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.STALLED, "x", true), true))
        .isEqualTo(WaitReasons.CONNECTIVITY);
    for (int s : new int[] {408, 425, 429, 500, 502, 503, 504}) {
      assertThat(WaitReasons.uncounted(status(s, true), true))
          .as("%d", s)
          .isEqualTo(WaitReasons.ORIGIN_UNAVAILABLE);
    }
  }

  @Test
  void theyCountWhenTheSessionDoesNotWait() {
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.CONNECTION_FAILED, "x", true), false))
        .isNull();
    assertThat(WaitReasons.uncounted(status(503, true), false)).isNull();
  }

  @Test
  void theClustersOwnStorageNeverCounts() {
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.STORAGE_FAILED, "x", true), false))
        .isEqualTo(WaitReasons.STORAGE);
  }

  @Test
  void finalErrorsAndOtherRetryableOnesCount() {
    assertThat(WaitReasons.uncounted(status(404, false), true)).isNull();
    assertThat(WaitReasons.uncounted(status(501, false), true)).isNull();
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.CHECKSUM_MISMATCH, "x", true), true))
        .isNull();
    assertThat(WaitReasons.uncounted(TaskError.of(ErrorCodes.TLS_CERTIFICATE, "x", false), true))
        .isNull();
    assertThat(WaitReasons.uncounted(null, true)).isNull();
  }
}
