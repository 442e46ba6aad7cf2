package transfer.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import transfer.contracts.Json;

/**
 * How {@link TransferClient} talks HTTP to the API: one request with the tenant's key, retried on
 * 429, 503 and lost connections as {@link RequestRetry} says (honouring Retry-After) when it is
 * safe to repeat, an error answer read as a problem and thrown as a {@link TransferApiException},
 * and bodies streamed both ways (a download into a temporary file, verified, then moved into
 * place).
 */
final class ApiHttp {
  private static final String PROBLEM_JSON = "application/problem+json";

  private final URI base;
  private final String apiKey;
  private final Duration requestTimeout;
  private final RequestRetry retry;
  private final HttpClient http;
  private final Clock clock;
  private final TransferClient.Sleeper sleeper;
  private final ObjectMapper json;

  ApiHttp(
      URI base,
      String apiKey,
      Duration connectTimeout,
      Duration requestTimeout,
      RequestRetry retry,
      Clock clock,
      TransferClient.Sleeper sleeper) {
    this.base = base;
    this.apiKey = apiKey;
    this.requestTimeout = requestTimeout;
    this.retry = retry;
    this.clock = clock;
    this.sleeper = sleeper;
    // HTTP/1.1 with keep-alive: the cluster's tests saw the JDK's h2c upgrade fail on large pages.
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    // Lenient where the shared mapper is strict: a newer server may answer fields this client
    // does not know yet. Requests leave absent fields out rather than sending nulls.
    this.json =
        Json.configure(new ObjectMapper())
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);
  }

  URI base() {
    return base;
  }

  RequestRetry retry() {
    return retry;
  }

  ObjectMapper json() {
    return json;
  }

  Clock clock() {
    return clock;
  }

  TransferClient.Sleeper sleeper() {
    return sleeper;
  }

  /** A request body that can be opened once per attempt (or once only, when not replayable). */
  record Body(
      Supplier<InputStream> open,
      long length,
      String contentType,
      boolean replayable,
      ProgressListener progress) {}

  Body jsonBody(Object value) {
    byte[] bytes;
    try {
      bytes = json.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write the request as JSON: " + e.getMessage(), e);
    }
    return new Body(
        () -> new java.io.ByteArrayInputStream(bytes),
        bytes.length,
        "application/json",
        true,
        ProgressListener.NONE);
  }

  JavaType type(Class<?> c) {
    return json.getTypeFactory().constructType(c);
  }

  <T> T call(String method, String path, Body body, Class<T> answer) {
    return call(method, path, body, Map.of(), !method.equals("POST"), type(answer));
  }

  <T> T call(
      String method,
      String path,
      Body body,
      Map<String, String> headers,
      boolean repeatable,
      JavaType answer) {
    HttpResponse<byte[]> r =
        send(method, path, body, headers, repeatable, HttpResponse.BodyHandlers.ofByteArray());
    try {
      return json.readValue(r.body(), answer);
    } catch (IOException e) {
      throw new TransferException(
          method
              + " "
              + path
              + " answered "
              + r.statusCode()
              + " with a body this client cannot"
              + " read ("
              + e.getMessage()
              + "); is "
              + base
              + " the transfer API?",
          e);
    }
  }

  /** The answer of a successful request, or what made it fail. */
  private record Outcome<T>(T ok, byte[] error) {}

  /**
   * Sends the request, retrying as {@link RequestRetry} allows when {@code repeatable} (and the
   * body can be sent again); a 2xx answer's body goes to {@code handler}, an error's is read as a
   * problem and thrown.
   */
  <T> HttpResponse<T> send(
      String method,
      String path,
      Body body,
      Map<String, String> headers,
      boolean repeatable,
      HttpResponse.BodyHandler<T> handler) {
    String what = method + " " + path;
    boolean retryable = repeatable && (body == null || body.replayable());
    int attempts = retryable ? retry.maxAttempts() : 1;
    HttpResponse.BodyHandler<Outcome<T>> either =
        info ->
            info.statusCode() >= 200 && info.statusCode() < 300
                ? HttpResponse.BodySubscribers.mapping(
                    handler.apply(info), ok -> new Outcome<>(ok, null))
                : HttpResponse.BodySubscribers.mapping(
                    boundedBytes(MAX_ERROR_BODY), err -> new Outcome<T>(null, err));
    for (int attempt = 1; ; attempt++) {
      HttpResponse<Outcome<T>> r;
      try {
        r = http.send(request(method, path, body, headers), either);
      } catch (IOException e) {
        if (attempt < attempts) {
          pause(retry.backoff(attempt), what);
          continue;
        }
        throw new TransferConnectionException(
            what
                + " to "
                + base
                + " failed after "
                + attempt
                + " attempt(s): "
                + e
                + (retryable ? "" : "; it was not retried (not safe to repeat)"),
            e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TransferException(what + " was interrupted", e);
      }
      if (r.body().error() == null) {
        return new Unwrapped<T>(r, r.body().ok());
      }
      int status = r.statusCode();
      Optional<Duration> retryAfter =
          RetryAfter.parse(r.headers().firstValue("Retry-After").orElse(null), clock.instant());
      Problem problem = problem(status, r.headers(), r.body().error());
      if ((status == 429 || status == 503) && attempt < attempts) {
        Duration wait = retryAfter.isPresent() ? retryAfter.get() : retry.backoff(attempt);
        if (wait.compareTo(retry.maxRetryAfter()) <= 0) {
          pause(wait, what);
          continue;
        }
      }
      throw TransferApiException.of(what, problem, retryAfter.orElse(null));
    }
  }

  private void pause(Duration d, String what) {
    try {
      sleeper.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TransferException(what + " was interrupted while waiting to retry", e);
    }
  }

  private HttpRequest request(String method, String path, Body body, Map<String, String> headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(requestTimeout)
            .header("Authorization", "Bearer " + apiKey)
            .header("Accept", "application/json, application/problem+json, */*");
    headers.forEach(b::setHeader);
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", body.contentType());
      Supplier<InputStream> counted =
          body.progress() == ProgressListener.NONE
              ? body.open()
              : () -> new Counting(body.open().get(), body.length(), body.progress());
      b.method(
          method,
          HttpRequest.BodyPublishers.fromPublisher(
              HttpRequest.BodyPublishers.ofInputStream(counted), body.length()));
    }
    return b.build();
  }

  /** How much of an error answer's body is kept: a problem document is far smaller. */
  static final int MAX_ERROR_BODY = 64 * 1024;

  /**
   * The first {@code limit} bytes of a body; the rest is read and dropped, so an error page of any
   * size (a wrong base URL) never sits whole in memory.
   */
  static HttpResponse.BodySubscriber<byte[]> boundedBytes(int limit) {
    java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
    return HttpResponse.BodySubscribers.mapping(
        HttpResponse.BodySubscribers.ofByteArrayConsumer(
            chunk ->
                chunk.ifPresent(
                    b -> {
                      int room = limit - kept.size();
                      if (room > 0) {
                        kept.write(b, 0, Math.min(room, b.length));
                      }
                    })),
        done -> kept.toByteArray());
  }

  /** The problem of an error answer; a body that is no problem document becomes one. */
  private Problem problem(int status, HttpHeaders headers, byte[] body) {
    String ct = headers.firstValue("Content-Type").orElse("");
    if (ct.startsWith(PROBLEM_JSON) || ct.startsWith("application/json")) {
      try {
        Problem p = json.readValue(body, Problem.class);
        // The answer's own status is the truth (a proxy's JSON may say another).
        if (p.status() != status) {
          p = new Problem(p.type(), p.title(), status, p.detail(), p.instance(), p.errors());
        }
        return p;
      } catch (IOException notAProblem) {
        // below
      }
    }
    String text = new String(body, StandardCharsets.UTF_8).strip();
    if (text.length() > 500) {
      text = text.substring(0, 500) + "…";
    }
    return new Problem(null, "HTTP " + status, status, text.isEmpty() ? null : text, null, null);
  }

  /** GET into a temporary file beside {@code target}, verified, then moved into place. */
  Content toFile(String path, Path target, ProgressListener progress, String what) {
    HttpResponse<InputStream> r =
        send("GET", path, null, Map.of(), true, HttpResponse.BodyHandlers.ofInputStream());
    long expected = r.headers().firstValueAsLong("Content-Length").orElse(-1);
    String etag = r.headers().firstValue("ETag").map(v -> v.replace("\"", "")).orElse(null);
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = null;
    try (InputStream in = r.body()) {
      if (dir != null) {
        Files.createDirectories(dir);
      }
      tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".part");
      MessageDigest sha = sha256();
      long n = 0;
      try (OutputStream out = Files.newOutputStream(tmp)) {
        byte[] buf = new byte[64 * 1024];
        for (int k; (k = in.read(buf)) >= 0; ) {
          out.write(buf, 0, k);
          sha.update(buf, 0, k);
          n += k;
          progress.progress(n, expected);
        }
      }
      String hex = java.util.HexFormat.of().formatHex(sha.digest());
      if (expected >= 0 && n != expected) {
        throw new TransferConnectionException(
            "the content of " + what + " ended after " + n + " of " + expected + " bytes; retry",
            null);
      }
      if (etag != null && etag.length() == 64 && !etag.equalsIgnoreCase(hex)) {
        throw new TransferException(
            "the content of "
                + what
                + " arrived with SHA-256 "
                + hex
                + ", not the stored "
                + etag
                + "; nothing was written to "
                + target
                + "; retry");
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
      return new Content(target, n, hex);
    } catch (IOException e) {
      throw new TransferConnectionException(
          "cannot store the content of " + what + " in " + target + ": " + e, e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  /** Counts the bytes of an upload body as the HTTP client reads them. */
  private static final class Counting extends FilterInputStream {
    private final long total;
    private final ProgressListener progress;
    private long done;

    Counting(InputStream in, long total, ProgressListener progress) {
      super(in);
      this.total = total;
      this.progress = progress;
    }

    @Override
    public int read() throws IOException {
      int c = super.read();
      if (c >= 0) {
        progress.progress(++done, total);
      }
      return c;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        done += n;
        progress.progress(done, total);
      }
      return n;
    }
  }

  /** A response whose body was unwrapped from {@link Outcome}. */
  private record Unwrapped<T>(HttpResponse<?> r, T body) implements HttpResponse<T> {
    @Override
    public int statusCode() {
      return r.statusCode();
    }

    @Override
    public HttpRequest request() {
      return r.request();
    }

    @Override
    public Optional<HttpResponse<T>> previousResponse() {
      return Optional.empty();
    }

    @Override
    public HttpHeaders headers() {
      return r.headers();
    }

    @Override
    public Optional<javax.net.ssl.SSLSession> sslSession() {
      return r.sslSession();
    }

    @Override
    public URI uri() {
      return r.uri();
    }

    @Override
    public HttpClient.Version version() {
      return r.version();
    }
  }
}
