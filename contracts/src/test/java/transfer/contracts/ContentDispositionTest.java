package transfer.contracts;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ContentDispositionTest {
  @Test
  void readsTheSuggestedNameInEachSpelling() {
    assertThat(ContentDisposition.fileName("attachment; filename=\"report 2026.csv\""))
        .isEqualTo("report 2026.csv");
    assertThat(ContentDisposition.fileName("attachment; filename=plain.txt"))
        .isEqualTo("plain.txt");
    assertThat(
            ContentDisposition.fileName(
                "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf"))
        .isEqualTo("naïve résumé.pdf");
    assertThat(ContentDisposition.fileName("inline; filename=\"a \\\"quoted\\\" name\""))
        .isEqualTo("a \"quoted\" name");
    assertThat(ContentDisposition.fileName("attachment")).isNull();
    assertThat(ContentDisposition.fileName(null)).isNull();
  }

  @Test
  void neverAPathOrAControlCharacter() {
    assertThat(ContentDisposition.fileName("attachment; filename=\"../../etc/passwd\""))
        .isEqualTo("passwd");
    assertThat(ContentDisposition.fileName("attachment; filename=\"C:\\\\temp\\\\x.exe\""))
        .isEqualTo("x.exe");
    assertThat(ContentDisposition.fileName("attachment; filename*=UTF-8''a%0D%0Ab.txt"))
        .isEqualTo("ab.txt");
    assertThat(ContentDisposition.fileName("attachment; filename=\"..\"")).isNull();
  }

  @Test
  void offersANameBackInBothForms() {
    assertThat(ContentDisposition.attachment("naïve \"x\".pdf"))
        .isEqualTo(
            "attachment; filename=\"na_ve _x_.pdf\"; filename*=UTF-8''na%C3%AFve%20%22x%22.pdf");
  }

  @Test
  void anUploadAnswerKeepsItsHeadersButNotItsCookiesAndItsBodyAsTextOrBase64() {
    ReceivedResponse text =
        ReceivedResponse.ofUpload(
            201,
            java.util.List.of(
                java.util.Map.entry("Location", "/objects/7"),
                java.util.Map.entry("Set-Cookie", "session=secret"),
                java.util.Map.entry("ETag", "\"v1\"")),
            "{\"id\":7}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
            false);
    assertThat(text.headers()).containsOnlyKeys("location", "etag");
    assertThat(text.body()).isEqualTo("{\"id\":7}");
    assertThat(text.bodyEncoding()).isEqualTo("utf-8");
    assertThat(text.bodyTruncated()).isNull();
    ReceivedResponse binary =
        ReceivedResponse.ofUpload(200, java.util.List.of(), new byte[] {(byte) 0xff, 0}, true);
    assertThat(binary.body()).isEqualTo("/wA=");
    assertThat(binary.bodyEncoding()).isEqualTo("base64");
    assertThat(binary.bodyTruncated()).isTrue();
  }
}
