package transfer.s3server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The embedded server speaks the S3 the cluster needs, to the AWS SDK for Java v2 configured as the
 * cluster configures it (path-style, checksums only when required): buckets, a multipart upload
 * listed while open and read by range once complete, an aborted one gone, wrong credentials
 * refused.
 */
class EmbeddedS3IT {
  private static final int MIB = 1 << 20;

  @TempDir static Path dir;
  private static EmbeddedS3 server;
  private static S3Client s3;

  @BeforeAll
  static void start() throws Exception {
    server = EmbeddedS3.start(dir.resolve("blobs"), 0, "test-access", "test-secret-key");
    s3 = client("test-access", "test-secret-key");
  }

  @AfterAll
  static void stop() {
    s3.close();
    server.close();
  }

  private static S3Client client(String key, String secret) {
    return S3Client.builder()
        .endpointOverride(server.endpoint())
        .region(Region.US_EAST_1)
        .forcePathStyle(true)
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret)))
        .httpClient(UrlConnectionHttpClient.create())
        .build();
  }

  @Test
  void aMultipartUploadIsListedWhileOpenAndReadByRangeOnceComplete() throws Exception {
    s3.createBucket(b -> b.bucket("objects"));
    byte[] first = new byte[5 * MIB];
    byte[] second = new byte[MIB + 123];
    new Random(7).nextBytes(first);
    new Random(8).nextBytes(second);
    String id = s3.createMultipartUpload(b -> b.bucket("objects").key("t/1/body")).uploadId();
    String e1 =
        s3.uploadPart(
                b -> b.bucket("objects").key("t/1/body").uploadId(id).partNumber(1),
                RequestBody.fromBytes(first))
            .eTag();
    assertThat(s3.listMultipartUploads(b -> b.bucket("objects")).uploads())
        .anySatisfy(u -> assertThat(u.uploadId()).isEqualTo(id));
    assertThat(s3.listParts(b -> b.bucket("objects").key("t/1/body").uploadId(id)).parts())
        .singleElement()
        .satisfies(p -> assertThat(p.size()).isEqualTo((long) first.length));
    String e2 =
        s3.uploadPart(
                b -> b.bucket("objects").key("t/1/body").uploadId(id).partNumber(2),
                RequestBody.fromBytes(second))
            .eTag();
    s3.completeMultipartUpload(
        b ->
            b.bucket("objects")
                .key("t/1/body")
                .uploadId(id)
                .multipartUpload(
                    CompletedMultipartUpload.builder()
                        .parts(
                            List.of(
                                CompletedPart.builder().partNumber(1).eTag(e1).build(),
                                CompletedPart.builder().partNumber(2).eTag(e2).build()))
                        .build()));

    assertThat(s3.headObject(b -> b.bucket("objects").key("t/1/body")).contentLength())
        .isEqualTo(first.length + second.length);
    byte[] across =
        s3.getObjectAsBytes(b -> b.bucket("objects").key("t/1/body").range("bytes=5242870-5242889"))
            .asByteArray();
    byte[] expected = new byte[20];
    System.arraycopy(first, first.length - 10, expected, 0, 10);
    System.arraycopy(second, 0, expected, 10, 10);
    assertThat(across).isEqualTo(expected);
    assertThat(Files.size(dir.resolve("blobs/objects/t/1/body")))
        .as("a plain file under the directory")
        .isEqualTo(first.length + second.length);
  }

  @Test
  void anAbortedUploadIsGoneAndWrongCredentialsAreRefused() {
    s3.createBucket(b -> b.bucket("aborts"));
    String id = s3.createMultipartUpload(b -> b.bucket("aborts").key("k")).uploadId();
    s3.uploadPart(
        b -> b.bucket("aborts").key("k").uploadId(id).partNumber(1),
        RequestBody.fromBytes(Arrays.copyOf(new byte[] {1}, 1000)));
    s3.abortMultipartUpload(b -> b.bucket("aborts").key("k").uploadId(id));
    assertThat(s3.listMultipartUploads(b -> b.bucket("aborts")).uploads()).isEmpty();

    try (S3Client wrong = client("test-access", "not-the-secret")) {
      assertThatThrownBy(() -> wrong.listBuckets())
          .isInstanceOfSatisfying(
              S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(403));
    }
  }
}
