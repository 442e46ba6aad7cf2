package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class UrlsTest {

  @Test
  void urlsInLogsAndErrorsLoseUserInfoQueryAndFragment() {
    assertThat(Urls.redacted("https://user:pw@files.example.com:8443/a/b?sig=s3cr3t#frag"))
        .isEqualTo("https://…@files.example.com:8443/a/b?…");
    assertThat(Urls.redacted("http://h/p#only")).isEqualTo("http://h/p?…");
    assertThat(Urls.redacted("http://h/p")).isEqualTo("http://h/p");
    assertThat(Urls.redacted("file:/etc/passwd")).isEqualTo("file:/etc/passwd");
  }
}
