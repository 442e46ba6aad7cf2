package transfer.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The trace context as the ledger stores it: its ids are read only from a value of W3C shape. */
class TraceContextTest {
  static final TraceContext SUBMIT =
      new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=x1");

  @Test
  void aStoredValueOfAnotherShapeNamesNoTrace() {
    assertThat(TraceContext.of(null, "x")).isNull();
    assertThat(TraceContext.of("", null)).isNull();
    assertThat(new TraceContext("garbage", null).traceId()).isNull();
    assertThat(new TraceContext("garbage", null).spanId()).isNull();
    assertThat(SUBMIT.traceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
  }
}
