package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.MultiMap;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskRequest;

class UploadResourceTest {
  private static final String TUS = TaskRequest.RESUMABLE_TUS;

  @Test
  void theResourceIsResolvedAgainstTheCreationUrl() {
    String base = "https://up.example.com/files/?x=1";
    assertThat(UploadResource.resolve(base, "/files/abc"))
        .isEqualTo("https://up.example.com/files/abc");
    assertThat(UploadResource.resolve(base, "abc")).isEqualTo("https://up.example.com/files/abc");
    assertThat(UploadResource.resolve(base, "https://cdn.example.net/u/1"))
        .isEqualTo("https://cdn.example.net/u/1");
  }

  @Test
  void noLocationOrOneThatIsNotHttpIsAFinalError() {
    for (String bad : new String[] {null, " ", "file:///etc/passwd", "ftp://x/y", "http://[::1"}) {
      assertThatThrownBy(() -> UploadResource.resolve("http://up.example.com/files/", bad))
          .as("%s", bad)
          .isInstanceOfSatisfying(
              UploadResource.NotResumable.class,
              e -> {
                assertThat(e.error.code()).isEqualTo(ErrorCodes.HTTP_STATUS);
                assertThat(e.error.retryable()).isFalse();
              });
    }
  }

  @Test
  void theOffsetMustBeANumberFromZeroToTheSize() {
    assertThat(offset("0")).isZero();
    assertThat(offset(" 4096 ")).isEqualTo(4096);
    assertThat(offset("10000")).isEqualTo(10_000);
    for (String bad : new String[] {null, "-1", "10001", "ten", ""}) {
      assertThatThrownBy(() -> offset(bad))
          .as("%s", bad)
          .isInstanceOfSatisfying(
              UploadResource.NotResumable.class,
              e -> assertThat(e.error.message()).contains("does not speak tus 1.0"));
    }
  }

  @Test
  void aConflictOrAGoneResourceIsRetriedAndTheRestIsAsForAPlainUpload() {
    for (int s : new int[] {404, 409, 410}) {
      assertThat(Upload.appendError(s).retryable()).as("%d", s).isTrue();
      assertThat(Upload.appendError(s).httpStatus()).isEqualTo(s);
    }
    assertThat(Upload.appendError(409).message()).contains("asks it again");
    assertThat(Upload.appendError(410).message()).contains("creates another");
    assertThat(Upload.appendError(400)).isEqualTo(Upload.statusError(400));
    assertThat(Upload.appendError(403)).isEqualTo(Upload.statusError(403));
    assertThat(Upload.appendError(503)).isEqualTo(Upload.statusError(503));
  }

  private static long offset(String value) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap();
    if (value != null) {
      h.add("upload-offset", value);
    }
    return UploadResource.offsetOf(h, "HEAD 200", 10_000, TUS);
  }
}
