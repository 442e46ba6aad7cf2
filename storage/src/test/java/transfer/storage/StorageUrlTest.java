package transfer.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import transfer.storage.s3.S3Checkpoint;
import transfer.storage.s3.S3Layout;

/** What TRANSFER_STORAGE_URL may say, and how a recorded S3 location is resolved. */
class StorageUrlTest {
  @Test
  void aFileUrlAnS3UrlAndTheDefault() {
    assertThat(StorageUrl.parse(null, Path.of("/data/objects")).root())
        .isEqualTo(Path.of("/data/objects"));
    assertThat(StorageUrl.parse("file:///srv/objects", Path.of("x")).root())
        .isEqualTo(Path.of("/srv/objects"));
    StorageUrl s3 = StorageUrl.parse("s3://my-bucket/cluster/a/", Path.of("x"));
    assertThat(s3.s3()).isTrue();
    assertThat(s3.bucket()).isEqualTo("my-bucket");
    assertThat(s3.prefix()).isEqualTo("cluster/a/");
    assertThat(StorageUrl.parse("s3://my-bucket", Path.of("x")).prefix()).isEmpty();
  }

  @Test
  void aBadUrlIsOneSentenceNamingTheSetting() {
    for (String bad :
        new String[] {
          "http://bucket/x", "s3://", "s3://UPPER/x", "s3://b/../x", "file:", "s3://b//x", "::"
        }) {
      assertThatThrownBy(() -> StorageUrl.parse(bad, Path.of("x")))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("transfer.storage.url");
    }
  }

  @Test
  void aLocationResolvesOnlyToAKeyOfThisBucketUnderThisPrefix() {
    S3Layout layout = new S3Layout("b", "p/");
    String key = layout.download("t", "s", "task", 2);
    assertThat(key).isEqualTo("p/t/s/task.e2");
    assertThat(layout.key(layout.location(key))).contains(key);
    assertThat(layout.key("s3://other/p/t/s/task.e2")).isEmpty();
    assertThat(layout.key("s3://b/q/t/s/task.e2")).isEmpty();
    assertThat(layout.key("s3://b/p/t/../../x")).isEmpty();
    assertThat(layout.key("s3://b/p/")).isEmpty();
    assertThat(layout.key("file:///p/t")).isEmpty();
    assertThat(layout.key(null)).isEmpty();
  }

  @Test
  void aCheckpointStateRoundTripsAndAnythingElseIsNone() {
    S3Checkpoint cp = new S3Checkpoint("p/t/s/k e1", "id/+=", 8 << 20, 3, "c3RhdGU");
    assertThat(S3Checkpoint.decode(cp.encode())).isEqualTo(cp);
    assertThat(cp.bytes()).isEqualTo(24L << 20);
    assertThat(S3Checkpoint.decode(null)).isNull();
    assertThat(S3Checkpoint.decode("garbage")).isNull();
    assertThat(S3Checkpoint.decode("s3.v1 a b c d e")).isNull();
  }
}
