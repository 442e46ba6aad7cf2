package transfer.api.input;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;
import transfer.ledger.Ledger;
import transfer.testkit.EventLog;
import transfer.testkit.TestInfra;

/**
 * Request headers (credentials: {@code Authorization}, {@code Cookie}, {@code X-Api-Key}) are
 * stored for the workers and never shown again: not in any API answer (session and task reads,
 * lists, submit, idempotent replay, cancel, validation errors), not in the stored events (replay
 * endpoint) nor on the Kafka topics, and not in the api-service's log, captured here at DEBUG for
 * the service's own code.
 */
@QuarkusTest
@TestProfile(QuietLedgerProfile.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class CredentialRedactionIT {
  private static final String TAG = UUID.randomUUID().toString().substring(0, 8);
  private static final String SESSION_SECRET = "s3cr3t-session-" + TAG;
  private static final String COOKIE_SECRET = "s3cr3t-cookie-" + TAG;
  private static final String TASK_SECRET = "s3cr3t-task-" + TAG;
  private static final String KEY_SECRET = "s3cr3t-key-" + TAG;
  private static final String URL_SECRET = "s3cr3t-url-" + TAG;
  private static final List<String> SECRETS =
      List.of(SESSION_SECRET, COOKIE_SECRET, TASK_SECRET, KEY_SECRET);

  @TestHTTPResource("/")
  URI base;

  @Inject Ledger ledger;
  @Inject ApiConfig config;

  @Test
  void headerValuesAreStoredButNeverAnsweredPublishedOrLogged() throws Exception {
    RawClient api = new RawClient(base);
    List<String> answers = new ArrayList<>();
    List<String> logs = Collections.synchronizedList(new ArrayList<>());
    Handler capture = capture(logs);
    Logger root = Logger.getLogger("");
    Logger service = Logger.getLogger("transfer");
    Level serviceLevel = service.getLevel();
    root.addHandler(capture);
    service.setLevel(Level.ALL);
    String sid = "creds-" + TAG;
    String tid;
    try {
      // A session whose headers carry credentials.
      RawClient.Answer a =
          api.json(
              "PUT",
              "/v1/sessions/" + sid,
              "{\"headers\":{\"Authorization\":\"Bearer "
                  + SESSION_SECRET
                  + "\",\"Cookie\":\"sid="
                  + COOKIE_SECRET
                  + "\"}}");
      assertThat(a.status()).as("%s", a).isEqualTo(201);
      assertThat(a.json().at("/config/headers/Authorization").asText()).isEqualTo("***");
      assertThat(a.json().at("/config/headers/Cookie").asText()).isEqualTo("***");
      answers.add(a.text());
      answers.add(
          api.json(
                  "PUT",
                  "/v1/sessions/" + sid,
                  a.json()
                      .get("config")
                      .toString()
                      .replace("\"***\"", "\"Bearer " + SESSION_SECRET + "\""))
              .text());

      // A task with its own credentials, submitted with an Idempotency-Key, then replayed.
      String task =
          "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/x?token="
              + URL_SECRET
              + "\",\"headers\":{\"Authorization\":\"Bearer "
              + TASK_SECRET
              + "\",\"X-Api-Key\":\""
              + KEY_SECRET
              + "\"},\"metadata\":{\"order\":1}}";
      Map<String, String> idem =
          Map.of("Content-Type", "application/json", "Idempotency-Key", "creds-" + TAG);
      a = api.send("POST", "/v1/sessions/" + sid + "/tasks", idem, bytes(task));
      assertThat(a.status()).as("%s", a).isEqualTo(201);
      assertThat(a.json().at("/headers/Authorization").asText()).isEqualTo("***");
      assertThat(a.json().at("/headers/X-Api-Key").asText()).isEqualTo("***");
      tid = a.json().get("id").asText();
      answers.add(a.text());
      a = api.send("POST", "/v1/sessions/" + sid + "/tasks", idem, bytes(task));
      assertThat(a.status()).as("replay %s", a).isEqualTo(201);
      answers.add(a.text());
      // The same key with other credentials: 422, and the answer quotes neither.
      a =
          api.send(
              "POST",
              "/v1/sessions/" + sid + "/tasks",
              idem,
              bytes(task.replace(TASK_SECRET, TASK_SECRET + "-other")));
      assertThat(a.status()).as("%s", a).isEqualTo(422);
      answers.add(a.text());
      // Refused header values are not quoted in the problem either.
      a =
          api.json(
              "POST",
              "/v1/sessions/" + sid + "/tasks",
              task.replace("Bearer " + TASK_SECRET, "Bearer " + TASK_SECRET + "\\r\\nX: 1"));
      assertThat(a.status()).as("%s", a).isEqualTo(400);
      assertThat(a.fields()).contains("headers.Authorization");
      answers.add(a.text());

      // Every read.
      answers.add(get(api, "/v1/sessions/" + sid));
      answers.add(get(api, "/v1/sessions?limit=1000"));
      answers.add(get(api, "/v1/sessions/" + sid + "/tasks"));
      answers.add(get(api, "/v1/sessions/" + sid + "/tasks/" + tid));
      // Cancel answers the task, and writes the completion event.
      a = api.json("POST", "/v1/sessions/" + sid + "/tasks/" + tid + "/cancel", "{}");
      assertThat(a.status()).as("%s", a).isEqualTo(200);
      answers.add(a.text());
      // Events are numbered (and readable) a few milliseconds after the cancel's commit.
      String[] read = new String[1];
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(10))
          .until(
              () -> (read[0] = get(api, "/v1/sessions/" + sid + "/events?after=0")),
              text -> text.contains("transfer.task.completed"));
      String events = read[0];
      answers.add(events);
      a = api.send("DELETE", "/v1/sessions/" + sid, Map.of(), null);
      assertThat(a.status()).as("%s", a).isEqualTo(200);
      answers.add(a.text());
    } finally {
      service.setLevel(serviceLevel);
      root.removeHandler(capture);
    }

    // The ledger does hold them: the workers need them.
    assertThat(
            ledger
                .taskControl()
                .task(config.api().bootstrapTenant(), sid, tid)
                .orElseThrow()
                .request()
                .headers())
        .containsEntry("Authorization", "Bearer " + TASK_SECRET)
        .containsEntry("X-Api-Key", KEY_SECRET);
    assertThat(
            ledger
                .sessions()
                .session(config.api().bootstrapTenant(), sid)
                .orElseThrow()
                .config()
                .headers())
        .containsEntry("Authorization", "Bearer " + SESSION_SECRET);

    for (String secret : SECRETS) {
      assertThat(answers).as("API answers").noneMatch(text -> text.contains(secret));
    }
    // What reached Kafka: the session's events and the task's doorbells.
    String bootstrap = TestInfra.shared().kafkaBootstrap();
    List<JsonNode> published =
        EventLog.readSession(
            bootstrap,
            TestInfra.EVENTS_TOPIC,
            sid,
            got -> got.stream().anyMatch(e -> e.path("type").asText().endsWith(".completed")),
            Duration.ofSeconds(20));
    assertThat(published).as("events on the topic").isNotEmpty();
    List<JsonNode> doorbells =
        EventLog.readSession(
            bootstrap, TestInfra.TASKS_TOPIC, tid, got -> !got.isEmpty(), Duration.ofSeconds(20));
    assertThat(doorbells).as("doorbells").isNotEmpty();
    for (String secret : SECRETS) {
      assertThat(published).as("events").noneMatch(e -> e.toString().contains(secret));
      assertThat(doorbells).as("doorbells").noneMatch(e -> e.toString().contains(secret));
    }
    // The log saw this test's requests (the cancel is logged) but no credential, nor the URL's
    // query.
    assertThat(logs).as("captured log").anyMatch(line -> line.contains(tid));
    for (String secret : SECRETS) {
      assertThat(logs).as("log lines").noneMatch(line -> line.contains(secret));
    }
    assertThat(logs).as("log lines").noneMatch(line -> line.contains(URL_SECRET));
  }

  private static String get(RawClient api, String path) throws Exception {
    RawClient.Answer a = api.send("GET", path, Map.of(), null);
    assertThat(a.status()).as("GET %s: %s", path, a).isEqualTo(200);
    return a.text();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A handler that keeps every record's formatted message and stack trace. */
  private static Handler capture(List<String> lines) {
    Handler h =
        new Handler() {
          @Override
          public void publish(LogRecord r) {
            String message =
                r instanceof ExtLogRecord ext ? ext.getFormattedMessage() : r.getMessage();
            StringWriter trace = new StringWriter();
            if (r.getThrown() != null) {
              r.getThrown().printStackTrace(new PrintWriter(trace));
            }
            lines.add(r.getLoggerName() + " " + message + " " + trace);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    h.setLevel(Level.ALL);
    return h;
  }
}
