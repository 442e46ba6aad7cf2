package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;

class UploadTest {
  @Test
  void theMethodIsPutUnlessTheTaskSaysPost() {
    assertThat(Upload.methodOf(null)).isEqualTo(HttpMethod.PUT);
    assertThat(Upload.methodOf("PUT")).isEqualTo(HttpMethod.PUT);
    assertThat(Upload.methodOf("post")).isEqualTo(HttpMethod.POST);
  }

  @Test
  void aRedirectIsAFinalHttpStatusAndTheRestIsClassifiedAsForDownloads() {
    for (int s : new int[] {301, 302, 303, 307, 308}) {
      assertThat(Upload.statusError(s).code()).as("%d", s).isEqualTo(ErrorCodes.HTTP_STATUS);
      assertThat(Upload.statusError(s).retryable()).as("%d", s).isFalse();
      assertThat(Upload.statusError(s).httpStatus()).isEqualTo(s);
    }
    for (int s : new int[] {400, 403, 404, 409, 413}) {
      assertThat(Upload.statusError(s).retryable()).as("%d", s).isFalse();
    }
    for (int s : new int[] {408, 429, 500, 502, 503, 504}) {
      assertThat(Upload.statusError(s).retryable()).as("%d", s).isTrue();
      assertThat(Upload.statusError(s).code()).isEqualTo(ErrorCodes.HTTP_STATUS);
      assertThat(Upload.statusError(s).message()).contains("target").contains("" + s);
    }
  }
}
