package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ResumeDecisionTest {
  private static final String ETAG = "\"v1\"";

  /** Headers as an answer carries them: looked up by name, whatever the case. */
  private static Function<String, String> headers(String... nameValue) {
    Map<String, String> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int i = 0; i < nameValue.length; i += 2) {
      h.put(nameValue[i], nameValue[i + 1]);
    }
    return h::get;
  }

  @Test
  void a206StartingWhereWeAskedContinuesThePrefix() {
    assertThat(
            ResumeDecision.of(
                100, ETAG, 206, headers("Content-Range", "bytes 100-999/1000", "ETag", ETAG)))
        .isEqualTo(new ResumeDecision.Continue(100, 1000L));
    // No total in Content-Range: the prefix plus what this answer announces.
    assertThat(
            ResumeDecision.of(
                100,
                ETAG,
                206,
                headers("content-range", "bytes 100-999/*", "content-length", "900")))
        .isEqualTo(new ResumeDecision.Continue(100, 1000L));
    assertThat(ResumeDecision.of(100, null, 206, headers("Content-Range", "bytes 100-999/*")))
        .isEqualTo(new ResumeDecision.Continue(100, null));
    // An answer without an ETag, or a prefix without one, cannot contradict the other.
    assertThat(
            ResumeDecision.of(
                100, null, 206, headers("Content-Range", "bytes 100-999/1000", "ETag", ETAG)))
        .isInstanceOf(ResumeDecision.Continue.class);
    assertThat(ResumeDecision.of(100, ETAG, 206, headers("Content-Range", "bytes 100-999/1000")))
        .isInstanceOf(ResumeDecision.Continue.class);
  }

  @Test
  void a200IsTheWholeBodyFromZero() {
    assertThat(ResumeDecision.of(100, ETAG, 200, headers("Content-Length", "1000")))
        .isEqualTo(new ResumeDecision.WholeBody(1000L));
    assertThat(ResumeDecision.of(0, null, 200, headers("Content-Length", " 7 ")))
        .isEqualTo(new ResumeDecision.WholeBody(7L));
    assertThat(ResumeDecision.of(0, null, 204, headers()))
        .isEqualTo(new ResumeDecision.WholeBody(null));
    assertThat(ResumeDecision.of(0, null, 200, headers("Content-Length", "many")))
        .isEqualTo(new ResumeDecision.WholeBody(null));
  }

  @Test
  void a206ElsewhereAMultipartAnswerOrAChangedEtagAsksAgainForTheWholeBody() {
    assertThat(
            ResumeDecision.of(
                100, ETAG, 206, headers("Content-Range", "bytes 0-999/1000", "ETag", ETAG)))
        .isEqualTo(new ResumeDecision.AskAgain("answered Content-Range bytes 0-999/1000"));
    assertThat(ResumeDecision.of(100, ETAG, 206, headers()))
        .isEqualTo(new ResumeDecision.AskAgain("answered Content-Range null"));
    assertThat(
            ResumeDecision.of(
                100,
                ETAG,
                206,
                headers(
                    "Content-Type",
                    "Multipart/ByteRanges; boundary=x",
                    "Content-Range",
                    "bytes 100-999/1000")))
        .isEqualTo(new ResumeDecision.AskAgain("answered multipart/byteranges"));
    assertThat(
            ResumeDecision.of(
                100, ETAG, 206, headers("Content-Range", "bytes 100-999/1000", "ETag", "\"v2\"")))
        .isEqualTo(new ResumeDecision.AskAgain("changed its ETag from \"v1\" to \"v2\""));
  }

  @Test
  void anErrorStatusOrA206NobodyAskedForIsNoBody() {
    for (int s : new int[] {100, 304, 404, 416, 500, 503}) {
      assertThat(ResumeDecision.of(100, ETAG, s, headers()))
          .isEqualTo(new ResumeDecision.NoBody(s));
    }
    assertThat(ResumeDecision.of(0, null, 206, headers("Content-Range", "bytes 0-9/10")))
        .isEqualTo(new ResumeDecision.NoBody(206));
  }

  @Test
  void ifRangeCarriesAStrongEtagElseLastModified() {
    String date = "Wed, 21 Oct 2026 07:28:00 GMT";
    assertThat(ResumeDecision.validator(ETAG, date)).isEqualTo(ETAG);
    assertThat(ResumeDecision.validator("W/\"v1\"", date)).isEqualTo(date);
    assertThat(ResumeDecision.validator(null, date)).isEqualTo(date);
    assertThat(ResumeDecision.validator("W/\"v1\"", null)).isNull();
  }
}
