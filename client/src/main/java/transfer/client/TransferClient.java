package transfer.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
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

  private final ApiHttp http;
  private final Supplier<String> idempotencyKeys;

  /** Waits between attempts; tests replace it to run without sleeping. */
  @FunctionalInterface
  interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  private TransferClient(Builder b) {
    String uri = b.baseUri.toString();
    this.idempotencyKeys = b.idempotencyKeys;
    this.http =
        new ApiHttp(
            URI.create(uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri),
            b.apiKey,
            b.connectTimeout,
            b.requestTimeout,
            b.retry,
            b.clock,
            b.sleeper);
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
    return http.base();
  }

  /** The retry policy of this client. */
  public RequestRetry retryPolicy() {
    return http.retry();
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
    return http.call(
        "PUT",
        sessions(sessionId),
        http.jsonBody(config == null ? Map.of() : config),
        SessionView.class);
  }

  public SessionView session(String sessionId) {
    return http.call("GET", sessions(sessionId), null, SessionView.class);
  }

  /** A page of the tenant's sessions in id order; {@code after} null for the first page. */
  public Page<SessionView> sessions(String after, int limit) {
    SessionPage p =
        http.call(
            "GET", "/v1/sessions" + query("limit", limit, "after", after), null, SessionPage.class);
    return new Page<>(p.sessions(), p.next());
  }

  /** All of the tenant's sessions, fetched page by page as the stream is read. */
  public Stream<SessionView> allSessions() {
    return paged(after -> sessions(after, 100));
  }

  /** {@code invalidateAndCancel}: every open task is canceled; the session takes no new tasks. */
  public SessionView invalidateAndCancel(String sessionId) {
    return http.call("DELETE", sessions(sessionId), null, SessionView.class);
  }

  /** {@code finishTasksAndInvalidate}: no new tasks; open ones finish. */
  public SessionView finishTasksAndInvalidate(String sessionId) {
    return http.call("DELETE", sessions(sessionId) + "?finishTasks=true", null, SessionView.class);
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
    return http.call(
        "POST",
        sessions(sessionId) + "/tasks",
        http.jsonBody(request),
        Map.of(IDEMPOTENCY_KEY, idempotencyKey),
        true,
        http.type(TaskView.class));
  }

  /** Submits up to 1,000 tasks of one session, all or none, with a new Idempotency-Key. */
  public List<TaskView> submitBatch(String sessionId, List<TaskRequest> requests) {
    return submitBatch(sessionId, requests, idempotencyKeys.get());
  }

  /** Submits a batch with the caller's Idempotency-Key (it covers the whole batch). */
  public List<TaskView> submitBatch(
      String sessionId, List<TaskRequest> requests, String idempotencyKey) {
    requireKey(idempotencyKey);
    return http.<BatchAnswer>call(
            "POST",
            sessions(sessionId) + "/tasks:batch",
            http.jsonBody(new BatchRequest(requests)),
            Map.of(IDEMPOTENCY_KEY, idempotencyKey),
            true,
            http.type(BatchAnswer.class))
        .tasks();
  }

  public TaskView task(String sessionId, String taskId) {
    return http.call("GET", tasks(sessionId, taskId), null, TaskView.class);
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
        http.call(
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
    return http.call(
        "POST",
        tasks(sessionId, taskId) + "/cancel",
        http.jsonBody(new CancelRequest(produceResumeData)),
        Map.of(),
        false,
        http.type(CancelResult.class));
  }

  /** Suspends an open task: it holds no worker until resumed. */
  public TaskView suspend(String sessionId, String taskId) {
    return http.call(
        "POST",
        tasks(sessionId, taskId) + "/suspend",
        null,
        Map.of(),
        false,
        http.type(TaskView.class));
  }

  /**
   * Changes a task: its url and headers while it is queued, waiting or suspended (the answer to
   * {@link TransferListener#didReceiveCredentialsChallenge}: a waiting task is queued at once and
   * continues from its stored bytes), its priority and description while it is open. A final task,
   * or a running one whose url or headers would change, is a {@link ConflictException}.
   */
  public TaskView patch(String sessionId, String taskId, transfer.contracts.TaskPatch patch) {
    return http.call(
        "PATCH",
        tasks(sessionId, taskId),
        http.jsonBody(patch),
        Map.of(),
        true,
        http.type(TaskView.class));
  }

  /** Resumes a suspended task from its checkpoint. */
  public TaskView resume(String sessionId, String taskId) {
    return http.call(
        "POST",
        tasks(sessionId, taskId) + "/resume",
        null,
        Map.of(),
        false,
        http.type(TaskView.class));
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
    return http.toFile(tasks(sessionId, taskId) + "/content", target, progress, "task " + taskId);
  }

  /**
   * A completed download's stored bytes as a stream; the caller closes it. Not verified: prefer
   * {@link #downloadContent} when the bytes go to a file.
   */
  public InputStream openContent(String sessionId, String taskId) {
    return http.send(
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
    ApiHttp.Body body =
        new ApiHttp.Body(
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
    return http.call(
        "PUT",
        objects(sessionId, name),
        body,
        Map.of("X-Checksum-SHA256", sha256),
        true,
        http.type(ObjectView.class));
  }

  /**
   * Stages {@code length} bytes read from {@code in} as an object, streaming them; {@code sha256}
   * (hex) is checked by the server when given (null: not checked). A stream cannot be read twice,
   * so this request is not retried.
   */
  public ObjectView putObject(
      String sessionId, String name, InputStream in, long length, String sha256) {
    ApiHttp.Body body =
        new ApiHttp.Body(
            () -> in, length, "application/octet-stream", false, ProgressListener.NONE);
    Map<String, String> headers = sha256 == null ? Map.of() : Map.of("X-Checksum-SHA256", sha256);
    return http.call(
        "PUT", objects(sessionId, name), body, headers, true, http.type(ObjectView.class));
  }

  /** Streams an object's bytes into {@code target}, verified against the server's SHA-256. */
  public Content getObject(String sessionId, String name, Path target) {
    return http.toFile(objects(sessionId, name), target, ProgressListener.NONE, "object " + name);
  }

  public void deleteObject(String sessionId, String name) {
    http.send(
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
        http.call(
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
    return http.send(
            "GET",
            sessions(sessionId) + "/events/stream",
            null,
            Map.of(LAST_EVENT_ID, Long.toString(lastEventId), "Accept", "text/event-stream"),
            true,
            info -> new SseLines())
        .body();
  }

  ObjectMapper json() {
    return http.json();
  }

  Clock clock() {
    return http.clock();
  }

  Sleeper sleeper() {
    return http.sleeper();
  }

  private static String sha256Hex(InputStream in) throws IOException {
    MessageDigest sha = ApiHttp.sha256();
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
}
