package transfer.deploy.chaos;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import transfer.testkit.Origin;

/**
 * A reverse proxy on 127.0.0.1 in front of the testkit {@link Origin} that misbehaves once, on cue,
 * where the origin's URL-scripted faults would misbehave on every attempt: answer the next request
 * with a 429 or 503, cut or stall the next body, cut every running body right now, flip a byte in
 * the answer to a {@code Range} request, or serve another version of the content under the same
 * URL.
 *
 * <p>The last one is why this exists: the origin's content version is the {@code v} query
 * parameter, so an unchanged URL always names the same content, and fault 9 of docs/TESTING.md
 * ("content changes between attempts") cannot be staged with the origin alone. The proxy appends
 * {@code &v=N} to what it forwards, and N can change while a task runs. (The testkit's origin could
 * offer this itself, e.g. a mutable version per path; until it does, this is the stand-in.)
 *
 * <p>Everything is keyed by the URL's {@code seed} parameter, which each test picks uniquely, so a
 * stray request of an earlier test never eats a cue meant for this one. Requests pass through to
 * the origin, which still logs each with its {@code Range}, {@code If-Range} and bytes.
 */
final class MeddlingProxy implements AutoCloseable {

  /** What to do to one response. */
  sealed interface Meddle {}

  /** Forward unchanged. */
  record Pass() implements Meddle {}

  /** Answer this status (and {@code Retry-After}, if not null) without asking the origin. */
  record Answer(int status, String retryAfter) implements Meddle {}

  /** Forward the first {@code bytes} of the body, then close the connection. */
  record CutAfter(long bytes) implements Meddle {}

  /** Forward the first {@code bytes} of the body, then send nothing more (connection kept). */
  record StallAfter(long bytes) implements Meddle {}

  /** Forward the body with the byte at this offset of the body inverted. */
  record FlipByteAt(long offset) implements Meddle {}

  /** Ask the origin only after this delay: the client waits for the status line meanwhile. */
  record DelayAnswer(Duration delay) implements Meddle {}

  /** One request as the proxy saw it and what it did. */
  record Seen(Instant at, String query, String range, String ifRange, String meddle) {}

  private final Vertx vertx;
  private final Origin origin;
  private final HttpClient client;
  private volatile int port;
  private final Map<Long, Deque<Meddle>> cues = new ConcurrentHashMap<>();
  private final Map<Long, Meddle> onRange = new ConcurrentHashMap<>();
  private final Map<Long, Integer> versions = new ConcurrentHashMap<>();
  private final Map<Long, Set<HttpServerRequest>> inFlight = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Map.Entry<Long, Seen>> seen = new ConcurrentLinkedQueue<>();

  private MeddlingProxy(Vertx vertx, Origin origin) {
    this.vertx = vertx;
    this.origin = origin;
    this.client =
        vertx
            .httpClientBuilder()
            .with(new HttpClientOptions().setKeepAlive(true).setDecompressionSupported(false))
            .with(new PoolOptions().setHttp1MaxSize(64))
            .build();
  }

  static MeddlingProxy start(Origin origin) {
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(1));
    MeddlingProxy proxy = new MeddlingProxy(vertx, origin);
    HttpServer server =
        await(
            vertx
                .createHttpServer(
                    new HttpServerOptions()
                        .setHost("127.0.0.1")
                        .setPort(0)
                        .setHttp2ClearTextEnabled(false)
                        .setCompressionSupported(false))
                .requestHandler(proxy::handle)
                .listen());
    proxy.port = server.actualPort();
    return proxy;
  }

  int port() {
    return port;
  }

  String url(String pathAndQuery) {
    return "http://127.0.0.1:" + port + pathAndQuery;
  }

  /** The next requests for this seed, one cue each, in order; after them, requests pass. */
  void cue(long seed, Meddle... next) {
    cues.computeIfAbsent(seed, s -> new ArrayDeque<>()).addAll(List.of(next));
  }

  /** Applied to every request for this seed that carries {@code Range} (a resume). */
  void onRangeRequests(long seed, Meddle meddle) {
    onRange.put(seed, meddle);
  }

  /** From now on the content of this seed's URLs is version {@code v} (the origin's default 1). */
  void serveVersion(long seed, int v) {
    versions.put(seed, v);
  }

  /** Closes every connection that is sending a body for this seed now. */
  void cutNow(long seed) {
    Set<HttpServerRequest> running = inFlight.getOrDefault(seed, Set.of());
    for (HttpServerRequest r : List.copyOf(running)) {
      vertx.runOnContext(v -> r.connection().close());
    }
  }

  List<Seen> seen(long seed) {
    return seen.stream().filter(e -> e.getKey() == seed).map(Map.Entry::getValue).toList();
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // best effort at the end of the test JVM
    }
  }

  // ------------------------------------------------------------------------------------------

  private Meddle next(long seed, boolean range) {
    Deque<Meddle> q = cues.get(seed);
    if (q != null) {
      synchronized (q) {
        Meddle m = q.poll();
        if (m != null) {
          return m;
        }
      }
    }
    if (range && onRange.containsKey(seed)) {
      return onRange.get(seed);
    }
    return new Pass();
  }

  private void handle(HttpServerRequest req) {
    long seed = ChaosCluster.seedOf(req.query());
    String range = req.getHeader("Range");
    Meddle meddle = next(seed, range != null);
    seen.add(
        Map.entry(
            seed,
            new Seen(
                Instant.now(), req.query(), range, req.getHeader("If-Range"), meddle.toString())));
    HttpServerResponse resp = req.response();
    resp.exceptionHandler(t -> {});
    if (meddle instanceof Answer a) {
      resp.setStatusCode(a.status());
      if (a.retryAfter() != null) {
        resp.putHeader("Retry-After", a.retryAfter());
      }
      resp.putHeader("Content-Type", "text/plain");
      resp.end("scripted " + a.status() + "\n");
      return;
    }
    String query = req.query() == null ? "" : req.query();
    Integer v = versions.get(seed);
    if (v != null) {
      query = query.replaceAll("(^|&)v=\\d+", "") + "&v=" + v;
    }
    RequestOptions o =
        new RequestOptions()
            .setMethod(req.method())
            .setHost("127.0.0.1")
            .setPort(origin.port())
            .setURI(req.path() + (query.isEmpty() ? "" : "?" + query))
            .setIdleTimeout(0);
    for (String h : List.of("Range", "If-Range", "Accept-Encoding", "User-Agent")) {
      String value = req.getHeader(h);
      if (value != null) {
        o.putHeader(h, value);
      }
    }
    Future<Void> ready = Future.succeededFuture();
    if (meddle instanceof DelayAnswer d) {
      io.vertx.core.Promise<Void> later = io.vertx.core.Promise.promise();
      vertx.setTimer(d.delay().toMillis(), t -> later.complete());
      ready = later.future();
    }
    ready
        .compose(x -> client.request(o))
        .compose(r -> r.send())
        .onSuccess(up -> relay(seed, req, up, meddle))
        .onFailure(
            e -> {
              if (!resp.ended() && !resp.closed()) {
                resp.setStatusCode(502).end("origin failed: " + e.getMessage() + "\n");
              }
            });
  }

  private void relay(long seed, HttpServerRequest req, HttpClientResponse up, Meddle meddle) {
    HttpServerResponse resp = req.response();
    if (resp.closed()) {
      up.request().reset();
      return;
    }
    resp.setStatusCode(up.statusCode());
    for (String h :
        List.of(
            "Content-Type",
            "Content-Length",
            "Content-Range",
            "ETag",
            "Last-Modified",
            "Accept-Ranges",
            "Retry-After",
            "Location")) {
      String value = up.getHeader(h);
      if (value != null) {
        resp.putHeader(h, value);
      }
    }
    if (up.getHeader("Content-Length") == null) {
      resp.setChunked(true);
    }
    Set<HttpServerRequest> running =
        inFlight.computeIfAbsent(seed, s -> ConcurrentHashMap.newKeySet());
    running.add(req);
    resp.closeHandler(
        x -> {
          running.remove(req);
          up.request().reset();
        });
    long limit =
        meddle instanceof CutAfter c
            ? c.bytes()
            : meddle instanceof StallAfter s ? s.bytes() : Long.MAX_VALUE;
    long flipAt = meddle instanceof FlipByteAt f ? f.offset() : -1;
    long[] position = {0};
    boolean[] stopped = {false};
    up.exceptionHandler(
        e -> {
          if (!stopped[0]) { // after a scripted stop, the reset of the origin's side is ours
            running.remove(req);
            req.connection().close();
          }
        });
    up.handler(
        buf -> {
          if (stopped[0]) {
            return;
          }
          long from = position[0];
          long to = from + buf.length();
          Buffer out = buf;
          if (flipAt >= from && flipAt < to) {
            out = buf.copy();
            int i = (int) (flipAt - from);
            out.setByte(i, (byte) ~out.getByte(i));
          }
          if (to >= limit) {
            out = out.slice(0, (int) (limit - from));
            stopped[0] = true;
          }
          position[0] = from + out.length();
          Future<Void> written = resp.write(out);
          if (stopped[0]) {
            up.request().reset();
            if (meddle instanceof CutAfter) {
              written.onComplete(x -> req.connection().close());
            } else {
              // A stall: the connection stays open and silent until the client gives up (or, as a
              // backstop, two minutes pass).
              long timer = vertx.setTimer(120_000, t -> req.connection().close());
              resp.closeHandler(
                  x -> {
                    vertx.cancelTimer(timer);
                    running.remove(req);
                  });
            }
            return;
          }
          if (resp.writeQueueFull()) {
            up.pause();
            resp.drainHandler(x -> up.resume());
          }
        });
    up.endHandler(
        x -> {
          if (!stopped[0]) {
            running.remove(req);
            resp.end();
          }
        });
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("proxy failed to start", e);
    }
  }
}
