package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.dns.AddressResolverOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.egress.EgressPolicy;
import transfer.testkit.Canary;
import transfer.testkit.Origin;

/**
 * The worker's guard on real loopback sockets: a name is resolved once and the connection goes to
 * the address that was checked. The Vert.x instance here resolves the test name to the canary, so a
 * request that let the HTTP client resolve the name again would be seen there.
 */
class EgressTest {
  private static final String NAME = "files.rebind.test";

  private Origin origin;
  private Canary canary;
  private Vertx vertx;
  private HttpClient client;

  @BeforeEach
  void start() throws Exception {
    origin = Origin.start();
    // The second answer of a rebinding resolver: same port, another loopback address.
    canary = Canary.start(origin.port(), "127.0.0.2");
    vertx =
        Vertx.vertx(
            new VertxOptions()
                .setAddressResolverOptions(
                    new AddressResolverOptions()
                        .setHostsValue(Buffer.buffer("127.0.0.2 " + NAME + "\n"))));
    client = vertx.createHttpClient();
  }

  @AfterEach
  void stop() throws Exception {
    client.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    canary.close();
    origin.close();
  }

  @Test
  void connectsToTheAddressItCheckedNotToASecondAnswer() throws Exception {
    AtomicInteger lookups = new AtomicInteger();
    Egress.Resolver rebinding =
        host ->
            new InetAddress[] {
              InetAddress.getByName(lookups.getAndIncrement() == 0 ? "127.0.0.1" : "127.0.0.2")
            };
    Egress egress =
        new Egress(
            EgressPolicy.of(List.of("127.0.0.1:" + origin.port()), EgressPolicy.DEFAULT_PORTS),
            rebinding,
            vertx);
    String url = "http://" + NAME + ":" + origin.port() + "/bytes/1000?seed=3";

    Egress.Route route = get(egress.route(url, "test-task"));
    // The body is asked for in the same chain as the response, before any of it can arrive.
    int[] status = new int[1];
    Buffer body =
        get(
            client
                .request(route.apply(new RequestOptions().setMethod(HttpMethod.GET)))
                .compose(req -> req.send())
                .compose(
                    resp -> {
                      status[0] = resp.statusCode();
                      return resp.body();
                    }));

    assertThat(status[0]).isEqualTo(200);
    assertThat(body.length()).isEqualTo(1000);
    assertThat(lookups).hasValue(1);
    assertThat(canary.connections()).isZero();
    // The origin saw the URL's name, not the address.
    assertThat(origin.requests())
        .singleElement()
        .satisfies(r -> assertThat(r.host()).isEqualTo(NAME + ":" + origin.port()));
  }

  @Test
  void aNameWithOneRefusedAnswerIsRefusedWithoutConnecting() {
    Egress egress =
        new Egress(
            EgressPolicy.of(List.of("127.0.0.1:" + origin.port()), EgressPolicy.DEFAULT_PORTS),
            host ->
                new InetAddress[] {
                  InetAddress.getByName("127.0.0.1"), InetAddress.getByName("127.0.0.2")
                },
            vertx);
    assertThatThrownBy(
            () -> get(egress.route("http://" + NAME + ":" + origin.port() + "/", "test-task")))
        .hasCauseInstanceOf(Egress.Refused.class)
        .satisfies(
            e -> {
              Egress.Refused r = (Egress.Refused) e.getCause();
              assertThat(r.error().code()).isEqualTo(ErrorCodes.BLOCKED_DESTINATION);
              assertThat(r.error().retryable()).isFalse();
              // The tenant is not told what the name resolves to inside the network.
              assertThat(r.error().message()).contains("not allowed").doesNotContain("127.0.0.2");
            });
    assertThat(canary.connections()).isZero();
    assertThat(origin.requests()).isEmpty();
  }

  @Test
  void aPublicLookingNameThatResolvesToAPrivateAddressIsRefused() throws Exception {
    Egress egress =
        new Egress(
            EgressPolicy.strict(),
            host -> new InetAddress[] {InetAddress.getByName("10.20.30.40")},
            vertx);
    assertThatThrownBy(() -> get(egress.route("https://downloads.example.com/f", "test-task")))
        .hasCauseInstanceOf(Egress.Refused.class)
        .hasMessageContaining("resolves to an address that is not allowed")
        .hasMessageNotContaining("10.20.30.40");
  }

  @Test
  void anUnknownNameIsARetryableConnectionFailure() {
    Egress egress =
        new Egress(
            EgressPolicy.strict(),
            host -> {
              throw new java.net.UnknownHostException(host);
            },
            vertx);
    assertThatThrownBy(() -> get(egress.route("https://nowhere.example.com/f", "test-task")))
        .satisfies(
            e -> {
              Egress.Refused r = (Egress.Refused) e.getCause();
              assertThat(r.error().code()).isEqualTo(ErrorCodes.CONNECTION_FAILED);
              assertThat(r.error().retryable()).isTrue();
            });
  }

  private static <T> T get(io.vertx.core.Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e;
    }
  }
}
