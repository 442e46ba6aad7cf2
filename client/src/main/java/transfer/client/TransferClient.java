package transfer.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import transfer.contracts.CloudEvent;
import transfer.contracts.Json;
import transfer.contracts.ObjectView;
import transfer.contracts.SessionConfig;
import transfer.contracts.SessionView;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskView;
import transfer.contracts.UploadSource;

/**
 * The typed client of the cluster's REST API: sessions, tasks, objects and events, with one
 * tenant's API key. Thread-safe; make one per API and key and share it.
 *
 * <pre>{@code
 * TransferClient api = TransferClient.builder()
 *     .baseUri("http://transfer-api:8080")
 *     .apiKey(System.getenv("TRANSFER_API_KEY"))
 *     .build();
 * api.putSession("thumbnails", null);
 * TaskView task = api.download("thumbnails", "https://example.com/a.jpg");
 * }</pre>
 *
 * <p>Errors: an API error is a {@link TransferApiException} of the kind it is ({@link
 * NotFoundException}, {@link ValidationException}, …); a connection that fails is a {@link
 * TransferConnectionException}. Requests that are safe to repeat (GET, HEAD, PUT, DELETE, and every
 * submit, which carries an Idempotency-Key) are retried on 429, 503 and lost connections as {@link
 * RequestRetry} says, honouring Retry-After. Bodies stream: uploads from a file or stream,
 * downloads to a file, never whole in memory.
 */
public final class TransferClient implements AutoCloseable {
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  static final String LAST_EVENT_ID = "Last-Event-ID";
  private static final String PROBLEM_JSON = "application/problem+json";

  private final URI base;
  private final String apiKey;
  private final Duration requestTimeout;
  private final RequestRetry retry;
  private final HttpClient http;
  private final Clock clock;
  private final Sleeper sleeper;
  private final Supplier<String> idempotencyKeys;
  private final ObjectMapper json;

  /** Waits between attempts; tests replace it to run without sleeping. */
  @FunctionalInterface
  interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  private TransferClient(Builder b) {
    String uri = b.baseUri.toString();
    this.base = URI.create(uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri);
    this.apiKey = b.apiKey;
    this.requestTimeout = b.requestTimeout;
    this.retry = b.retry;
    this.clock = b.clock;
    this.sleeper = b.sleeper;
    this.idempotencyKeys = b.idempotencyKeys;
    // HTTP/1.1 with keep-alive: the cluster's tests saw the JDK's h2c upgrade fail on large pages.
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(b.connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    // Lenient where the shared mapper is strict: a newer server may answer fields this client
    // does not know yet. Requests leave absent fields out rather than sending nulls.
    this.json =
        Json.configure(new ObjectMapper())
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Configuration of a {@link TransferClient}; {@code baseUri} and {@code apiKey} are required. */
  public static final class Builder {
    private URI baseUri;
    private String apiKey;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(30);
    private RequestRetry retry = RequestRetry.DEFAULT;
    private Clock clock = Clock.systemUTC();
    private Sleeper sleeper = d -> Thread.sleep(d.toMillis());
    private Supplier<String> idempotencyKeys = () -> UUID.randomUUID().toString();

    private Builder() {}

    /** The API's address, for example {@code http://transfer-api:8080}. */
    public Builder baseUri(String uri) {
      return baseUri(URI.create(uri));
    }

    public Builder baseUri(URI uri) {
      this.baseUri = Objects.requireNonNull(uri, "baseUri");
      return this;
    }

    /** The tenant's API key, sent as {@code Authorization: Bearer <key>}. */
    public Builder apiKey(String key) {
      this.apiKey = Objects.requireNonNull(key, "apiKey");
      return this;
    }

    /** How long to wait for a connection (default 10 s). */
    public Builder connectTimeout(Duration d) {
      this.connectTimeout = Objects.requireNonNull(d);
      return this;
    }

    /**
     * How long to wait for an answer's headers (default 30 s). A body being streamed (a download,
     * the event stream) is not limited by it.
     */
    public Builder requestTimeout(Duration d) {
      this.requestTimeout = Objects.requireNonNull(d);
      return this;
    }

    /** Retries on 429, 503 and lost connections (default {@link RequestRetry#DEFAULT}). */
    public Builder retry(RequestRetry r) {
      this.retry = Objects.requireNonNull(r);
      return this;
    }

    /** Where the Idempotency-Keys of submits without one come from (default random UUIDs). */
    public Builder idempotencyKeys(Supplier<String> keys) {
      this.idempotencyKeys = Objects.requireNonNull(keys);
      return this;
    }

    /** The clock Retry-After dates are measured against (tests). */
    public Builder clock(Clock c) {
      this.clock = Objects.requireNonNull(c);
      return this;
    }

    Builder sleeper(Sleeper s) {
      this.sleeper = Objects.requireNonNull(s);
      return this;
    }

    public TransferClient build() {
      if (baseUri == null) {
        throw new IllegalStateException("TransferClient needs baseUri (the API's address)");
      }
      if (apiKey == null || apiKey.isBlank()) {
        throw new IllegalStateException("TransferClient needs apiKey (the tenant's API key)");
      }
      return new TransferClient(this);
    }
  }

  /** The API's address. */
  public URI baseUri() {
    return base;
  }

  /** The retry policy of this client. */
  public RequestRetry retryPolicy() {
    return retry;
  }

  @Override
  public void close() {
    // The JDK's HttpClient (Java 17) has no close; its threads end when it is unreachable.
  }

  // ------------------------------------------------------------------ sessions

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record SessionPage(List<SessionView> sessions, String next) {}

  /**
   * Creates the session or replaces its configuration (idempotent, like {@code
   * URLSessionConfiguration.background(withIdentifier:)}); {@code config} null: the defaults.
   */
  public SessionView putSession(String sessionId, SessionConfig config) {
    return call(
        "PUT",
        sessions(sessionId),
        jsonBody(config == null ? Map.of() : config),
        SessionView.class);
  }

  public SessionView session(String sessionId) {
    return call("GET", sessions(sessionId), null, SessionView.class);
  }

  /** A page of the tenant's sessions in id order; {@code after} null for the first page. */
  public Page<SessionView> sessions(String after, int limit) {
    SessionPage p =
        call(
            "GET", "/v1/sessions" + query("limit", limit, "after", after), null, SessionPage.class);
    return new Page<>(p.sessions(), p.next());
  }

  /** All of the tenant's sessions, fetched page by page as the stream is read. */
  public Stream<SessionView> allSessions() {
    return paged(after -> sessions(after, 100));
  }

  /** {@code invalidateAndCancel}: every open task is canceled; the session takes no new tasks. */
  public SessionView invalidateAndCancel(String sessionId) {
    return call("DELETE", sessions(sessionId), null, SessionView.class);
  }

  /** {@code finishTasksAndInvalidate}: no new tasks; open ones finish. */
  public SessionView finishTasksAndInvalidate(String sessionId) {
    return call("DELETE", sessions(sessionId) + "?finishTasks=true", null, SessionView.class);
  }

  // ------------------------------------------------------------------ tasks

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record TaskPage(List<TaskView> tasks, String next) {}

  private record BatchRequest(List<TaskRequest> tasks) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record BatchAnswer(List<TaskView> tasks) {}

  private record CancelRequest(boolean produceResumeData) {}

  /** Submits a download of {@code url} ({@code downloadTask(with:)}). */
  public TaskView download(String sessionId, String url) {
    return submit(sessionId, TaskRequest.download(url));
  }

  /**
   * Submits an upload of {@code source} (a completed download's task, or a staged object) to {@code
   * url} with {@code method} (PUT or POST).
   */
  public TaskView upload(String sessionId, String url, String method, UploadSource source) {
    return submit(sessionId, TaskRequest.upload(url, method, source));
  }

  /** Submits a task with a new Idempotency-Key, sent again on every retry of this call. */
  public TaskView submit(String sessionId, TaskRequest request) {
    return submit(sessionId, request, idempotencyKeys.get());
  }

  /**
   * Submits a task with the caller's Idempotency-Key: a repeat with the same key and body (from a
   * restarted process, say) answers the same task; with another body a {@link ValidationException}
   * (422, {@code idempotency-key-reused}).
   */
  public TaskView submit(String sessionId, TaskRequest request, String idempotencyKey) {
    requireKey(idempotencyKey);
    return call(
        "POST",
        sessions(sessionId) + "/tasks",
        jsonBody(request),
        Map.of(IDEMPOTENCY_KEY, idempotencyKey),
        true,
        type(TaskView.class));
  }

  /** Submits up to 1,000 tasks of one session, all or none, with a new Idempotency-Key. */
  public List<TaskView> submitBatch(String sessionId, List<TaskRequest> requests) {
    return submitBatch(sessionId, requests, idempotencyKeys.get());
  }

  /** Submits a batch with the caller's Idempotency-Key (it covers the whole batch). */
  public List<TaskView> submitBatch(
      String sessionId, List<TaskRequest> requests, String idempotencyKey) {
    requireKey(idempotencyKey);
    return this.<BatchAnswer>call(
            "POST",
            sessions(sessionId) + "/tasks:batch",
            jsonBody(new BatchRequest(requests)),
            Map.of(IDEMPOTENCY_KEY, idempotencyKey),
            true,
            type(BatchAnswer.class))
        .tasks();
  }

  public TaskView task(String sessionId, String taskId) {
    return call("GET", tasks(sessionId, taskId), null, TaskView.class);
  }

  /**
   * A page of the session's tasks in creation order ({@code getAllTasks}); {@code states} empty for
   * all, {@code after} null for the first page, {@code limit} 1 to 1,000.
   */
  public Page<TaskView> tasks(String sessionId, Set<TaskState> states, String after, int limit) {
    String st =
        states == null || states.isEmpty()
            ? null
            : states.stream().map(TaskState::wire).sorted().collect(Collectors.joining(","));
    TaskPage p =
        call(
            "GET",
            sessions(sessionId) + "/tasks" + query("limit", limit, "after", after, "state", st),
            null,
            TaskPage.class);
    return new Page<>(p.tasks(), p.next());
  }

  /** All tasks of the session (of these states, if any), fetched page by page as read. */
  public Stream<TaskView> allTasks(String sessionId, TaskState... states) {
    Set<TaskState> s = states.length == 0 ? Set.of() : Set.of(states);
    return paged(after -> tasks(sessionId, s, after, 100));
  }

  /** Cancels an open task; a final one is a {@link ConflictException}. */
  public CancelResult cancel(String sessionId, String taskId) {
    return cancel(sessionId, taskId, false);
  }

  /**
   * Cancels an open task ({@code cancel(byProducingResumeData:)}); with {@code produceResumeData} a
   * download with a durable prefix answers the resumeData a new download may continue from.
   */
  public CancelResult cancel(String sessionId, String taskId, boolean produceResumeData) {
    return call(
        "POST",
        tasks(sessionId, taskId) + "/cancel",
        jsonBody(new CancelRequest(produceResumeData)),
        Map.of(),
        false,
        type(CancelResult.class));
  }

  /** Suspends an open task: it holds no worker until resumed. */
  public TaskView suspend(String sessionId, String taskId) {
    return call(
        "POST", tasks(sessionId, taskId) + "/suspend", null, Map.of(), false, type(TaskView.class));
  }

  /** Resumes a suspended task from its checkpoint. */
  public TaskView resume(String sessionId, String taskId) {
    return call(
        "POST", tasks(sessionId, taskId) + "/resume", null, Map.of(), false, type(TaskView.class));
  }

  /**
   * Streams a completed download's stored bytes into {@code target} (replaced only once all bytes
   * arrived and their SHA-256 matched the server's), never holding them in memory.
   */
  public Content downloadContent(String sessionId, String taskId, Path target) {
    return downloadContent(sessionId, taskId, target, ProgressListener.NONE);
  }

  public Content downloadContent(
      String sessionId, String taskId, Path target, ProgressListener progress) {
    return toFile(tasks(sessionId, taskId) + "/content", target, progress, "task " + taskId);
  }

  /**
   * A completed download's stored bytes as a stream; the caller closes it. Not verified: prefer
   * {@link #downloadContent} when the bytes go to a file.
   */
  public InputStream openContent(String sessionId, String taskId) {
    return send(
            "GET",
            tasks(sessionId, taskId) + "/content",
            null,
            Map.of(),
            true,
            HttpResponse.BodyHandlers.ofInputStream())
        .body();
  }

  // ------------------------------------------------------------------ objects

  /**
   * Stages a file as an object for upload tasks ({@code "source":{"object":name}}), streaming it.
   * Its SHA-256 is computed first and sent, so the server stores nothing that arrived damaged.
   * Retried like every PUT (the file is read again).
   */
  public ObjectView putObject(String sessionId, String name, Path file) {
    return putObject(sessionId, name, file, ProgressListener.NONE);
  }

  public ObjectView putObject(String sessionId, String name, Path file, ProgressListener progress) {
    long size;
    String sha256;
    try (InputStream in = Files.newInputStream(file)) {
      size = Files.size(file);
      sha256 = sha256Hex(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + " to stage object " + name, e);
    }
    Body body =
        new Body(
            () -> {
              try {
                return Files.newInputStream(file);
              } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file, e);
              }
            },
            size,
            "application/octet-stream",
            true,
            progress);
    return call(
        "PUT",
        objects(sessionId, name),
        body,
        Map.of("X-Checksum-SHA256", sha256),
        true,
        type(ObjectView.class));
  }

  /**
   * Stages {@code length} bytes read from {@code in} as an object, streaming them; {@code sha256}
   * (hex) is checked by the server when given (null: not checked). A stream cannot be read twice,
   * so this request is not retried.
   */
  public ObjectView putObject(
      String sessionId, String name, InputStream in, long length, String sha256) {
    Body body =
        new Body(() -> in, length, "application/octet-stream", false, ProgressListener.NONE);
    Map<String, String> headers = sha256 == null ? Map.of() : Map.of("X-Checksum-SHA256", sha256);
    return call("PUT", objects(sessionId, name), body, headers, true, type(ObjectView.class));
  }

  /** Streams an object's bytes into {@code target}, verified against the server's SHA-256. */
  public Content getObject(String sessionId, String name, Path target) {
    return toFile(objects(sessionId, name), target, ProgressListener.NONE, "object " + name);
  }

  public void deleteObject(String sessionId, String name) {
    send(
        "DELETE",
        objects(sessionId, name),
        null,
        Map.of(),
        true,
        HttpResponse.BodyHandlers.discarding());
  }

  // ------------------------------------------------------------------ events

  @JsonIgnoreProperties(ignoreUnknown = true)
  private record RawEventPage(List<CloudEvent> events, long last) {}

  /** Up to {@code limit} (1 to 1,000) stored events of the session after sequence {@code after}. */
  public EventPage events(String sessionId, long after, int limit) {
    RawEventPage p =
        call(
            "GET",
            sessions(sessionId) + "/events" + query("after", after, "limit", limit),
            null,
            RawEventPage.class);
    return new EventPage(p.events(), p.last());
  }

  /**
   * Feeds {@code listener} with the sessions' events from the API's event stream (Server-Sent
   * Events), for services that cannot reach Kafka; started, close it to stop. See {@link
   * SseEventFeed#builder(TransferClient)} for the options.
   */
  public SseEventFeed sseFeed(TransferListener listener, String... sessionIds) {
    return SseEventFeed.builder(this).listener(listener).sessions(sessionIds).build().start();
  }

  /** Opens the session's event stream after {@code lastEventId}; used by {@link SseEventFeed}. */
  SseLines openEventStream(String sessionId, long lastEventId) {
    return send(
            "GET",
            sessions(sessionId) + "/events/stream",
            null,
            Map.of(LAST_EVENT_ID, Long.toString(lastEventId), "Accept", "text/event-stream"),
            true,
            info -> new SseLines())
        .body();
  }

  ObjectMapper json() {
    return json;
  }

  Clock clock() {
    return clock;
  }

  Sleeper sleeper() {
    return sleeper;
  }

  // ------------------------------------------------------------------ HTTP

  /** A request body that can be opened once per attempt (or once only, when not replayable). */
  private record Body(
      Supplier<InputStream> open,
      long length,
      String contentType,
      boolean replayable,
      ProgressListener progress) {}

  private Body jsonBody(Object value) {
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

  private JavaType type(Class<?> c) {
    return json.getTypeFactory().constructType(c);
  }

  private <T> T call(String method, String path, Body body, Class<T> answer) {
    return call(method, path, body, Map.of(), !method.equals("POST"), type(answer));
  }

  private <T> T call(
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
  private Content toFile(String path, Path target, ProgressListener progress, String what) {
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

  private static String sha256Hex(InputStream in) throws IOException {
    MessageDigest sha = sha256();
    try (DigestInputStream d = new DigestInputStream(in, sha)) {
      d.transferTo(OutputStream.nullOutputStream());
    }
    return java.util.HexFormat.of().formatHex(sha.digest());
  }

  private static void requireKey(String key) {
    if (key == null
        || key.isEmpty()
        || key.length() > 255
        || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException(
          "an Idempotency-Key must be 1 to 255 printable ASCII characters without spaces, not '"
              + key
              + "'");
    }
  }

  // ------------------------------------------------------------------ paths

  private static String sessions(String sessionId) {
    return "/v1/sessions/" + segment(Objects.requireNonNull(sessionId, "sessionId"));
  }

  private static String tasks(String sessionId, String taskId) {
    return sessions(sessionId) + "/tasks/" + segment(Objects.requireNonNull(taskId, "taskId"));
  }

  private static String objects(String sessionId, String name) {
    return sessions(sessionId) + "/objects/" + segment(Objects.requireNonNull(name, "name"));
  }

  /** Percent-encodes one path segment: everything but RFC 3986's unreserved characters. */
  static String segment(String s) {
    StringBuilder b = new StringBuilder();
    for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~') {
        b.append((char) c);
      } else {
        b.append('%').append(String.format("%02X", c & 0xff));
      }
    }
    return b.toString();
  }

  /** {@code ?a=1&b=2} of the pairs whose value is not null. */
  static String query(Object... namesAndValues) {
    Map<String, String> q = new LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      if (namesAndValues[i + 1] != null) {
        q.put((String) namesAndValues[i], String.valueOf(namesAndValues[i + 1]));
      }
    }
    if (q.isEmpty()) {
      return "";
    }
    return "?"
        + q.entrySet().stream()
            .map(
                e ->
                    e.getKey()
                        + "="
                        + java.net.URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
            .collect(Collectors.joining("&"));
  }

  private static <T> Stream<T> paged(Function<String, Page<T>> fetch) {
    Iterator<T> it =
        new Iterator<>() {
          private Iterator<T> current = List.<T>of().iterator();
          private String next;
          private boolean started;

          @Override
          public boolean hasNext() {
            while (!current.hasNext() && (!started || next != null)) {
              Page<T> p = fetch.apply(next);
              started = true;
              next = p.next();
              current = new ArrayList<>(p.items()).iterator();
            }
            return current.hasNext();
          }

          @Override
          public T next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            return current.next();
          }
        };
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false);
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
