package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * What only the S3 backend does, on the cluster with S3Proxy on loopback (the failsafe execution
 * {@code s3}, which also runs a named set of the other cluster tests on S3): a download cut
 * mid-body continues the same multipart upload from its last part, asking the origin only for the
 * rest; the API serves content from the bucket with ranges, or as a presigned link.
 */
class StorageS3ClusterIT extends ClusterTest {
  static final long PART = 5L << 20;

  @BeforeAll
  static void onS3() {
    assumeTrue(ClusterFixture.S3, "a test of the S3 backend (-Dtransfer.storage=s3)");
  }

  @Test
  void aDownloadCutMidBodyContinuesItsMultipartUploadFromTheLastPartWithRange() throws Exception {
    long size = 13L << 20;
    String sid =
        cluster.newSession(
            "s3", "{\"retry\":{\"initialBackoff\":\"PT0.2S\",\"maxBackoff\":\"PT0.5S\"}}");
    // Slow enough for heartbeats to record the parts as checkpoints before the cut at 11.5 MiB.
    String path = "/bytes/" + size;
    String query = "seed=31&rate=" + (3 << 20) + "&cutAfter=" + (23L << 19) + "&faultTimes=1";
    String tid = submit(sid, origin.url(path + "?" + query));

    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(2));
    assertThat(task.get("state").asText()).as("task %s", task).isEqualTo("completed");
    assertThat(task.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 31));
    assertThat(task.get("location").asText())
        .as("the second attempt completed the upload the first began")
        .isEqualTo("s3://transfer-it/objects/default/" + sid + "/" + tid + ".e1");

    List<Origin.RequestRecord> gets =
        origin.requests().stream().filter(r -> r.path().equals(path)).toList();
    assertThat(gets).hasSize(2);
    assertThat(gets.get(0).range()).isNull();
    // The continuation starts at a part boundary: the parts in S3 are not fetched again.
    String range = gets.get(1).range();
    assertThat(range).matches("bytes=\\d+-");
    long from = Long.parseLong(range.substring(6, range.length() - 1));
    assertThat(from).isPositive().isLessThanOrEqualTo(23L << 19);
    assertThat(from % PART).isZero();

    ApiClient.Content content = cluster.content(sid, tid);
    assertThat(content.size()).isEqualTo(size);
    assertThat(content.sha256()).isEqualTo(Origin.sha256Hex(size, 31));
    assertThat(cluster.stored.namesStartingWith(tid))
        .as("one object, no upload left in progress")
        .containsExactly("objects/default/" + sid + "/" + tid + ".e1");
  }

  @Test
  void contentIsServedFromTheBucketByRangeOrAsAPresignedLink() throws Exception {
    long size = PART + 4321;
    String sid = cluster.newSession("s3", "{}");
    String tid = submit(sid, origin.url("/bytes/" + size + "?seed=32"));
    JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
    assertThat(task.get("state").asText()).isEqualTo("completed");

    // A range across the part boundary.
    long first = PART - 1000;
    HttpResponse<byte[]> part =
        get(
            contentUrl(sid, tid, ""),
            "Range",
            "bytes=" + first + "-" + (first + 1999),
            "Authorization",
            "Bearer " + ClusterFixture.API_KEY);
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.headers().firstValue("Content-Range"))
        .contains("bytes " + first + "-" + (first + 1999) + "/" + size);
    assertThat(part.body()).isEqualTo(Origin.bytes(first, 2000, 32, 1));

    // A link to the bucket itself, signed for a while; the client needs no key for it.
    HttpResponse<byte[]> redirect =
        get(
            contentUrl(sid, tid, "?redirect=true"),
            "Authorization",
            "Bearer " + ClusterFixture.API_KEY);
    assertThat(redirect.statusCode()).isEqualTo(307);
    String link = redirect.headers().firstValue("Location").orElseThrow();
    assertThat(URI.create(link).getHost()).isEqualTo("127.0.0.1");
    assertThat(link).contains("X-Amz-Signature");
    HttpResponse<byte[]> direct = get(link);
    assertThat(direct.statusCode()).isEqualTo(200);
    assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(direct.body())))
        .isEqualTo(Origin.sha256Hex(size, 32));
  }

  // ------------------------------------------------------------------ helpers

  private static String contentUrl(String sid, String tid, String query) {
    return "http://127.0.0.1:"
        + cluster.apiPort
        + "/v1/sessions/"
        + sid
        + "/tasks/"
        + tid
        + "/content"
        + query;
  }

  private static HttpResponse<byte[]> get(String url, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return HttpClient.newBuilder()
        .followRedirects(HttpClient.Redirect.NEVER)
        .build()
        .send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String submit(String sid, String url) throws Exception {
    return cluster
        .submit(sid, ClusterFixture.json("type", "download", "url", url))
        .get("id")
        .asText();
  }
}
