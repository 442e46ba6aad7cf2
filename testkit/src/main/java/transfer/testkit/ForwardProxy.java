package transfer.testkit;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A forward HTTP proxy on 127.0.0.1, as a company's egress proxy (Squid and the like) behaves:
 * {@code CONNECT host:port} opens a tunnel, and a request in absolute form ({@code GET
 * http://host/path}) is forwarded, its body and the answer streamed both ways. It can ask for Basic
 * credentials (407 without them) and records every request it got ({@link #requests()}).
 *
 * <p>It reaches loopback only: a target is an address of 127.0.0.0/8 or {@code ::1}, or a name the
 * test maps to one ({@code names}); anything else is answered 403 without a connection.
 */
public final class ForwardProxy implements AutoCloseable {
  /**
   * One request the proxy got: its method, its target as sent ({@code 127.0.0.1:8443} for CONNECT,
   * the absolute URL otherwise), its {@code Proxy-Authorization} (null if none) and the status the
   * proxy answered.
   */
  public record Request(String method, String target, String proxyAuthorization, int status) {}

  private static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "proxy-connection",
          "keep-alive",
          "proxy-authorization",
          "proxy-authenticate",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade");

  private final Vertx vertx;
  private final Map<String, String> names;
  private final String expectedAuthorization;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private NetClient net;
  private HttpClient http;
  private HttpServer server;

  private ForwardProxy(Vertx vertx, Map<String, String> names, String username, String password) {
    this.vertx = vertx;
    this.names = Map.copyOf(names);
    this.expectedAuthorization =
        username == null
            ? null
            : "Basic "
                + Base64.getEncoder()
                    .encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Starts a proxy on a free port of 127.0.0.1 that resolves {@code names} (name to a loopback
   * address) and, when {@code username} is not null, asks for these Basic credentials.
   */
  public static ForwardProxy start(Map<String, String> names, String username, String password) {
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions()
                .setEventLoopPoolSize(2)
                .setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1)
                .setFileSystemOptions(
                    new FileSystemOptions()
                        .setFileCachingEnabled(false)
                        .setClassPathResolvingEnabled(false)));
    ForwardProxy proxy = new ForwardProxy(vertx, names, username, password);
    try {
      proxy.net = vertx.createNetClient();
      proxy.http =
          vertx.createHttpClient(
              new HttpClientOptions().setDecompressionSupported(false).setMaxRedirects(0));
      proxy.server =
          await(
              vertx
                  .createHttpServer(
                      new HttpServerOptions()
                          .setHost("127.0.0.1")
                          .setPort(0)
                          .setCompressionSupported(false))
                  .requestHandler(proxy::handle)
                  .listen());
      return proxy;
    } catch (RuntimeException e) {
      proxy.close();
      throw e;
    }
  }

  public int port() {
    return server.actualPort();
  }

  /** {@code http://[user:password@]127.0.0.1:<port>}, the value of an {@code https_proxy}. */
  public String url(String username, String password) {
    return "http://"
        + (username == null ? "" : username + ":" + password + "@")
        + "127.0.0.1:"
        + port();
  }

  /** Every request so far, in arrival order. */
  public List<Request> requests() {
    return List.copyOf(requests);
  }

  public void clearRequests() {
    requests.clear();
  }

  private void handle(HttpServerRequest req) {
    String auth = req.getHeader(HttpHeaders.PROXY_AUTHORIZATION);
    String target = req.uri();
    if (expectedAuthorization != null && !expectedAuthorization.equals(auth)) {
      answer(req, target, auth, 407);
      return;
    }
    if (req.method() == HttpMethod.CONNECT) {
      tunnel(req, target, auth);
    } else {
      forward(req, target, auth);
    }
  }

  private void tunnel(HttpServerRequest req, String target, String auth) {
    int colon = target.lastIndexOf(':');
    String host = colon < 0 ? target : target.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(target.substring(colon + 1));
    } catch (RuntimeException e) {
      answer(req, target, auth, 400);
      return;
    }
    String address = loopback(host);
    if (address == null) {
      answer(req, target, auth, 403);
      return;
    }
    req.pause();
    net.connect(port, address)
        .onComplete(
            upstream -> {
              if (upstream.failed()) {
                answer(req, target, auth, 502);
                return;
              }
              requests.add(new Request("CONNECT", target, auth, 200));
              NetSocket origin = upstream.result();
              req.toNetSocket()
                  .onSuccess(
                      client -> {
                        client.pipeTo(origin);
                        origin.pipeTo(client);
                      })
                  .onFailure(e -> origin.close());
            });
  }

  private void forward(HttpServerRequest req, String target, String auth) {
    URI uri;
    try {
      uri = new URI(target);
    } catch (URISyntaxException e) {
      answer(req, target, auth, 400);
      return;
    }
    if (!"http".equals(uri.getScheme()) || uri.getHost() == null) {
      answer(req, target, auth, 400);
      return;
    }
    String address = loopback(uri.getHost());
    if (address == null) {
      answer(req, target, auth, 403);
      return;
    }
    req.pause();
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    req.headers().forEach(h -> copy(headers, h.getKey(), h.getValue()));
    boolean hasBody = req.getHeader(HttpHeaders.CONTENT_LENGTH) != null || isChunked(req);
    String path = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    http.request(
            new RequestOptions()
                .setMethod(req.method())
                .setHost(address)
                .setPort(uri.getPort() == -1 ? 80 : uri.getPort())
                .setURI(path.isEmpty() ? "/" : path)
                .setHeaders(headers))
        .compose(
            out -> {
              if (req.getHeader(HttpHeaders.CONTENT_LENGTH) == null && hasBody) {
                out.setChunked(true);
              }
              return hasBody ? out.send(req) : out.send();
            })
        .onComplete(
            ar -> {
              if (ar.failed()) {
                answer(req, target, auth, 502);
                return;
              }
              var in = ar.result();
              requests.add(new Request(req.method().name(), target, auth, in.statusCode()));
              var resp = req.response().setStatusCode(in.statusCode());
              in.headers().forEach(h -> copy(resp.headers(), h.getKey(), h.getValue()));
              if (in.getHeader(HttpHeaders.CONTENT_LENGTH) == null) {
                resp.setChunked(true);
              }
              resp.send(in);
            });
  }

  private static boolean isChunked(HttpServerRequest req) {
    String te = req.getHeader(HttpHeaders.TRANSFER_ENCODING);
    return te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
  }

  private static void copy(MultiMap to, String name, String value) {
    if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
      to.add(name, value);
    }
  }

  private void answer(HttpServerRequest req, String target, String auth, int status) {
    requests.add(new Request(req.method().name(), target, auth, status));
    var resp = req.response().setStatusCode(status);
    if (status == 407) {
      resp.putHeader(HttpHeaders.PROXY_AUTHENTICATE, "Basic realm=\"test proxy\"");
    }
    resp.putHeader(HttpHeaders.CONNECTION, "close").end();
  }

  /** The loopback address {@code host} stands for, or null when it is not one. */
  private String loopback(String host) {
    String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    String mapped = names.get(h.toLowerCase(Locale.ROOT));
    String candidate = mapped != null ? mapped : h;
    InetAddress a;
    try {
      if (candidate.indexOf(':') >= 0) {
        a = InetAddress.getByName("[" + candidate + "]"); // a literal or an error, never a lookup
      } else if (candidate.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
        a = InetAddress.getByName(candidate);
      } else {
        return null; // a name it does not know: never looked up
      }
    } catch (java.net.UnknownHostException e) {
      return null;
    }
    return a.isLoopbackAddress() ? a.getHostAddress() : null;
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // a proxy that does not close cleanly fails nothing; its loops are gone with the JVM
    }
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the proxy did not start", e);
    }
  }
}
