package transfer.storage.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.s3server.EmbeddedS3;

/**
 * The bucket's requests against a real S3 API server (S3Proxy on loopback, checking signatures): an
 * upload's parts as a checkpoint lists them, the abort a removed task's checkpoint asks for, a
 * ranged read, a missing key.
 */
class S3BucketIT {
  static EmbeddedS3 server;
  static S3Bucket bucket;

  @TempDir static Path dir;

  @BeforeAll
  static void start() throws Exception {
    server = EmbeddedS3.start(dir.resolve("s3"), 0, "it-access", "it-secret-key");
    server.createBucket("bucket-it");
    System.setProperty("aws.accessKeyId", "it-access");
    System.setProperty("aws.secretAccessKey", "it-secret-key");
    bucket =
        S3Bucket.open(
            new S3Settings(
                Optional.of(server.endpoint()),
                Optional.of("us-east-1"),
                true,
                Optional.of(true),
                Duration.ofSeconds(30)),
            "bucket-it",
            "p/");
  }

  @AfterAll
  static void stop() {
    bucket.close();
    server.close();
  }

  @Test
  void theUploadACheckpointNamesIsListedByItsPartsAndAbortedByItsState() throws Exception {
    String key = bucket.layout().download("t", "s", "task-1", 1);
    String uploadId = bucket.beginUpload(key);
    Path part = Files.write(dir.resolve("part"), new byte[5 << 20]);
    String etag = bucket.uploadPart(key, uploadId, 1, part, 5 << 20);
    assertThat(bucket.parts(key, uploadId, 1, 5 << 20)).containsExactly(etag);
    assertThatThrownBy(() -> bucket.parts(key, uploadId, 2, 5 << 20))
        .isInstanceOf(S3Bucket.Missing.class);
    assertThat(bucket.uploads(bucket.layout().downloads("t", "s", "task-1")))
        .extracting(S3Bucket.Upload::uploadId)
        .containsExactly(uploadId);

    String state = new S3Checkpoint(key, uploadId, 5 << 20, 1, "c3RhdGU").encode();
    assertThat(bucket.abortUploadOf(state)).isTrue();
    assertThat(bucket.uploads("p/")).isEmpty();
    assertThat(bucket.abortUploadOf(null)).as("a state that names no upload").isTrue();
    assertThat(bucket.abortUploadOf(state)).as("gone already").isTrue();
  }

  @Test
  void anObjectIsReadByRangeAndAMissingKeyIsSaidSo() throws Exception {
    byte[] body = new byte[100_000];
    new Random(5).nextBytes(body);
    String key = bucket.layout().newObject("t", "s");
    Path file = Files.write(dir.resolve("obj"), body);
    bucket.put(key, file);
    assertThat(bucket.size(key)).contains(100_000L);
    try (InputStream in = bucket.read(key, 10, 19)) {
      assertThat(in.readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(body, 10, 20));
    }
    assertThat(bucket.keys("p/t/s/objects/")).containsExactly(key);
    bucket.delete(key);
    assertThat(bucket.size(key)).isEmpty();
    assertThatThrownBy(() -> bucket.read(key, 0, -1)).isInstanceOf(S3Bucket.Missing.class);
    assertThat(List.of(bucket.layout().location(key)))
        .allMatch(l -> l.startsWith("s3://bucket-it/p/"));
  }
}
