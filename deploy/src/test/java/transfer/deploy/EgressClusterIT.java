package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.testkit.Canary;
import transfer.testkit.Origin;

/**
 * The SSRF guard end to end. The cluster may reach exactly one destination, the origin's port on
 * 127.0.0.1 ({@code transfer.fetch.allowed-destinations}); every refused destination below is a
 * loopback spelling aimed at a canary listener, which must see no connection at all. The workers
 * resolve names through a hosts file ({@link ClusterFixture#hostsFile}), so a public-looking name
 * can point at a loopback canary. Non-loopback ranges are judged in {@code EgressPolicyTest} only:
 * a test never sends traffic off the machine.
 */
class EgressClusterIT extends ClusterTest {
  /** Another port on every loopback address. */
  private static Canary otherPort;

  /** The origin's own port on the loopback addresses the origin does not listen on. */
  private static Canary originPortElsewhere;

  private String sid;

  @BeforeAll
  static void startCanaries() throws Exception {
    otherPort = Canary.start(0, "127.0.0.1", "127.0.0.2", "::1");
    originPortElsewhere = Canary.start(origin.port(), "127.0.0.2", "::1");
  }

  @AfterAll
  static void stopCanaries() {
    otherPort.close();
    originPortElsewhere.close();
  }

  @AfterEach
  void noCanaryWasReached() {
    assertThat(otherPort.connections()).as("connections to the canary on another port").isZero();
    assertThat(originPortElsewhere.connections())
        .as("connections to the canary on the origin's port of 127.0.0.2 / ::1")
        .isZero();
  }

  /** Literal addresses in every spelling, and loopback names: 400 at submit, nothing stored. */
  @Test
  void refusedDestinationsAre400AtSubmitAndNothingIsStored() throws Exception {
    sid = cluster.newSession("egress", "{}");
    int c = otherPort.port();
    int o = origin.port();
    List<String> refused =
        List.of(
            "http://127.0.0.1:" + c + "/",
            "http://127.1:" + c + "/",
            "http://0x7f000001:" + c + "/",
            "http://2130706433:" + c + "/",
            "http://017700000001:" + c + "/",
            "http://0.0.0.0:" + c + "/",
            "http://localhost:" + c + "/",
            "http://localhost:" + o + "/",
            "http://[::1]:" + c + "/",
            "http://[::1]:" + o + "/",
            "http://[::ffff:127.0.0.1]:" + c + "/",
            "http://[::ffff:7f00:1]:" + c + "/",
            "http://127.0.0.2:" + o + "/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/latest/meta-data/",
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://192.168.0.1/",
            "http://100.64.0.1/",
            "http://[fc00::1]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::a00:1]/",
            "https://93.184.215.14:22/");
    List<String> accepted = new ArrayList<>();
    for (String url : refused) {
      for (String type : List.of("download", "upload")) {
        String body =
            type.equals("download")
                ? ClusterFixture.json("type", "download", "url", url)
                : "{\"type\":\"upload\",\"url\":\""
                    + url
                    + "\",\"source\":{\"object\":\"nothing-staged\"}}";
        ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
        if (a.status() != 400
            || !a.contentType().startsWith("application/problem+json")
            || !a.body().toString().contains("\"field\":\"url\"")
            || !a.body().toString().contains("blocked destination")) {
          accepted.add(type + " " + url + " -> " + a.status() + " " + a.body());
        }
      }
    }
    assertThat(accepted).as("answers that were not a 400 naming url").isEmpty();
    ApiClient.Answer tasks = cluster.call("GET", "/v1/sessions/" + sid + "/tasks", null);
    assertThat(tasks.body().get("tasks")).isEmpty();
  }

  @Test
  void aPublicLookingNameThatResolvesToLoopbackFailsBlockedDestination() throws Exception {
    sid = cluster.newSession("egress", "{}");
    JsonNode task =
        finalState(
            "http://" + ClusterFixture.PRIVATE_NAME + ":" + origin.port() + "/bytes/100?seed=1");
    assertThat(task.at("/error/code").asText()).isEqualTo("blocked_destination");
    // What the name resolves to is the operator's to read (the worker's log), not the tenant's.
    assertThat(task.at("/error/message").asText())
        .contains("not allowed")
        .doesNotContain("127.0.0.2");
    assertThat(task.get("attempt").asInt()).as("refused, not retried").isEqualTo(1);
  }

  /** Every redirect hop is judged again: from the allowed origin to each refused spelling. */
  @Test
  void redirectsToRefusedDestinationsFailBlockedDestination() throws Exception {
    sid = cluster.newSession("egress", "{}");
    int c = otherPort.port();
    int o = origin.port();
    List<String> targets =
        List.of(
            "http://127.0.0.1:" + c + "/bytes/10",
            "http://127.1:" + c + "/bytes/10",
            "http://0x7f000001:" + c + "/bytes/10",
            "http://2130706433:" + c + "/bytes/10",
            "http://[::1]:" + o + "/bytes/10",
            "http://127.0.0.2:" + o + "/bytes/10",
            "http://localhost:" + c + "/bytes/10",
            "http://" + ClusterFixture.PRIVATE_NAME + ":" + o + "/bytes/10",
            "file:///etc/passwd",
            "gopher://127.0.0.1:" + c + "/");
    List<String> tids = new ArrayList<>();
    for (String target : targets) {
      tids.add(submit(redirectTo(target)));
    }
    for (int i = 0; i < tids.size(); i++) {
      JsonNode t = cluster.awaitFinal(sid, tids.get(i), Duration.ofSeconds(60));
      assertThat(t.get("state").asText())
          .as("redirect to %s: %s", targets.get(i), t)
          .isEqualTo("failed");
      assertThat(t.at("/error/code").asText())
          .as("redirect to %s", targets.get(i))
          .isEqualTo("blocked_destination");
    }
  }

  /**
   * An allowed hop under another name works; the name resolves to the checked address; the caller's
   * Authorization goes to the task's origin only, never across a redirect.
   */
  @Test
  void allowedRedirectsAreFollowedAndCredentialsStayWithTheirOrigin() throws Exception {
    sid = cluster.newSession("egress", "{}");
    String mark = UUID.randomUUID().toString();
    String path = "/bytes/5000?seed=77&u=" + mark;
    String named = "http://" + ClusterFixture.ORIGIN_NAME + ":" + origin.port() + path;
    String first = redirectTo(named);
    String tid =
        cluster
            .submit(
                sid,
                ClusterFixture.json(
                    "type",
                    "download",
                    "url",
                    first,
                    "headers",
                    java.util.Map.of("Authorization", "Bearer only-for-the-first-hop")))
            .get("id")
            .asText();
    JsonNode t = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
    assertThat(t.get("state").asText()).as("%s", t).isEqualTo("completed");
    assertThat(t.get("sha256").asText()).isEqualTo(Origin.sha256Hex(5000, 77));

    List<Origin.RequestRecord> seen =
        origin.requests().stream()
            .filter(r -> r.query() != null && r.query().contains(mark))
            .toList();
    Origin.RequestRecord hop1 =
        seen.stream().filter(r -> r.query().contains("redirect=")).findFirst().orElseThrow();
    Origin.RequestRecord hop2 =
        seen.stream().filter(r -> !r.query().contains("redirect=")).findFirst().orElseThrow();
    assertThat(hop1.authorization()).isEqualTo("Bearer only-for-the-first-hop");
    assertThat(hop2.host()).isEqualTo(ClusterFixture.ORIGIN_NAME + ":" + origin.port());
    assertThat(hop2.authorization()).as("credentials across origins").isNull();
  }

  @Test
  void moreRedirectsThanAllowedFailTooManyRedirects() throws Exception {
    sid = cluster.newSession("egress", "{}");
    String url = origin.url("/bytes/10?seed=5");
    for (int i = 0; i < 6; i++) { // the default limit is 5
      url = redirectTo(url);
    }
    JsonNode t = finalState(url);
    assertThat(t.at("/error/code").asText()).isEqualTo("too_many_redirects");
  }

  /** A body larger than the task announced is cut: at once when announced, else mid-body. */
  @Test
  void aBodyLargerThanExpectedFailsSizeLimitExceeded() throws Exception {
    sid = cluster.newSession("egress", "{}");
    long size = 8L << 20;
    for (String extra : List.of("", "&chunked=true")) {
      String path = "/bytes/" + size + "?seed=" + UUID.randomUUID().hashCode() + extra;
      String tid =
          cluster
              .submit(
                  sid,
                  ClusterFixture.json(
                      "type", "download", "url", origin.url(path), "expectedBytes", 1000))
              .get("id")
              .asText();
      JsonNode t = cluster.awaitFinal(sid, tid, Duration.ofSeconds(60));
      assertThat(t.get("state").asText()).as("%s: %s", extra, t).isEqualTo("failed");
      assertThat(t.at("/error/code").asText()).isEqualTo("size_limit_exceeded");
      assertThat(t.get("attempt").asInt()).isEqualTo(1);
      assertThat(t.get("location").isNull() || t.get("location").isMissingNode()).isTrue();
    }
  }

  /** Bodies are stored as sent: a Content-Encoding label is not undone. */
  @Test
  void contentEncodingIsNeverDecoded() throws Exception {
    sid = cluster.newSession("egress", "{}");
    JsonNode t = finalState(origin.url("/bytes/4096?seed=9&contentEncoding=gzip"));
    assertThat(t.get("state").asText()).as("%s", t).isEqualTo("completed");
    assertThat(t.get("sha256").asText()).isEqualTo(Origin.sha256Hex(4096, 9));
  }

  private String redirectTo(String target) {
    return origin.url(
        "/bytes/1?seed=1&u="
            + UUID.randomUUID()
            + "&redirect="
            + URLEncoder.encode(target, StandardCharsets.UTF_8));
  }

  private String submit(String url) throws Exception {
    return cluster
        .submit(sid, ClusterFixture.json("type", "download", "url", url))
        .get("id")
        .asText();
  }

  private JsonNode finalState(String url) throws Exception {
    return cluster.awaitFinal(sid, submit(url), Duration.ofSeconds(60));
  }
}
