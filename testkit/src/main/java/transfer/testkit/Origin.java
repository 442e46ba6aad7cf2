package transfer.testkit;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A scriptable HTTP origin on 127.0.0.1 serving deterministic bytes. Everything about a response is
 * scripted by the URL, so a worker in another JVM that fetches the URL gets the same behaviour as a
 * client in the test.
 *
 * <p>{@code GET|HEAD /bytes/{size}?seed=S[&v=V]} serves {@code size} bytes that depend only on
 * (seed, version, offset), with a strong ETag {@code "S-size-vV"}, Last-Modified, Accept-Ranges,
 * single {@code Range} requests (206, 416) and {@code If-Range}. Fault parameters: {@code
 * status=NNN}, {@code retryAfter=secs}, {@code cutAfter=N}, {@code stallAfter=N}, {@code
 * rate=bytesPerSecond}, {@code ignoreRange=true}, {@code lieLength=N}, {@code redirect=<url-encoded
 * target>}, {@code chunked=true}, {@code acceptRanges=<value>}, {@code contentEncoding=<label>}
 * (the header only; the bytes are not encoded), {@code contentType=<type>} (instead of
 * application/octet-stream), {@code fileName=<name>} (a {@code Content-Disposition} suggesting it).
 * Each request's {@code Host} and {@code Authorization} are recorded.
 *
 * <p>{@code PUT|POST <any path>} is an upload target: it reads the whole body, recording how many
 * bytes arrived and their SHA-256 ({@link RequestRecord#bytesReceived()}, {@link
 * RequestRecord#receivedSha256()}), then answers 201 with {@code X-Received-Bytes} and {@code
 * X-Received-SHA256}. Fault parameters: {@code status=NNN} and {@code redirect=<target>} (answered
 * once the body is read, so the client has sent all of it), {@code retryAfter=secs}, {@code
 * cutAfter=N} (close the connection once N body bytes arrived), {@code stallAfter=N} (stop reading
 * after N bytes; the connection closes after 5 minutes) and {@code rate=bytesPerSecond} (read no
 * faster).
 *
 * <p>For either direction, {@code faultTimes=K} applies {@code status}, {@code retryAfter}, {@code
 * redirect}, {@code cutAfter}, {@code stallAfter} and {@code lieLength} to the first K requests
 * with this exact path and query only; later ones are answered as if those were absent ("fails
 * twice, then works"). The count lives as long as the origin; give each test its own URL.
 *
 * <p>Bodies are generated while they are sent, at the pace the socket accepts them, and received
 * bodies are hashed as they arrive: nothing is held in memory beyond a write queue or one received
 * buffer, so multi-GiB bodies are fine.
 */
public final class Origin implements AutoCloseable {

  /**
   * One request as the origin saw and answered it. {@code status} is 0 if it never answered. For a
   * request with a body (an upload): {@code bytesReceived} of it arrived, and {@code
   * receivedSha256} is their SHA-256 (lower-case hex), set once the origin stopped receiving (body
   * complete, connection cut or closed); null while it still receives, or for a request without a
   * body. {@code headerNames}: the names of every request header, in lower case. {@code
   * httpVersion}: {@code HTTP_1_1}, or {@code HTTP_2} when a TLS client chose it (ALPN).
   */
  public record RequestRecord(
      String method,
      String path,
      String query,
      String range,
      String ifRange,
      int status,
      long bytesSent,
      Instant at,
      long bytesReceived,
      String receivedSha256,
      String host,
      String authorization,
      java.util.Set<String> headerNames,
      String httpVersion) {}

  private static final Logger LOG = LoggerFactory.getLogger(Origin.class);

  private static final Pattern BYTES_PATH = Pattern.compile("/bytes/(\\d+)");
  private static final Instant BASE_LAST_MODIFIED = Instant.parse("2024-01-01T00:00:00Z");
  private static final DateTimeFormatter HTTP_DATE =
      DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US)
          .withZone(ZoneOffset.UTC);
  private static final Duration STALL_LIMIT = Duration.ofMinutes(5);
  // Netty's default high-water mark is 64 KiB, which would wake the generator for every block.
  private static final int WRITE_QUEUE_BYTES = 1024 * 1024;
  // One server instance per event loop so that parallel connections use both cores.
  private static final int EVENT_LOOPS = Math.max(2, Runtime.getRuntime().availableProcessors());

  private static final ConcurrentMap<ShaKey, FutureTask<String>> SHA_CACHE =
      new ConcurrentHashMap<>();

  private record ShaKey(long size, long seed, int version) {}

  private record Span(long from, long to) {}

  private static final Span UNSATISFIABLE = new Span(-1, -1);

  private enum Ending {
    COMPLETE,
    CLOSE,
    STALL
  }

  private final Vertx vertx;
  private final ConcurrentLinkedQueue<Exchange> exchanges = new ConcurrentLinkedQueue<>();

  /** Requests seen per exact path and query, for {@code faultTimes}. */
  private final ConcurrentMap<String, AtomicLong> seen = new ConcurrentHashMap<>();

  private volatile int port;
  private volatile String scheme = "http";

  private Origin(Vertx vertx) {
    this.vertx = vertx;
  }

  /** Starts an origin on a free port of 127.0.0.1. */
  public static Origin start() {
    return start(0);
  }

  /**
   * Starts an origin on the given port of 127.0.0.1 (0 = a free one); a fixed port lets a test
   * bring an origin "back" after closing it.
   */
  public static Origin start(int port) {
    return start("127.0.0.1", port);
  }

  /**
   * Starts an origin on the given address: for clients in containers, the address of their
   * network's bridge on this machine (tests connect to loopback only; this is for containers).
   */
  public static Origin start(String host, int port) {
    return start(host, port, null);
  }

  /**
   * Starts an origin that serves HTTPS only, on the given port of 127.0.0.1 (0 = a free one), with
   * this certificate (and its chain) and key: {@link LocalCa} issues good and bad ones. {@link
   * #url} then answers {@code https://127.0.0.1:<port>…}.
   */
  public static Origin startTls(int port, LocalCa.Issued certificate) {
    return start("127.0.0.1", port, certificate, null);
  }

  /**
   * As {@link #startTls(int, LocalCa.Issued)}, and every client must present a certificate that
   * {@code clientAuthority} signed (mutual TLS); a handshake without one fails.
   */
  public static Origin startTls(int port, LocalCa.Issued certificate, LocalCa clientAuthority) {
    return start("127.0.0.1", port, certificate, clientAuthority);
  }

  private static Origin start(String host, int port, LocalCa.Issued tls) {
    return start(host, port, tls, null);
  }

  private static Origin start(String host, int port, LocalCa.Issued tls, LocalCa clientCa) {
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions()
                .setEventLoopPoolSize(EVENT_LOOPS)
                .setWorkerPoolSize(2)
                .setInternalBlockingPoolSize(2)
                // Otherwise Vert.x creates a file cache directory it never needs here.
                .setFileSystemOptions(
                    new FileSystemOptions()
                        .setFileCachingEnabled(false)
                        .setClassPathResolvingEnabled(false)));
    Origin origin = new Origin(vertx);
    origin.scheme = tls == null ? "http" : "https";
    try {
      // Servers on the same host and port share the listening socket and take turns with the
      // accepted connections; a negative port means "one random port shared by all of them".
      int shared = port == 0 ? -1 : port;
      int actual = 0;
      for (int i = 0; i < EVENT_LOOPS; i++) {
        HttpServer server =
            await(
                vertx
                    .createHttpServer(
                        new HttpServerOptions()
                            .setHost(host)
                            .setPort(shared)
                            .setReuseAddress(true)
                            // Keep every client on HTTP/1.1: the faults are connection-level.
                            .setHttp2ClearTextEnabled(false)
                            .setCompressionSupported(false)
                            .setSsl(tls != null)
                            // Over TLS, HTTP/2 for clients that offer it (ALPN), else HTTP/1.1.
                            .setUseAlpn(tls != null)
                            .setClientAuth(clientCa == null ? ClientAuth.NONE : ClientAuth.REQUIRED)
                            .setTrustOptions(
                                clientCa == null
                                    ? null
                                    : new PemTrustOptions()
                                        .addCertValue(Buffer.buffer(clientCa.certificatePemText())))
                            .setKeyCertOptions(
                                tls == null
                                    ? null
                                    : new PemKeyCertOptions()
                                        .setKeyValue(Buffer.buffer(tls.keyPem()))
                                        .setCertValue(Buffer.buffer(tls.chainPem()))))
                    .requestHandler(origin::handle)
                    .listen());
        actual = server.actualPort();
      }
      origin.port = actual;
      return origin;
    } catch (RuntimeException e) {
      origin.close();
      throw e;
    }
  }

  public int port() {
    return port;
  }

  /** {@code "http://127.0.0.1:<port>" + pathAndQuery} ({@code https} when it serves TLS). */
  public String url(String pathAndQuery) {
    return url("127.0.0.1", pathAndQuery);
  }

  /** The same, under another name of this machine (one its clients resolve to 127.0.0.1). */
  public String url(String host, String pathAndQuery) {
    return scheme + "://" + host + ":" + port + pathAndQuery;
  }

  /** A snapshot of every request received so far, in arrival order. */
  public List<RequestRecord> requests() {
    return exchanges.stream().map(Exchange::snapshot).toList();
  }

  public void clearRequests() {
    exchanges.clear();
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("origin did not close cleanly", e);
    }
  }

  /** The strong ETag served for {@code /bytes/size?seed=seed&v=version}, quotes included. */
  public static String etag(long size, long seed, int version) {
    return "\"" + seed + "-" + size + "-v" + version + "\"";
  }

  /** SHA-256 (lower-case hex) of {@code /bytes/size?seed=seed}. */
  public static String sha256Hex(long size, long seed) {
    return sha256Hex(size, seed, 1);
  }

  /**
   * SHA-256 (lower-case hex) of {@code /bytes/size?seed=seed&v=version}. Cached, and computed once
   * even when several threads ask at the same time, since 2 GiB takes a few seconds.
   */
  public static String sha256Hex(long size, long seed, int version) {
    FutureTask<String> task =
        SHA_CACHE.computeIfAbsent(
            new ShaKey(size, seed, version),
            k -> new FutureTask<>(() -> computeSha256(size, seed, version)));
    task.run(); // no-op when another thread already runs or ran it
    try {
      return task.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  private static String computeSha256(long size, long seed, int version) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] block = new byte[Content.BLOCK];
    for (long pos = 0, index = 0; pos < size; pos += Content.BLOCK, index++) {
      Content.fillBlock(block, seed, version, index);
      digest.update(block, 0, (int) Math.min(Content.BLOCK, size - pos));
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /** Writes the bytes of {@code /bytes/size?seed=seed} to {@code file}, replacing it. */
  public static void writeTo(Path file, long size, long seed) {
    writeTo(file, size, seed, 1);
  }

  /** Writes the bytes of {@code /bytes/size?seed=seed&v=version} to {@code file}, replacing it. */
  public static void writeTo(Path file, long size, long seed, int version) {
    byte[] block = new byte[Content.BLOCK];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long pos = 0, index = 0; pos < size; pos += Content.BLOCK, index++) {
        Content.fillBlock(block, seed, version, index);
        out.write(block, 0, (int) Math.min(Content.BLOCK, size - pos));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Bytes {@code [offset, offset + length)} of any body with this seed and version. */
  public static byte[] bytes(long offset, int length, long seed, int version) {
    byte[] out = new byte[length];
    Content.fill(out, 0, seed, version, offset, length);
    return out;
  }

  private static <T> T await(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("origin failed to start", e);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** The mutable side of a {@link RequestRecord}: status and bytes are known only later. */
  private static final class Exchange {
    final String method;
    final String path;
    final String query;
    final String range;
    final String ifRange;
    final Instant at;
    volatile int status;
    final AtomicLong bytesSent = new AtomicLong();
    final AtomicLong bytesReceived = new AtomicLong();
    volatile String receivedSha256;
    final String host;
    final String authorization;
    final java.util.Set<String> headerNames;
    volatile String httpVersion;

    Exchange(
        String method,
        String path,
        String query,
        String range,
        String ifRange,
        Instant at,
        String host,
        String authorization,
        java.util.Set<String> headerNames) {
      this.headerNames = headerNames;
      this.host = host;
      this.authorization = authorization;
      this.method = method;
      this.path = path;
      this.query = query;
      this.range = range;
      this.ifRange = ifRange;
      this.at = at;
    }

    RequestRecord snapshot() {
      return new RequestRecord(
          method,
          path,
          query,
          range,
          ifRange,
          status,
          bytesSent.get(),
          at,
          bytesReceived.get(),
          receivedSha256,
          host,
          authorization,
          headerNames,
          httpVersion);
    }
  }

  private static final class BadRequest extends RuntimeException {
    BadRequest(String message) {
      super(message, null, false, false);
    }
  }

  private void handle(HttpServerRequest req) {
    Exchange exchange =
        new Exchange(
            req.method().name(),
            req.path(),
            req.query(),
            req.getHeader("Range"),
            req.getHeader("If-Range"),
            Instant.now(),
            // HTTP/2 carries the host in :authority, not in a Host header.
            req.getHeader("Host") != null ? req.getHeader("Host") : req.host(),
            req.getHeader("Authorization"),
            req.headers().names().stream()
                .map(n -> n.toLowerCase(Locale.ROOT))
                .collect(java.util.stream.Collectors.toUnmodifiableSet()));
    exchange.httpVersion = req.version().name();
    exchanges.add(exchange);
    HttpServerResponse resp = req.response();
    // A client going away mid-body is routine here; it must not be logged as an error.
    resp.exceptionHandler(t -> LOG.debug("response to {} failed: {}", req.uri(), t.toString()));
    try {
      serve(req, resp, exchange);
    } catch (BadRequest e) {
      text(req, exchange, 400, e.getMessage());
    }
  }

  private void serve(HttpServerRequest req, HttpServerResponse resp, Exchange exchange) {
    boolean faulty = faultsApply(req);
    if (req.method() == HttpMethod.PUT || req.method() == HttpMethod.POST) {
      receive(req, exchange, faulty);
      return;
    }
    boolean head = req.method() == HttpMethod.HEAD;
    if (!head && req.method() != HttpMethod.GET) {
      resp.putHeader("Allow", "GET, HEAD, PUT, POST");
      text(req, exchange, 405, "only GET, HEAD, PUT and POST");
      return;
    }
    String retryAfter = fault(req, "retryAfter", faulty);
    if (retryAfter != null) {
      resp.putHeader("Retry-After", retryAfter);
    }
    String redirect = fault(req, "redirect", faulty);
    if (redirect != null) {
      resp.putHeader("Location", redirect);
      text(req, exchange, 302, "see " + redirect);
      return;
    }
    Integer status = scriptedStatus(req, faulty);
    if (status != null) {
      text(req, exchange, status, "scripted status " + status);
      return;
    }
    Matcher matcher = BYTES_PATH.matcher(req.path());
    if (!matcher.matches()) {
      text(req, exchange, 404, "no such path; try /bytes/{size}?seed=S");
      return;
    }
    long size;
    try {
      size = Long.parseLong(matcher.group(1));
    } catch (NumberFormatException e) {
      throw new BadRequest("size too large");
    }
    long seed = longParam(req, "seed", 0);
    int version = (int) longParam(req, "v", 1);
    // All parsed before any header is set, so that a bad one yields a clean 400.
    long lieLength = faulty ? longParam(req, "lieLength", -1) : -1;
    long cutAfter = faulty ? longParam(req, "cutAfter", -1) : -1;
    long stallAfter = faulty ? longParam(req, "stallAfter", -1) : -1;
    long rate = longParam(req, "rate", 0);
    String etag = etag(size, seed, version);
    String lastModified = HTTP_DATE.format(BASE_LAST_MODIFIED.plus(Duration.ofDays(version)));

    long from = 0;
    long to = size;
    int code = 200;
    String range = req.getHeader("Range");
    if (range != null
        && !boolParam(req, "ignoreRange")
        && ifRangeHolds(req.getHeader("If-Range"), etag, lastModified)) {
      Span span = parseRange(range, size);
      if (span == UNSATISFIABLE) {
        resp.putHeader("Content-Range", "bytes */" + size);
        text(req, exchange, 416, "range not satisfiable");
        return;
      }
      if (span != null) {
        from = span.from();
        to = span.to();
        code = 206;
        resp.putHeader("Content-Range", "bytes " + from + "-" + (to - 1) + "/" + size);
      }
    }
    long length = to - from;

    resp.setStatusCode(code);
    String contentType = req.getParam("contentType");
    resp.putHeader("Content-Type", contentType != null ? contentType : "application/octet-stream");
    String fileName = req.getParam("fileName");
    if (fileName != null) {
      resp.putHeader(
          "Content-Disposition",
          "attachment; filename*=UTF-8''"
              + java.net.URLEncoder.encode(fileName, StandardCharsets.UTF_8).replace("+", "%20"));
    }
    resp.putHeader("ETag", etag);
    resp.putHeader("Last-Modified", lastModified);
    String acceptRanges = req.getParam("acceptRanges");
    resp.putHeader("Accept-Ranges", acceptRanges != null ? acceptRanges : "bytes");
    String contentEncoding = req.getParam("contentEncoding");
    if (contentEncoding != null) {
      // The label only: the bytes stay as generated, so a client that decoded them would fail.
      resp.putHeader("Content-Encoding", contentEncoding);
    }
    boolean chunked = boolParam(req, "chunked");
    boolean lie = lieLength >= 0 && !chunked;
    if (chunked) {
      resp.setChunked(true);
    } else {
      resp.putHeader("Content-Length", String.valueOf(lie ? lieLength : length));
    }
    exchange.status = code;
    if (head) {
      resp.end();
      return;
    }

    long limit = length;
    Ending ending = lie ? Ending.CLOSE : Ending.COMPLETE;
    if (cutAfter >= 0 && cutAfter < limit) {
      limit = cutAfter;
      ending = Ending.CLOSE;
    }
    if (stallAfter >= 0 && stallAfter < limit) {
      limit = stallAfter;
      ending = Ending.STALL;
    }
    new Body(req, exchange, new Content.Cursor(seed, version, from, to), limit, ending, rate)
        .start();
  }

  /**
   * Whether this request gets the scripted faults: always, unless {@code faultTimes=K} is given and
   * K requests with the same path and query came before it.
   */
  private boolean faultsApply(HttpServerRequest req) {
    long times = longParam(req, "faultTimes", -1);
    if (times < 0) {
      return true;
    }
    String key = req.path() + "?" + req.query();
    return seen.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet() <= times;
  }

  private static String fault(HttpServerRequest req, String name, boolean faulty) {
    return faulty ? req.getParam(name) : null;
  }

  private static Integer scriptedStatus(HttpServerRequest req, boolean faulty) {
    if (fault(req, "status", faulty) == null) {
      return null;
    }
    int code = (int) longParam(req, "status", 0);
    if (code < 200 || code > 999) {
      throw new BadRequest("status must be 200..999");
    }
    return code;
  }

  /**
   * An upload: hashes the body as it arrives (one buffer at a time, never the whole of it), then
   * answers, unless a fault cuts or stalls the connection first.
   */
  private void receive(HttpServerRequest req, Exchange exchange, boolean faulty) {
    HttpServerResponse resp = req.response();
    // All parsed before the body is read, so that a bad one yields a clean 400 at once.
    String retryAfter = fault(req, "retryAfter", faulty);
    String redirect = fault(req, "redirect", faulty);
    Integer status = scriptedStatus(req, faulty);
    long cutAfter = faulty ? longParam(req, "cutAfter", -1) : -1;
    long stallAfter = faulty ? longParam(req, "stallAfter", -1) : -1;
    long rate = longParam(req, "rate", 0);
    new Receiver(req, exchange, cutAfter, stallAfter, rate)
        .start(
            () -> {
              if (retryAfter != null) {
                resp.putHeader("Retry-After", retryAfter);
              }
              if (redirect != null) {
                resp.putHeader("Location", redirect);
                text(req, exchange, 307, "send it to " + redirect);
              } else if (status != null) {
                text(req, exchange, status, "scripted status " + status);
              } else {
                resp.putHeader("X-Received-Bytes", String.valueOf(exchange.bytesReceived.get()));
                resp.putHeader("X-Received-SHA256", exchange.receivedSha256);
                // A target's session cookie: a client must not keep or show it.
                resp.putHeader("Set-Cookie", "origin-session=s3cr3t; HttpOnly");
                text(
                    req,
                    exchange,
                    201,
                    "received "
                        + exchange.bytesReceived.get()
                        + " bytes, sha256 "
                        + exchange.receivedSha256);
              }
            });
  }

  /** Reads a request body, hashing it, up to where a fault says to cut or stall. */
  private final class Receiver {
    private final HttpServerRequest req;
    private final Exchange exchange;
    private final long cutAfter;
    private final long stallAfter;
    private final long rate;
    private final MessageDigest digest = newSha256();
    private final long startNanos = System.nanoTime();
    private long received;
    private boolean stopped;

    Receiver(HttpServerRequest req, Exchange exchange, long cutAfter, long stallAfter, long rate) {
      this.req = req;
      this.exchange = exchange;
      this.cutAfter = cutAfter;
      this.stallAfter = stallAfter;
      this.rate = rate;
    }

    void start(Runnable answer) {
      req.exceptionHandler(
          t -> {
            LOG.debug("upload to {} failed: {}", req.uri(), t.toString());
            stop();
          });
      req.connection().closeHandler(v -> stop());
      req.endHandler(
          v -> {
            if (!stopped) {
              stop();
              answer.run();
            }
          });
      req.handler(this::onData);
      faultAt(0);
    }

    private void onData(Buffer buf) {
      if (stopped) {
        return;
      }
      long limit = Long.MAX_VALUE;
      if (cutAfter >= 0) {
        limit = cutAfter;
      }
      if (stallAfter >= 0) {
        limit = Math.min(limit, stallAfter);
      }
      int take = (int) Math.min(buf.length(), limit - received);
      digest.update(buf.getByteBuf().nioBuffer(buf.getByteBuf().readerIndex(), take));
      received += take;
      exchange.bytesReceived.set(received);
      faultAt(received);
      if (rate > 0 && !stopped) {
        long dueNanos = startNanos + (long) (received * 1e9 / rate);
        long waitMillis = TimeUnit.NANOSECONDS.toMillis(dueNanos - System.nanoTime());
        if (waitMillis >= 1) {
          // Not reading holds the client back through TCP, as a slow server would.
          req.pause();
          vertx.setTimer(
              waitMillis,
              t -> {
                if (!stopped) {
                  req.resume();
                }
              });
        }
      }
    }

    /** Cuts or stalls when {@code at} bytes have arrived and a fault is scripted there. */
    private void faultAt(long at) {
      if (stopped) {
        return;
      }
      if (at == cutAfter) {
        stop();
        req.connection().close();
      } else if (at == stallAfter) {
        stop();
        req.pause();
        long timer = vertx.setTimer(STALL_LIMIT.toMillis(), t -> req.connection().close());
        req.response().closeHandler(v -> vertx.cancelTimer(timer));
      }
    }

    /** The origin receives no more: what arrived is final. */
    private void stop() {
      if (!stopped) {
        stopped = true;
        exchange.receivedSha256 = HexFormat.of().formatHex(digest.digest());
      }
    }
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Sends the body at the pace the connection (and the scripted rate) allows. */
  private final class Body {
    private final HttpServerRequest req;
    private final HttpServerResponse resp;
    private final Exchange exchange;
    private final Content.Cursor cursor;
    private final long limit;
    private final Ending ending;
    private final long rate;
    private final int pieceMax;
    private long queued;
    private long startNanos;
    private boolean timerPending;
    private Future<Void> lastWrite = Future.succeededFuture();

    Body(
        HttpServerRequest req,
        Exchange exchange,
        Content.Cursor cursor,
        long limit,
        Ending ending,
        long rate) {
      this.req = req;
      this.resp = req.response();
      this.exchange = exchange;
      this.cursor = cursor;
      this.limit = limit;
      this.ending = ending;
      this.rate = rate;
      // Small pieces under a rate limit keep the flow smooth (about 20 sends per second).
      this.pieceMax =
          rate > 0 ? (int) Math.max(1, Math.min(Content.BLOCK, rate / 20)) : Content.BLOCK;
    }

    void start() {
      resp.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
      startNanos = System.nanoTime();
      pump();
    }

    private void pump() {
      while (true) {
        if (resp.closed() || timerPending) {
          return;
        }
        if (queued == limit) {
          finish();
          return;
        }
        if (resp.writeQueueFull()) {
          resp.drainHandler(
              v -> {
                resp.drainHandler(null);
                pump();
              });
          return;
        }
        if (rate > 0) {
          long dueNanos = startNanos + (long) (queued * 1e9 / rate);
          long waitMillis = TimeUnit.NANOSECONDS.toMillis(dueNanos - System.nanoTime());
          if (waitMillis >= 1) {
            timerPending = true;
            vertx.setTimer(
                waitMillis,
                t -> {
                  timerPending = false;
                  pump();
                });
            return;
          }
        }
        byte[] piece = cursor.next((int) Math.min(pieceMax, limit - queued));
        queued += piece.length;
        int n = piece.length;
        lastWrite =
            resp.write(Buffer.buffer(piece)).onSuccess(v -> exchange.bytesSent.addAndGet(n));
      }
    }

    private void finish() {
      switch (ending) {
        case COMPLETE -> resp.end();
        case CLOSE -> {
          flushHead();
          // Close only once the bytes are in the socket, so the client gets exactly `limit` of them
          // and then a connection that ends without completing the response.
          lastWrite.onComplete(ar -> req.connection().close());
        }
        case STALL -> {
          flushHead();
          long timer = vertx.setTimer(STALL_LIMIT.toMillis(), t -> req.connection().close());
          resp.closeHandler(v -> vertx.cancelTimer(timer));
        }
      }
    }

    private void flushHead() {
      if (!resp.headWritten()) {
        lastWrite = resp.write(Buffer.buffer());
      }
    }
  }

  private static void text(HttpServerRequest req, Exchange exchange, int code, String message) {
    HttpServerResponse resp = req.response();
    exchange.status = code;
    resp.setStatusCode(code);
    if (code == 204 || code == 304) {
      resp.end(); // these never carry a body
      return;
    }
    byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
    resp.putHeader("Content-Type", "text/plain; charset=utf-8");
    resp.putHeader("Content-Length", String.valueOf(body.length));
    if (req.method() == HttpMethod.HEAD) {
      resp.end();
    } else {
      resp.end(Buffer.buffer(body)).onSuccess(v -> exchange.bytesSent.addAndGet(body.length));
    }
  }

  /** If-Range holds when absent or when it names the current representation exactly. */
  private static boolean ifRangeHolds(String ifRange, String etag, String lastModified) {
    if (ifRange == null) {
      return true;
    }
    String value = ifRange.trim();
    if (value.startsWith("W/")) {
      return false; // If-Range needs a strong comparison, which a weak tag never passes
    }
    return value.startsWith("\"") ? value.equals(etag) : value.equals(lastModified);
  }

  /**
   * A single byte range as a half-open span; {@code null} when the header is to be ignored
   * (malformed or several ranges, which a server may answer with the full body).
   */
  private static Span parseRange(String header, long size) {
    String value = header.trim();
    if (!value.regionMatches(true, 0, "bytes=", 0, 6)) {
      return null;
    }
    String spec = value.substring(6).trim();
    int dash = spec.indexOf('-');
    if (spec.contains(",") || dash < 0) {
      return null;
    }
    String first = spec.substring(0, dash).trim();
    String last = spec.substring(dash + 1).trim();
    try {
      if (first.isEmpty()) {
        long suffix = Long.parseLong(last);
        return suffix <= 0 || size == 0
            ? UNSATISFIABLE
            : new Span(Math.max(0, size - suffix), size);
      }
      long start = Long.parseLong(first);
      long end = last.isEmpty() ? Long.MAX_VALUE : Long.parseLong(last);
      if (start < 0 || end < start) {
        return null;
      }
      if (start >= size) {
        return UNSATISFIABLE;
      }
      return new Span(start, Math.min(end, size - 1) + 1);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static long longParam(HttpServerRequest req, String name, long otherwise) {
    String value = req.getParam(name);
    if (value == null) {
      return otherwise;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new BadRequest(name + " must be a number: " + value);
    }
  }

  private static boolean boolParam(HttpServerRequest req, String name) {
    String value = req.getParam(name);
    return value != null && (value.isEmpty() || Boolean.parseBoolean(value.trim()));
  }
}
