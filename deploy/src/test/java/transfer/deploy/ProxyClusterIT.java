package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.testkit.ForwardProxy;
import transfer.testkit.Origin;

/**
 * The workers behind an outbound proxy, as a company's network has them: the cluster's workers run
 * with {@code https_proxy}, {@code http_proxy} (both with credentials) and {@code no_proxy} ({@link
 * ClusterFixture#proxy}), and URLs naming {@link ClusterFixture#PROXIED_NAME} go through the proxy.
 * A download over HTTPS goes through a tunnel to the address the worker checked, an upload and a
 * download over plain HTTP in absolute form; a destination the rules refuse never reaches the
 * proxy; the proxy's password is in no log.
 */
class ProxyClusterIT extends ClusterTest {
  private static final String NAME = ClusterFixture.PROXIED_NAME;

  @Test
  void httpsDownloadsGoThroughATunnelToTheCheckedAddress() throws Exception {
    cluster.proxy.clearRequests();
    try (Origin tls =
        Origin.startTls(
            cluster.tlsOriginPort, cluster.originCa.issue(List.of(NAME), Duration.ofDays(1)))) {
      String sid = cluster.newSession("proxy", "{}");
      long size = 2_000_000;
      String tid = download(sid, tls.url(NAME, "/bytes/" + size + "?seed=41"));
      JsonNode done = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
      assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
      assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 41));

      assertThat(cluster.proxy.requests())
          .isNotEmpty()
          .allSatisfy(
              r -> {
                assertThat(r.method()).isEqualTo("CONNECT");
                // The address the worker resolved and checked, not the name.
                assertThat(r.target()).isEqualTo("127.0.0.1:" + cluster.tlsOriginPort);
                assertThat(r.proxyAuthorization()).startsWith("Basic ");
                assertThat(r.status()).isEqualTo(200);
              });
      // End-to-end TLS through the tunnel: the origin saw the name, over HTTP/2.
      assertThat(tls.requests())
          .singleElement()
          .satisfies(
              r -> {
                assertThat(r.host()).isEqualTo(NAME + ":" + cluster.tlsOriginPort);
                assertThat(r.httpVersion()).isEqualTo("HTTP_2");
              });
    }
  }

  @Test
  void plainHttpDownloadsAndUploadsGoToTheProxyInAbsoluteForm() throws Exception {
    cluster.proxy.clearRequests();
    origin.clearRequests();
    String sid = cluster.newSession("proxy", "{}");
    long size = 300_000;
    String url = origin.url(NAME, "/bytes/" + size + "?seed=42");
    String download = download(sid, url);
    JsonNode done = cluster.awaitFinal(sid, download, Duration.ofMinutes(1));
    assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");

    String target = origin.url(NAME, "/put/proxied-upload");
    String upload =
        cluster
            .submit(
                sid,
                "{\"type\":\"upload\",\"url\":\""
                    + target
                    + "\",\"method\":\"PUT\",\"source\":{\"task\":\""
                    + download
                    + "\"}}")
            .get("id")
            .asText();
    JsonNode sent = cluster.awaitFinal(sid, upload, Duration.ofMinutes(1));
    assertThat(sent.get("state").asText()).as("%s", sent).isEqualTo("completed");

    assertThat(cluster.proxy.requests())
        .extracting(ForwardProxy.Request::method, ForwardProxy.Request::target)
        .contains(
            org.assertj.core.groups.Tuple.tuple("GET", url),
            org.assertj.core.groups.Tuple.tuple("PUT", target));
    assertThat(origin.requests())
        .anySatisfy(
            r -> {
              assertThat(r.path()).isEqualTo("/put/proxied-upload");
              assertThat(r.host()).isEqualTo(NAME + ":" + cluster.originPort);
              assertThat(r.bytesReceived()).isEqualTo(size);
              assertThat(r.receivedSha256()).isEqualTo(Origin.sha256Hex(size, 42));
            });
  }

  @Test
  void aRefusedDestinationNeverReachesTheProxyAndNoProxyHostsGoDirectly() throws Exception {
    cluster.proxy.clearRequests();
    String sid = cluster.newSession("proxy", "{}");
    // The name resolves to 127.0.0.2, which no rule allows: refused by the worker (the API does
    // not resolve names), before any proxy is asked, for plain http and https alike.
    for (String scheme : List.of("http", "https")) {
      String refused =
          download(
              sid,
              scheme
                  + "://"
                  + ClusterFixture.PROXIED_PRIVATE_NAME
                  + ":"
                  + cluster.originPort
                  + "/bytes/10");
      JsonNode task = cluster.awaitFinal(sid, refused, Duration.ofMinutes(1));
      assertThat(task.at("/error/code").asText()).as("%s", task).isEqualTo("blocked_destination");
    }
    // 127.0.0.1 is in no_proxy: straight to the origin.
    String direct = download(sid, origin.url("/bytes/1000?seed=43"));
    assertThat(cluster.awaitFinal(sid, direct, Duration.ofMinutes(1)).get("state").asText())
        .isEqualTo("completed");

    assertThat(cluster.proxy.requests()).isEmpty();
    for (ServiceProcess w : cluster.workers) {
      assertThat(Files.readString(w.logFile()))
          .as("the proxy's password in %s's log", w.name())
          .doesNotContain(ClusterFixture.PROXY_PASSWORD)
          .contains(
              "Outbound proxy: https:// through http://" + ClusterFixture.PROXY_USER + ":***@");
    }
  }

  private static String download(String sid, String url) throws Exception {
    return cluster
        .submit(sid, "{\"type\":\"download\",\"url\":\"" + url + "\"}")
        .get("id")
        .asText();
  }
}
