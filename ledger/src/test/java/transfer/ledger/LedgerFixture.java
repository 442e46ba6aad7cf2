package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskRequest;
import transfer.contracts.TaskState;
import transfer.contracts.TaskType;

/**
 * What the ledger's tests of one concern start from: the class's own schema ({@link LedgerSchema}),
 * a settable clock, and for each test a new tenant with an active session of the default
 * configuration; with the calls many of them make.
 */
abstract class LedgerFixture {
  static final Duration TTL = Duration.ofSeconds(30);

  @RegisterExtension static final LedgerSchema db = new LedgerSchema();

  final SettableClock clock;
  Ledger ledger;
  String tenant;
  String session;

  LedgerFixture(String start) {
    clock = new SettableClock(Instant.parse(start));
  }

  @BeforeEach
  void newTenantAndSession() {
    ledger = new Ledger(db.dataSource(), clock);
    tenant = "t-" + UUID.randomUUID();
    session = "s-" + UUID.randomUUID();
    ledger
        .tenants()
        .ensureTenantKey(tenant, "k-" + tenant, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(tenant, session, SessionConfig.DEFAULT);
  }

  /** A download of a loopback URL, submitted with the default configuration. */
  TaskRow submit() {
    TaskRequest r = download("http://127.0.0.1/x");
    return ledger
        .submissions()
        .submit(tenant, session, r, SessionConfig.DEFAULT.withDefaults(), null, null)
        .task();
  }

  TaskRow submit(TaskRequest r) {
    return submitIn(session, r);
  }

  TaskRow submitIn(String sid, TaskRequest r) {
    SessionConfig cfg =
        ledger.sessions().session(tenant, sid).orElseThrow().config().withDefaults();
    return ledger.submissions().submit(tenant, sid, r, cfg, null, null).task();
  }

  TaskRow task(String id) {
    return ledger.taskControl().task(tenant, session, id).orElseThrow();
  }

  TaskState state(TaskRow t) {
    return ledger.taskControl().task(tenant, session, t.id()).orElseThrow().state();
  }

  /** A heartbeat without progress or checkpoint; false when the lease is no longer held. */
  boolean heartbeat(String id, long epoch) {
    return ledger
        .leases()
        .heartbeat(Lease.of(id, epoch), TTL, new Leases.Heartbeat(1, null, null, false, 0));
  }

  /** A heartbeat recording a checkpoint of {@code bytes}; it must be accepted. */
  void checkpoint(String id, long epoch, long bytes, String etag) {
    assertThat(
            ledger
                .leases()
                .heartbeat(
                    Lease.of(id, epoch),
                    TTL,
                    new Leases.Heartbeat(
                        bytes,
                        new Leases.Checkpoint(bytes, epoch, etag, null),
                        bytes * 4,
                        false,
                        0)))
        .isTrue();
  }

  /** The session's stored events, once the sequencer (the relay's job in a cluster) has run. */
  List<JsonNode> numberedEvents(String tenantId, String sessionId, long after, int limit) {
    ledger.eventSequencer().sequenceEvents(100_000);
    return ledger.eventReplay().events(tenantId, sessionId, after, limit);
  }

  /** The test session's last numbered event of a type, or null. */
  JsonNode lastOfType(String type) {
    JsonNode found = null;
    for (JsonNode e : numberedEvents(tenant, session, 0, 1000)) {
      if (e.get("type").asText().equals(type)) {
        found = e;
      }
    }
    return found;
  }

  List<String> outboxKeys(String topic) throws Exception {
    return db.outboxKeys(topic);
  }

  void clearOutbox() throws Exception {
    db.clearOutbox();
  }

  static TaskRequest download(String url) {
    return TaskRequest.download(url);
  }

  static TaskRequest withPriority(String url, double priority) {
    return new TaskRequest(
        TaskType.DOWNLOAD, url, null, null, null, null, null, priority, null, null, null, null);
  }

  /** A download that may not begin before {@code begin}. */
  static TaskRequest beginningAt(String url, java.time.Instant begin) {
    return new TaskRequest(
        TaskType.DOWNLOAD, url, null, null, null, null, null, null, begin, null, null, null);
  }

  static TaskRequest resumeWith(String resumeData) {
    return new TaskRequest(
        TaskType.DOWNLOAD, null, null, null, null, null, null, null, null, null, null, resumeData);
  }

  static SessionConfig config(Integer maxConcurrent, Integer perHost, boolean discretionary) {
    return new SessionConfig(maxConcurrent, perHost, null, null, discretionary, null, null, null);
  }

  /** A session whose tasks get a single attempt. */
  static SessionConfig oneAttempt() {
    return new SessionConfig(
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        new transfer.contracts.RetryPolicy(1, null, null));
  }
}
