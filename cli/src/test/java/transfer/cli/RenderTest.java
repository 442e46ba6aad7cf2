package transfer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskError;

class RenderTest {

  @Test
  void sizesInBinaryUnits() {
    assertThat(Render.bytes(0)).isEqualTo("0 B");
    assertThat(Render.bytes(1023)).isEqualTo("1023 B");
    assertThat(Render.bytes(1024)).isEqualTo("1.0 KiB");
    assertThat(Render.bytes(12_900_000)).isEqualTo("12.3 MiB");
    assertThat(Render.bytes(4L << 30)).isEqualTo("4.0 GiB");
    assertThat(Render.rate(1536)).isEqualTo("1.5 KiB/s");
  }

  @Test
  void durations() {
    assertThat(Render.duration(Duration.ofMillis(400))).isEqualTo("0.4 s");
    assertThat(Render.duration(Duration.ofSeconds(12))).isEqualTo("12 s");
    assertThat(Render.duration(Duration.ofSeconds(185))).isEqualTo("3m05s");
    assertThat(Render.duration(Duration.ofSeconds(7260))).isEqualTo("2h01m");
  }

  @Test
  void barsForKnownAndUnknownTotals() {
    assertThat(Render.bar(10, 0.0, 0)).isEqualTo("[>         ]");
    assertThat(Render.bar(10, 0.45, 0)).isEqualTo("[####>     ]");
    assertThat(Render.bar(10, 1.0, 0)).isEqualTo("[##########]");
    assertThat(Render.bar(10, 1.7, 0)).isEqualTo("[##########]");
    // Unknown total: a block of three that moves and stays inside the brackets.
    for (long tick = 0; tick < 40; tick++) {
      String b = Render.bar(10, null, tick);
      assertThat(b).hasSize(12).contains("===").startsWith("[").endsWith("]");
    }
    assertThat(Render.bar(10, null, 0)).isNotEqualTo(Render.bar(10, null, 3));
  }

  @Test
  void progressLineShowsPercentSizesRateAndEta() {
    String line = Render.progressLine("t1", "running", 50 << 20, 100L << 20, 10 << 20, 0, 200);
    assertThat(line)
        .startsWith(
            "t1 [############>           ]  50%  50.0 MiB / 100.0 MiB  10.0 MiB/s  ETA 5.0 s");
    String waiting = Render.progressLine("t1", "waiting", 0, null, 0, 0, 200);
    assertThat(waiting).startsWith("t1 waiting [===").endsWith("]  0 B");
  }

  @Test
  void progressLineNeverWrapsANarrowTerminal() {
    String line = Render.progressLine("t1", "running", 50 << 20, 100L << 20, 10 << 20, 0, 30);
    assertThat(line).hasSize(30).endsWith("…");
  }

  @Test
  void everyErrorCodeHasAHint() {
    assertThat(Render.hint(new TaskError("http_status", "404", 404, false)))
        .contains("check the URL");
    assertThat(Render.hint(TaskError.of("blocked_destination", "x", false)))
        .contains("allowed-destinations");
    assertThat(Render.hint(TaskError.of("checksum_mismatch", "x", false))).contains("--sha256");
    assertThat(Render.hint(TaskError.of("something_new", "x", true))).contains("submitted again");
    assertThat(Render.hint(null)).isNotBlank();
  }
}
