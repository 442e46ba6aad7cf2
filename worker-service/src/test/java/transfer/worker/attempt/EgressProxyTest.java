package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.PemTrustOptions;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.egress.EgressPolicy;
import transfer.egress.OutboundProxy;
import transfer.testkit.ForwardProxy;
import transfer.testkit.LocalCa;
import transfer.testkit.Origin;

/**
 * The worker's guard behind an outbound proxy, on real loopback sockets: a proxy that asks for
 * credentials, an HTTP origin and an HTTPS origin (HTTP/2 by ALPN) whose certificate names the
 * test's host name. The guard checks the destination first, whatever the proxy; https goes through
 * a tunnel to the checked address, http in absolute form; no_proxy hosts go directly.
 */
class EgressProxyTest {
  private static final String NAME = "files.proxied.test";
  private static final String USER = "svc-transfer";
  private static final String PASSWORD = "pw-" + Long.toHexString(System.nanoTime());

  @TempDir Path caDir;

  private ForwardProxy proxy;
  private Origin origin;
  private Origin tlsOrigin;
  private Vertx vertx;
  private HttpClient client; // HTTPS, HTTP/2 offered, as the worker's
  private HttpClient plain; // HTTP/1.1, as the worker's for http origins

  @BeforeEach
  void start() {
    LocalCa ca = LocalCa.openOrCreate(caDir, "proxy test CA");
    proxy = ForwardProxy.start(Map.of(NAME, "127.0.0.1"), USER, PASSWORD);
    origin = Origin.start();
    tlsOrigin = Origin.startTls(0, ca.issue(List.of(NAME), Duration.ofDays(1)));
    vertx = Vertx.vertx();
    client =
        vertx.createHttpClient(
            new HttpClientOptions()
                .setProtocolVersion(HttpVersion.HTTP_2)
                .setUseAlpn(true)
                .setTrustOptions(
                    new PemTrustOptions().addCertValue(Buffer.buffer(ca.certificatePemText()))));
    plain = vertx.createHttpClient();
  }

  @AfterEach
  void stop() throws Exception {
    client.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    plain.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    tlsOrigin.close();
    origin.close();
    proxy.close();
  }

  private Egress egress(Map<String, String> env) {
    Map<String, String> all = new HashMap<>(env);
    all.putIfAbsent("HTTPS_PROXY", proxy.url(USER, PASSWORD));
    all.putIfAbsent("HTTP_PROXY", proxy.url(USER, PASSWORD));
    return new Egress(
        EgressPolicy.of(
            List.of("127.0.0.1:" + origin.port(), "127.0.0.1:" + tlsOrigin.port()),
            EgressPolicy.DEFAULT_PORTS),
        host -> new InetAddress[] {InetAddress.getByName("127.0.0.1")},
        vertx,
        OutboundProxy.fromEnvironment(all));
  }

  private static String basic(String user, String password) {
    return "Basic "
        + Base64.getEncoder()
            .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void httpsGoesThroughATunnelToTheAddressThatWasChecked() throws Exception {
    Egress egress = egress(Map.of());
    String url = tlsOrigin.url(NAME, "/bytes/100000?seed=5");

    Buffer body = get(egress.route(url, "t1").compose(this::fetch));

    assertThat(body.length()).isEqualTo(100_000);
    // The tunnel goes to the address the guard checked, never to the name (no second lookup,
    // by the proxy or anyone), with the proxy's credentials.
    assertThat(proxy.requests())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.method()).isEqualTo("CONNECT");
              assertThat(r.target()).isEqualTo("127.0.0.1:" + tlsOrigin.port());
              assertThat(r.proxyAuthorization()).isEqualTo(basic(USER, PASSWORD));
            });
    // TLS ran end to end through it, with the URL's name (its certificate names only that), and
    // HTTP/2 by ALPN.
    assertThat(tlsOrigin.requests())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.host()).isEqualTo(NAME + ":" + tlsOrigin.port());
              assertThat(r.httpVersion()).isEqualTo("HTTP_2");
            });
  }

  @Test
  void httpGoesToTheProxyInAbsoluteForm() throws Exception {
    Egress egress = egress(Map.of());
    String url = origin.url(NAME, "/bytes/5000?seed=6");

    Buffer body = get(egress.route(url, "t2").compose(this::fetch));

    assertThat(body.length()).isEqualTo(5000);
    assertThat(proxy.requests())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.method()).isEqualTo("GET");
              assertThat(r.target()).isEqualTo(url);
              assertThat(r.proxyAuthorization()).isEqualTo(basic(USER, PASSWORD));
            });
    assertThat(origin.requests())
        .singleElement()
        .satisfies(r -> assertThat(r.host()).isEqualTo(NAME + ":" + origin.port()));
  }

  @Test
  void aNoProxyHostGoesDirectly() throws Exception {
    Egress egress = egress(Map.of("NO_PROXY", "localhost,.proxied.test"));

    assertThat(
            get(egress.route(tlsOrigin.url(NAME, "/bytes/10?seed=7"), "t3").compose(this::fetch))
                .length())
        .isEqualTo(10);
    assertThat(
            get(egress.route(origin.url(NAME, "/bytes/10?seed=7"), "t3").compose(this::fetch))
                .length())
        .isEqualTo(10);
    assertThat(proxy.requests()).isEmpty();
  }

  @Test
  void aRefusedDestinationNeverReachesTheProxy() {
    Egress egress = egress(Map.of());
    // Allowed is the origins' port; 9 is neither theirs nor a public port.
    assertThatThrownBy(() -> get(egress.route("https://" + NAME + ":9/f", "t4")))
        .hasCauseInstanceOf(Egress.Refused.class)
        .satisfies(
            e ->
                assertThat(((Egress.Refused) e.getCause()).error().code())
                    .isEqualTo(ErrorCodes.BLOCKED_DESTINATION));
    assertThat(proxy.requests()).isEmpty();
    assertThat(origin.requests()).isEmpty();
  }

  @Test
  void aProxyThatRefusesTheTunnelIsARetryableConnectionFailure() throws Exception {
    Egress egress = egress(Map.of("HTTPS_PROXY", proxy.url(USER, "wrong-password")));
    String url = tlsOrigin.url(NAME, "/bytes/10?seed=8");

    Throwable failure =
        egress
            .route(url, "t5")
            .compose(this::fetch)
            .toCompletionStage()
            .handle((ok, e) -> e)
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);

    TaskError error = Failures.ofConnection(failure, Duration.ofSeconds(5));
    assertThat(error.code()).isEqualTo(ErrorCodes.CONNECTION_FAILED);
    assertThat(error.retryable()).isTrue();
    assertThat(error.message()).contains("outbound proxy").contains("407").doesNotContain("wrong");
    assertThat(proxy.requests())
        .singleElement()
        .satisfies(r -> assertThat(r.status()).isEqualTo(407));
    assertThat(tlsOrigin.requests()).isEmpty();
  }

  private Future<Buffer> fetch(Egress.Route route) {
    HttpClient c = route.destination().scheme().equals("https") ? client : plain;
    return c.request(route.apply(new RequestOptions().setMethod(HttpMethod.GET)))
        .compose(req -> req.send())
        .compose(resp -> resp.body());
  }

  private static <T> T get(Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e;
    }
  }
}
