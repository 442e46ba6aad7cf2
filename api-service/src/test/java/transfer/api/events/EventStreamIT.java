package transfer.api.events;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.contracts.Json;
import transfer.ledger.Lease;
import transfer.ledger.Leases;
import transfer.ledger.Ledger;
import transfer.ledger.TestClaims;

/**
 * {@code GET /v1/sessions/{sid}/events/stream} on the real PostgreSQL: stored events first, then
 * live ones, resumption with {@code Last-Event-ID}, tenants, bad input and a slow client. Events
 * are produced by driving a task through the ledger the way a worker does.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class EventStreamIT {
  private static final String TENANT = "default";
  private static final Duration LEASE = Duration.ofMinutes(5);

  /**
   * How long a live event may take to arrive: a notified one at once; one whose notification was
   * lost at the stream's next fallback read ({@link EventStream#LISTENING_POLL_MS} while the signal
   * listens).
   */
  private static final Duration LIVE =
      Duration.ofMillis(EventStream.LISTENING_POLL_MS).plusSeconds(5);

  private static final ObjectMapper JSON = Json.mapper();

  @Inject Ledger ledger;
  @Inject EventStreamRoute route;
  @Inject EventSignal signal;
  @Inject AgroalDataSource dataSource;

  @TestHTTPResource("/")
  URL base;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final List<Sse> opened = new ArrayList<>();

  @AfterEach
  void closeStreams() {
    opened.forEach(Sse::close);
    // A disconnect releases the server's stream (its timer and its wake-up subscription).
    await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() == 0);
  }

  @Test
  void sendsTheStoredEventsAfterAfterInOrderThenLiveOnes() throws Exception {
    String sid = newSession(InfraResource.KEY);
    Task task = runningTask(sid);
    for (int i = 1; i <= 5; i++) {
      task.progress(i * 100);
    }
    List<JsonNode> stored = stored(sid, 0);
    assertThat(stored).hasSize(5);
    long after = seq(stored.get(1));

    Sse sse = open(sid, InfraResource.KEY, "?after=" + after, null);
    assertThat(sse.status).isEqualTo(200);
    assertThat(sse.contentType).startsWith("text/event-stream");
    assertThat(sse.cacheControl).isEqualTo("no-cache");
    expectExactly(sse, stored.subList(2, 5));

    // Live: written while connected, each arrives without reconnecting, woken by NOTIFY.
    await().atMost(Duration.ofSeconds(10)).until(signal::listening);
    long notifiedBefore = signal.notified();
    long last = seq(stored.get(4));
    task.progress(600);
    await().atMost(Duration.ofSeconds(5)).until(() -> signal.notified() > notifiedBefore);
    List<JsonNode> one = stored(sid, last);
    assertThat(one).hasSize(1);
    expectExactly(sse, one);
    last = seq(one.get(0));
    task.progress(700);
    task.complete(700);
    List<JsonNode> live = stored(sid, last);
    assertThat(live)
        .extracting(e -> e.get("type").asText())
        .contains("transfer.task.progress", "transfer.task.completed");
    expectExactly(sse, live);
  }

  @Test
  void aReconnectWithLastEventIdGetsExactlyWhatItMissedThenLiveEvents() throws Exception {
    String sid = newSession(InfraResource.KEY);
    Task task = runningTask(sid);
    for (int i = 1; i <= 3; i++) {
      task.progress(i * 10);
    }
    Sse first = open(sid, InfraResource.KEY, "", null);
    List<Msg> seen = expectExactly(first, stored(sid, 0));
    long lastSeen = seen.get(seen.size() - 1).id;
    assertThat(lastSeen).isEqualTo(3);
    first.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() == 0);

    for (int i = 4; i <= 6; i++) {
      task.progress(i * 10); // missed while disconnected
    }
    // The header wins over ?after (which would replay from 1).
    Sse second = open(sid, InfraResource.KEY, "?after=1", String.valueOf(lastSeen));
    assertThat(second.status).isEqualTo(200);
    List<Msg> missed = expectExactly(second, stored(sid, lastSeen));
    assertThat(missed).extracting(m -> m.id).containsExactly(4L, 5L, 6L);
    task.progress(70);
    List<Msg> live = expectExactly(second, stored(sid, 6));
    assertThat(live).extracting(m -> m.id).containsExactly(7L);
  }

  @Test
  void anUnknownSessionOrAnotherTenantsIsA404AndAKeyIsRequired() throws Exception {
    Sse unknown = open("nope-" + UUID.randomUUID(), InfraResource.KEY, "", null);
    assertProblem(unknown, 404);

    String sid = newSession(InfraResource.KEY);
    runningTask(sid).progress(1);
    String otherKey = "other-tenant-key-" + UUID.randomUUID();
    String otherTenant = "tenant-" + UUID.randomUUID();
    byte[] hash =
        MessageDigest.getInstance("SHA-256").digest(otherKey.getBytes(StandardCharsets.UTF_8));
    ledger
        .tenants()
        .ensureTenantKey(otherTenant, "key-" + HexFormat.of().formatHex(hash, 0, 6), hash);

    Sse foreign = open(sid, otherKey, "", null);
    assertProblem(foreign, 404);
    assertThat(foreign.body).doesNotContain("transfer.task.progress");

    // The other key is valid: its own session streams.
    String own = newSession(otherKey);
    Sse mine = open(own, otherKey, "", null);
    assertThat(mine.status).isEqualTo(200);
    assertThat(mine.contentType).startsWith("text/event-stream");

    Sse noKey = open(sid, null, "", null);
    assertProblem(noKey, 401);
    assertThat(noKey.wwwAuthenticate).isEqualTo("Bearer");
    assertProblem(open(sid, "wrong-key", "", null), 401);
  }

  @Test
  void aBadLastEventIdOrAfterIsA400NamingTheField() throws Exception {
    String sid = newSession(InfraResource.KEY);
    for (String bad : new String[] {"abc", "-1", "1.5", "99999999999999999999"}) {
      Sse sse = open(sid, InfraResource.KEY, "", bad);
      JsonNode problem = assertProblem(sse, 400);
      assertThat(fields(problem)).containsExactly("Last-Event-ID");
    }
    JsonNode after = assertProblem(open(sid, InfraResource.KEY, "?after=-5", null), 400);
    assertThat(fields(after)).containsExactly("after");
    JsonNode both = assertProblem(open(sid, InfraResource.KEY, "?after=x", "y"), 400);
    assertThat(fields(both)).containsExactlyInAnyOrder("after", "Last-Event-ID");
  }

  @Test
  void aSlowClientPausesTheStreamAndStillGetsEveryEventInOrder() throws Exception {
    String sid = newSession(InfraResource.KEY);
    // About 12 KiB per event, about 20 MB in all: more than the socket buffers hold, and more
    // than two ledger batches.
    Task task = runningTask(sid, "{\"pad\":\"" + "x".repeat(12 * 1024) + "\"}");
    int count = 1_700;
    for (int i = 1; i <= count; i++) {
      task.progress(i);
    }
    long pausesBefore = route.backPressurePauses();
    Sse sse = openUnread(sid, InfraResource.KEY, "", null);
    assertThat(sse.status).isEqualTo(200);
    // Nobody reads: the server must notice the full write queue and stop.
    await().atMost(Duration.ofSeconds(30)).until(() -> route.backPressurePauses() > pausesBefore);
    sse.startReading();
    List<Msg> got = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      got.add(sse.next());
    }
    assertThat(got).extracting(m -> m.id).isEqualTo(range(1, count));
    assertThat(got.get(count - 1).data().get("data").get("totalBytesTransferred").asLong())
        .isEqualTo(count);
    task.progress(count + 1);
    assertThat(sse.next().id).isEqualTo(count + 1);
  }

  @Test
  void anEventStoredWithoutANotificationStillArrivesByPolling() throws Exception {
    String sid = newSession(InfraResource.KEY);
    runningTask(sid).progress(1);
    Sse sse = open(sid, InfraResource.KEY, "", null);
    List<JsonNode> stored = stored(sid, 0);
    expectExactly(sse, stored);
    // A lost notification: an event numbered the way the sequencer numbers one (under its lock),
    // minus the notification of its round.
    JsonNode copy = stored.get(0);
    long seq;
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
        ps.setLong(1, 0x7472616e73657173L); // EventSequencer's lock
        ps.execute();
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "update sessions set last_event_seq = last_event_seq + 1"
                  + " where tenant_id = ? and id = ? returning last_event_seq")) {
        ps.setString(1, TENANT);
        ps.setString(2, sid);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          seq = rs.getLong(1);
        }
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "with e as (insert into events (xid, time, tenant_id, session_id, id, type, task_id,"
                  + " data) values ('0', now(), ?, ?, ?, ?, ?, ?::jsonb) returning xid, pos),"
                  + " q as (update event_sequencer set last_ord = last_ord + 1 where id = 1"
                  + " returning last_ord)"
                  + " insert into event_numbers (ord, xid, pos, tenant_id, session_id, seq, publish)"
                  + " select q.last_ord, e.xid, e.pos, ?, ?, ?, true from e, q")) {
        ps.setString(1, TENANT);
        ps.setString(2, sid);
        ps.setString(3, UUID.randomUUID().toString());
        ps.setString(4, copy.get("type").asText());
        ps.setString(5, copy.get("subject").asText());
        ps.setString(6, JSON.writeValueAsString(copy.get("data")));
        ps.setString(7, TENANT);
        ps.setString(8, sid);
        ps.setLong(9, seq);
        ps.executeUpdate();
      }
      c.commit();
    }
    expectExactly(sse, stored(sid, seq - 1));
  }

  @Test
  void atShutdownTheStreamEndsCleanlyAndIsReleased() throws Exception {
    String sid = newSession(InfraResource.KEY);
    runningTask(sid).progress(5);
    Sse sse = open(sid, InfraResource.KEY, "", null);
    expectExactly(sse, stored(sid, 0));
    assertThat(route.openStreams()).isEqualTo(1);
    route.endAll(); // what the ShutdownEvent observer does, without stopping the application
    await().atMost(Duration.ofSeconds(10)).until(sse.endedCleanly::get);
    await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() == 0);
  }

  // ---------------------------------------------------------------- helpers

  private static String newSession(String key) {
    return TestSessions.create(key, "sse");
  }

  private Task runningTask(String sid) {
    return runningTask(sid, "{\"k\":\"v\"}");
  }

  /** A submitted task, claimed as a worker would: ready for progress and completion events. */
  private Task runningTask(String sid, String metadata) {
    String tid =
        given()
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .contentType(ContentType.JSON)
            .body(
                "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/sse\",\"metadata\":"
                    + metadata
                    + "}")
            .post("/v1/sessions/" + sid + "/tasks")
            .then()
            .statusCode(201)
            .body("state", equalTo("queued"))
            .extract()
            .path("id");
    long epoch = TestClaims.claim(ledger, tid, "test-worker", LEASE).orElseThrow().epoch();
    return new Task(tid, epoch);
  }

  private final class Task {
    final String id;
    final long epoch;
    long bytes;

    Task(String id, long epoch) {
      this.id = id;
      this.epoch = epoch;
    }

    void progress(long total) {
      long delta = total - bytes;
      bytes = total;
      assertThat(
              ledger
                  .leases()
                  .heartbeat(
                      Lease.of(id, epoch),
                      LEASE,
                      new Leases.Heartbeat(total, null, 1_000_000L, true, delta)))
          .isTrue();
      numbered();
    }

    void complete(long size) {
      assertThat(
              ledger
                  .leases()
                  .completeDownload(
                      Lease.of(id, epoch), "file:///tmp/" + id, size, "0".repeat(64), size - bytes))
          .isTrue();
      numbered();
    }

    /**
     * The events just written are numbered at once, as the relay numbers them within milliseconds:
     * the test then knows their sequence numbers.
     */
    private void numbered() {
      ledger.eventSequencer().sequenceEvents(10_000);
    }
  }

  private List<JsonNode> stored(String sid, long after) {
    return ledger.eventReplay().events(TENANT, sid, after, 10_000);
  }

  private static long seq(JsonNode event) {
    return event.get("sequence").asLong();
  }

  private static List<Long> range(long from, long to) {
    List<Long> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(i);
    }
    return out;
  }

  /**
   * The next messages are exactly {@code expected}, in order: id = sequence, event = type, data =
   * the stored CloudEvent on one line.
   */
  private static List<Msg> expectExactly(Sse sse, List<JsonNode> expected) throws Exception {
    assertThat(expected).isNotEmpty();
    List<Msg> got = new ArrayList<>();
    for (JsonNode event : expected) {
      Msg m = sse.next();
      got.add(m);
      assertThat(m.id).as("message id").isEqualTo(seq(event));
      assertThat(m.event).isEqualTo(event.get("type").asText());
      assertThat(m.dataLines).as("data lines of message %d", m.id).isEqualTo(1);
      assertThat(m.data()).isEqualTo(event);
    }
    return got;
  }

  private static JsonNode assertProblem(Sse sse, int status) throws IOException {
    assertThat(sse.status).as("status; body %s", sse.body).isEqualTo(status);
    assertThat(sse.contentType).isEqualTo("application/problem+json");
    JsonNode problem = JSON.readTree(sse.body);
    assertThat(problem.get("status").asInt()).isEqualTo(status);
    assertThat(problem.get("type").asText()).startsWith("urn:transfer:problem:");
    assertThat(problem.hasNonNull("title")).isTrue();
    assertThat(problem.hasNonNull("detail")).isTrue();
    return problem;
  }

  private static List<String> fields(JsonNode problem) {
    List<String> out = new ArrayList<>();
    problem.get("errors").forEach(e -> out.add(e.get("field").asText()));
    return out;
  }

  private Sse open(String sid, String key, String query, String lastEventId) throws Exception {
    Sse sse = openUnread(sid, key, query, lastEventId);
    if (sse.status == 200) {
      sse.startReading();
    }
    return sse;
  }

  private Sse openUnread(String sid, String key, String query, String lastEventId)
      throws Exception {
    URI uri = base.toURI().resolve("/v1/sessions/" + sid + "/events/stream" + query);
    HttpRequest.Builder req =
        HttpRequest.newBuilder(uri).header("Accept", "text/event-stream").GET();
    if (key != null) {
      req.header("Authorization", "Bearer " + key);
    }
    if (lastEventId != null) {
      req.header("Last-Event-ID", lastEventId);
    }
    HttpResponse<InputStream> response =
        http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofInputStream())
            .get(10, TimeUnit.SECONDS);
    Sse sse = new Sse(response);
    opened.add(sse);
    return sse;
  }

  record Msg(long id, String event, String dataText, int dataLines) {
    JsonNode data() throws IOException {
      return JSON.readTree(dataText);
    }
  }

  /** A minimal Server-Sent Events reader (the WHATWG parsing rules this API needs). */
  static final class Sse {
    final int status;
    final String contentType;
    final String cacheControl;
    final String wwwAuthenticate;
    final String body;
    private final InputStream in;
    private final BlockingQueue<Msg> messages = new LinkedBlockingQueue<>();
    private final AtomicBoolean ended = new AtomicBoolean();

    /** The server ended the response (a complete chunked body), rather than an error or a close. */
    final AtomicBoolean endedCleanly = new AtomicBoolean();

    private Thread thread;

    Sse(HttpResponse<InputStream> response) throws IOException {
      status = response.statusCode();
      contentType = response.headers().firstValue("Content-Type").orElse("");
      cacheControl = response.headers().firstValue("Cache-Control").orElse("");
      wwwAuthenticate = response.headers().firstValue("WWW-Authenticate").orElse(null);
      in = response.body();
      if (status != 200) {
        try (InputStream s = in) {
          body = new String(s.readAllBytes(), StandardCharsets.UTF_8);
        }
      } else {
        body = null;
      }
    }

    void startReading() {
      thread = new Thread(this::read, "sse-test-reader");
      thread.setDaemon(true);
      thread.start();
    }

    /** The next message, waiting at most {@link #LIVE}; fails the test otherwise. */
    Msg next() throws InterruptedException {
      Msg m = messages.poll(LIVE.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(m).as("an event within %s (stream ended: %s)", LIVE, ended.get()).isNotNull();
      return m;
    }

    private void read() {
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String id = null;
        String event = null;
        StringBuilder data = null;
        int dataLines = 0;
        String line;
        while ((line = r.readLine()) != null) {
          if (line.isEmpty()) {
            if (data != null) {
              messages.add(
                  new Msg(id == null ? -1 : Long.parseLong(id), event, data.toString(), dataLines));
            }
            id = null;
            event = null;
            data = null;
            dataLines = 0;
            continue;
          }
          if (line.startsWith(":")) {
            continue; // a comment: keep-alive
          }
          int colon = line.indexOf(':');
          String field = colon < 0 ? line : line.substring(0, colon);
          String value = colon < 0 ? "" : line.substring(colon + 1);
          if (value.startsWith(" ")) {
            value = value.substring(1);
          }
          switch (field) {
            case "id" -> id = value;
            case "event" -> event = value;
            case "data" -> {
              data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
              dataLines++;
            }
            default -> {
              // retry and unknown fields are ignored
            }
          }
        }
        endedCleanly.set(true);
      } catch (IOException e) {
        // closed by the test
      } finally {
        ended.set(true);
      }
    }

    void close() {
      try {
        in.close();
      } catch (IOException e) {
        // already closed
      }
      if (thread != null) {
        thread.interrupt();
      }
    }
  }
}
