package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.deploy.ClusterFixture.json;
import static transfer.deploy.ClusterFixture.ofTask;
import static transfer.deploy.ClusterFixture.ofType;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.testkit.Origin;

/**
 * What the other side answered (URLSession's {@code task.response}), on real sockets: a download's
 * type, length, suggested file name, validators and final URL after a redirect, on the task and its
 * downloaded event; its content served with that type and name, and by byte range; an upload
 * target's status, headers (without its cookie) and body, on the task and its completed event.
 */
class ReceivedClusterIT extends ClusterTest {
  private static final long SIZE = 300_000;
  private static final Duration FINISH = Duration.ofSeconds(60);

  @Test
  void aDownloadKeepsWhatTheOriginSaidAndItsContentIsServedByRange() throws Exception {
    String sid = cluster.newSession("received", "{\"sendsCreatedEvents\":true}");
    String target =
        origin.url(
            "/bytes/"
                + SIZE
                + "?seed=81&contentType=text/csv%3B%20charset%3Dutf-8&fileName="
                + URLEncoder.encode("résumé final.csv", StandardCharsets.UTF_8));
    String url =
        origin.url("/bytes/1?seed=1&redirect=" + URLEncoder.encode(target, StandardCharsets.UTF_8));
    String tid = cluster.submit(sid, json("type", "download", "url", url)).get("id").asText();
    JsonNode done = cluster.awaitFinal(sid, tid, FINISH);
    assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");

    JsonNode r = done.get("response");
    assertThat(r.get("status").asInt()).isEqualTo(200);
    assertThat(r.get("contentType").asText()).isEqualTo("text/csv; charset=utf-8");
    assertThat(r.get("contentLength").asLong()).isEqualTo(SIZE);
    assertThat(r.get("fileName").asText()).isEqualTo("résumé final.csv");
    assertThat(r.get("etag").asText()).isEqualTo(Origin.etag(SIZE, 81, 1));
    assertThat(r.get("lastModified").asText()).isNotBlank();
    assertThat(r.get("finalUrl").asText()).isEqualTo(target);
    List<JsonNode> events = ofTask(cluster.replay(sid), tid);
    JsonNode downloaded = ofType(events, "transfer.task.downloaded").get(0);
    assertThat(downloaded.at("/data/response")).isEqualTo(r);
    // The session asked for creation events: the first of the task's, with its url.
    assertThat(events.get(0).get("type").asText()).isEqualTo("transfer.task.created");
    assertThat(events.get(0).at("/data/url").asText()).isEqualTo(url);
    // What the attempt cost on the wire: two requests (the redirect and its target).
    JsonNode metrics = ofType(events, "transfer.task.completed").get(0).at("/data/metrics");
    assertThat(metrics.get("attempt").asInt()).as("%s", metrics).isEqualTo(1);
    assertThat(metrics.get("redirects").asInt()).isEqualTo(1);
    assertThat(metrics.get("requests").asInt()).isEqualTo(2);
    assertThat(metrics.get("protocol").asText()).isEqualTo("http/1.1");
    assertThat(metrics.get("remoteAddress").asText()).isEqualTo("127.0.0.1:" + origin.port());
    assertThat(metrics.get("bytes").asLong()).isEqualTo(SIZE);
    assertThat(metrics.get("dnsMs").asLong()).isNotNegative();
    assertThat(metrics.get("firstByteMs").asLong()).isNotNegative();
    assertThat(metrics.get("totalMs").asLong())
        .isGreaterThanOrEqualTo(metrics.get("transferMs").asLong());

    String content = "/v1/sessions/" + sid + "/tasks/" + tid + "/content";
    HttpResponse<byte[]> whole = get(content, null);
    assertThat(whole.statusCode()).isEqualTo(200);
    assertThat(whole.body()).hasSize((int) SIZE);
    assertThat(whole.headers().firstValue("Content-Type")).hasValue("text/csv; charset=utf-8");
    assertThat(whole.headers().firstValue("Content-Disposition").orElseThrow())
        .contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20final.csv");
    assertThat(whole.headers().firstValue("Accept-Ranges")).hasValue("bytes");
    assertThat(whole.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");

    HttpResponse<byte[]> part = get(content, "bytes=1000-1999");
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 1000-1999/" + SIZE);
    assertThat(part.body()).isEqualTo(Origin.bytes(1000, 1000, 81, 1));
    HttpResponse<byte[]> tail = get(content, "bytes=-10");
    assertThat(tail.statusCode()).isEqualTo(206);
    assertThat(tail.body()).isEqualTo(Origin.bytes(SIZE - 10, 10, 81, 1));

    HttpResponse<byte[]> past = get(content, "bytes=" + SIZE + "-");
    assertThat(past.statusCode()).isEqualTo(416);
    assertThat(past.headers().firstValue("Content-Type")).hasValue("application/problem+json");
    assertThat(past.headers().firstValue("Content-Range")).hasValue("bytes */" + SIZE);

    // The same bytes uploaded: the target's answer is kept, its cookie is not.
    String upload =
        cluster
            .submit(
                sid,
                "{\"type\":\"upload\",\"url\":\""
                    + origin.url("/put/received")
                    + "\",\"source\":{\"task\":\""
                    + tid
                    + "\"}}")
            .get("id")
            .asText();
    JsonNode sent = cluster.awaitFinal(sid, upload, FINISH);
    assertThat(sent.get("state").asText()).as("%s", sent).isEqualTo("completed");
    JsonNode answer = sent.get("response");
    assertThat(answer.get("status").asInt()).isEqualTo(201);
    assertThat(answer.at("/headers/x-received-sha256/0").asText())
        .isEqualTo(Origin.sha256Hex(SIZE, 81));
    assertThat(answer.get("headers").has("set-cookie")).isFalse();
    assertThat(answer.get("body").asText()).startsWith("received " + SIZE + " bytes");
    assertThat(answer.get("bodyEncoding").asText()).isEqualTo("utf-8");
    JsonNode completed =
        ofType(ofTask(cluster.replay(sid), upload), "transfer.task.completed").get(0);
    assertThat(completed.at("/data/response")).isEqualTo(answer);
    assertThat(completed.toString()).doesNotContain("s3cr3t");
  }

  private static HttpResponse<byte[]> get(String path, String range) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + cluster.apiPort + path))
            .header("Authorization", "Bearer " + ClusterFixture.API_KEY)
            .timeout(Duration.ofSeconds(30))
            .GET();
    if (range != null) {
      b.header("Range", range);
    }
    return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }
}
