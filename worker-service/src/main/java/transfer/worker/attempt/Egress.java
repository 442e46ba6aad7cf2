package transfer.worker.attempt;

import io.quarkus.logging.Log;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.ProxyOptions;
import io.vertx.core.net.ProxyType;
import io.vertx.core.net.SocketAddress;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.egress.Destination;
import transfer.egress.EgressPolicy;
import transfer.egress.EgressPolicy.Verdict;
import transfer.egress.OutboundProxy;

/**
 * The SSRF guard on the worker: every request of an attempt, and every redirect hop, goes through
 * {@link #route}. A name is resolved once, here; every address it resolves to must pass the policy;
 * and the connection goes to the address that was checked ({@link RequestOptions#setServer}), never
 * to a second answer of the resolver (no DNS rebinding). The {@code Host} header and TLS name stay
 * the URL's.
 *
 * <p>Through an outbound proxy ({@link OutboundProxy}: {@code https_proxy}, {@code http_proxy},
 * {@code no_proxy}) the same checks come first. An https request then asks the proxy for a tunnel
 * to the checked address ({@code CONNECT 203.0.113.7:443}, never to the name), and TLS, with the
 * URL's name, runs through it. An http request goes to the proxy in absolute form ({@code GET
 * http://name/path}), as proxies expect: the proxy resolves the name again, so for plain http the
 * proxy's own rules must refuse internal addresses too (worker-service/DESIGN.md).
 */
public final class Egress {
  /** Name resolution, blocking; {@link InetAddress#getAllByName} outside tests. */
  @FunctionalInterface
  public interface Resolver {
    InetAddress[] resolve(String host) throws UnknownHostException;
  }

  /**
   * A checked destination: connect to {@code address} for a request to {@code url}, through {@code
   * proxy} when it is not null.
   */
  public record Route(
      String url, Destination destination, InetAddress address, ProxyOptions proxy) {
    /**
     * The request options for this route: the URL as given, the connection to the address (or the
     * tunnel to it), through the proxy if there is one.
     */
    public RequestOptions apply(RequestOptions options) {
      return options
          .setAbsoluteURI(url)
          .setServer(SocketAddress.inetSocketAddress(destination.port(), address.getHostAddress()))
          .setProxyOptions(proxy);
    }
  }

  /** Why a route was not given: the task's error, final or retryable. */
  public static final class Refused extends RuntimeException {
    private final transient TaskError error;

    Refused(TaskError error) {
      super(error.message(), null, false, false);
      this.error = error;
    }

    public TaskError error() {
      return error;
    }
  }

  private final EgressPolicy policy;
  private final Resolver resolver;
  private final Vertx vertx;
  private final OutboundProxy proxies;

  /** Vert.x's options of each proxy, made once: the same two objects for every request. */
  private final java.util.Map<OutboundProxy.Proxy, ProxyOptions> proxyOptions =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** A guard whose requests go directly to their destinations. */
  public Egress(EgressPolicy policy, Resolver resolver, Vertx vertx) {
    this(policy, resolver, vertx, OutboundProxy.none());
  }

  public Egress(EgressPolicy policy, Resolver resolver, Vertx vertx, OutboundProxy proxies) {
    this.policy = policy;
    this.resolver = resolver;
    this.vertx = vertx;
    this.proxies = proxies;
  }

  public EgressPolicy policy() {
    return policy;
  }

  /**
   * The checked route to {@code url}; fails with {@link Refused}: {@code blocked_destination}
   * (final) for a destination the policy refuses or a URL that is not http(s), {@code
   * connection_failed} (retryable) for a name that does not resolve.
   */
  public Future<Route> route(String url, String taskId) {
    Destination d;
    try {
      d = Destination.of(url);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(blocked(url, e.getMessage()));
    }
    Verdict v = policy.judge(d);
    if (v instanceof Verdict.Refuse r) {
      return Future.failedFuture(blocked(url, r.reason()));
    }
    if (v instanceof Verdict.Connect c) {
      return Future.succeededFuture(new Route(url, d, c.address(), proxyFor(d)));
    }
    boolean trusted = ((Verdict.Resolve) v).trusted();
    return vertx.executeBlocking(() -> resolveAndCheck(url, d, trusted, taskId), false);
  }

  private Route resolveAndCheck(String url, Destination d, boolean trusted, String taskId) {
    InetAddress[] answers;
    try {
      answers = resolver.resolve(d.host());
    } catch (UnknownHostException e) {
      throw new Refused(
          TaskError.of(ErrorCodes.CONNECTION_FAILED, "could not resolve host " + d.host(), true));
    }
    if (answers == null || answers.length == 0) {
      throw new Refused(
          TaskError.of(ErrorCodes.CONNECTION_FAILED, "host " + d.host() + " has no address", true));
    }
    if (!trusted) {
      // One refused answer refuses the name: a name that points at both a public and an internal
      // address is how rebinding attacks start.
      for (InetAddress a : answers) {
        Optional<String> why = policy.refusalOf(d, a);
        if (why.isPresent()) {
          // The tenant learns that the name is refused, not what it resolves to inside this
          // network; the operator reads the address and the range here.
          Log.infof("task %s: destination %s refused: %s", taskId, Urls.redacted(url), why.get());
          throw blocked(
              url,
              "'"
                  + d.host()
                  + "' resolves to an address that is not allowed (the workers' log has which;"
                  + " transfer.fetch.allowed-destinations)");
        }
      }
    }
    return new Route(url, d, answers[0], proxyFor(d));
  }

  /** The proxy options of a request to {@code d}, or null to connect directly. */
  private ProxyOptions proxyFor(Destination d) {
    return proxies
        .forDestination(d)
        .map(
            proxy ->
                proxyOptions.computeIfAbsent(
                    proxy,
                    p ->
                        new ProxyOptions()
                            .setType(ProxyType.HTTP)
                            .setHost(p.host())
                            .setPort(p.port())
                            .setUsername(p.username())
                            .setPassword(p.password())))
        .orElse(null);
  }

  private static Refused blocked(String url, String why) {
    return new Refused(
        TaskError.of(
            ErrorCodes.BLOCKED_DESTINATION,
            "the destination " + Urls.redacted(url) + " is refused: " + why,
            false));
  }
}
