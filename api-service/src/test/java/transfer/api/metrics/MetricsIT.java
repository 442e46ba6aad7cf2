package transfer.api.metrics;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.contracts.Metric;
import transfer.contracts.TaskState;
import transfer.contracts.Topics;
import transfer.ledger.Ledger;
import transfer.ledger.TestClaims;
import transfer.testkit.PrometheusText;

/**
 * {@code /q/metrics} of the api-service on the real ledger and broker: open to a plain GET,
 * Prometheus text, every metric of {@link Metric.Service#API} under the name the dashboard uses,
 * and values that follow what the test does. Other test classes share the database (and leave tasks
 * queued, since no worker runs here), so the checks are on differences.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class MetricsIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Inject Ledger ledger;

  /** The classic Prometheus text format (0.0.4). */
  private static PrometheusText scrape() {
    return PrometheusText.parse(
        given().accept("text/plain").get("/q/metrics").then().statusCode(200).extract().asString());
  }

  /** A scrape once the first read of the ledger is in (the gauges are NaN before). */
  private static PrometheusText scrapeWithQueue() {
    AtomicReference<PrometheusText> out = new AtomicReference<>();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              PrometheusText t = scrape();
              assertThat(t.value("transfer_tasks", "state", "queued").orElse(Double.NaN))
                  .isNotNaN();
              out.set(t);
            });
    return out.get();
  }

  private static List<String> submit(String sid, int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(
          given()
              .header("Authorization", "Bearer " + InfraResource.KEY)
              .contentType(ContentType.JSON)
              .body("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/metrics-" + i + "\"}")
              .post("/v1/sessions/" + sid + "/tasks")
              .then()
              .statusCode(201)
              .extract()
              .path("id"));
    }
    return ids;
  }

  @Test
  void everyApiMetricIsServedInBothTextFormats() {
    PrometheusText t = scrapeWithQueue();
    // What Prometheus asks for first, and what a plain GET (Accept: */*, curl) gets from Quarkus.
    Response open = given().get("/q/metrics");
    assertThat(open.statusCode()).isEqualTo(200);
    assertThat(open.contentType()).startsWith("application/openmetrics-text; version=1.0.0");
    assertThat(open.body().asString()).contains("# TYPE transfer_tasks gauge").endsWith("# EOF\n");
    // The classic text format, for Accept: text/plain.
    Response text = given().accept("text/plain").get("/q/metrics");
    assertThat(text.statusCode()).isEqualTo(200);
    assertThat(text.contentType()).startsWith("text/plain; version=0.0.4");
    assertThat(text.body().asString()).contains("# TYPE transfer_tasks gauge");

    PrometheusText openMetrics = PrometheusText.parse(open.body().asString());
    for (Metric m : Metric.of(Metric.Service.API)) {
      for (String series : m.series()) {
        assertThat(t.has(series)).as("%s (%s) is served", series, m.meterName()).isTrue();
        assertThat(openMetrics.has(series)).as("%s in OpenMetrics", series).isTrue();
      }
    }
    for (TaskState s : ApiMetrics.OPEN_STATES) {
      assertThat(t.find("transfer_tasks", "state", s.wire())).hasSize(1);
    }
    for (String action : ApiMetrics.REAPER_ACTIONS) {
      assertThat(t.find("transfer_reaper_tasks_total", "action", action)).hasSize(1);
    }
    for (String lane : ApiMetrics.OUTBOX_LANES) {
      assertThat(t.find("transfer_outbox_parked_total", "lane", lane)).hasSize(1);
    }
    for (String step : ApiMetrics.REAPER_STEPS) {
      assertThat(t.find("transfer_reaper_step_failures_total", "step", step)).hasSize(1);
    }
    for (String topic : List.of(Topics.TASKS, Topics.EVENTS)) {
      assertThat(t.find("transfer_outbox_publish_seconds_count", "topic", topic)).hasSize(1);
    }
    // The publish latency is a histogram Prometheus can aggregate across replicas.
    assertThat(t.find("transfer_outbox_publish_seconds_bucket", "topic", Topics.TASKS).size())
        .isGreaterThan(5);
  }

  @Test
  void metricsNeedNoKeyAndAreNotPartOfTheApiDocument() {
    given().get("/q/metrics").then().statusCode(200);
    given().accept("text/plain").get("/q/metrics").then().statusCode(200);
    given().header("Authorization", "Bearer wrong").get("/q/metrics").then().statusCode(200);
    String document = given().queryParam("format", "json").get("/q/openapi").asString();
    assertThat(document).doesNotContain("/q/metrics").contains("/v1/sessions");
  }

  @Test
  void submittedTasksAreCountedQueuedAndTheirDoorbellsPublished() {
    PrometheusText before = scrapeWithQueue();
    double queued = before.value("transfer_tasks", "state", "queued").getAsDouble();
    double published =
        before.value("transfer_outbox_publish_seconds_count", "topic", Topics.TASKS).getAsDouble();

    String sid = TestSessions.create(InfraResource.KEY, "metrics");
    List<String> ids = submit(sid, 3);

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              PrometheusText t = scrape();
              // Nothing claims here: the three stay queued (other classes' tasks only add).
              assertThat(t.value("transfer_tasks", "state", "queued").getAsDouble())
                  .isGreaterThanOrEqualTo(queued + 3);
              // The relay published each doorbell and Kafka acknowledged it.
              assertThat(
                      t.value("transfer_outbox_publish_seconds_count", "topic", Topics.TASKS)
                          .getAsDouble())
                  .isGreaterThanOrEqualTo(published + 3);
              assertThat(
                      t.value("transfer_outbox_publish_seconds_sum", "topic", Topics.TASKS)
                          .getAsDouble())
                  .isPositive();
              assertThat(t.value("transfer_queue_oldest_age_seconds").getAsDouble()).isPositive();
              // The relay keeps up, so the outbox is (nearly) empty, and its age finite.
              assertThat(t.value("transfer_outbox_pending").getAsDouble())
                  .isGreaterThanOrEqualTo(0);
              assertThat(t.value("transfer_outbox_oldest_age_seconds").getAsDouble())
                  .isGreaterThanOrEqualTo(0)
                  .isLessThan(60);
            });

    // Bounded labels: no session or task id, whatever the requests were.
    String text = given().get("/q/metrics").asString();
    assertThat(text).doesNotContain(sid);
    for (String id : ids) {
      assertThat(text).doesNotContain(id);
    }
  }

  @Test
  void theReaperCountsALeaseThatExpiredAndQueuesTheTaskAgain() {
    String sid = TestSessions.create(InfraResource.KEY, "metrics-reaper");
    String id = submit(sid, 1).get(0);
    double before =
        scrape()
            .value("transfer_reaper_tasks_total", "action", ApiMetrics.LEASE_EXPIRED_REQUEUED)
            .getAsDouble();

    // A worker that claims and is gone at once: the lease expires before the next reaper pass.
    assertThat(TestClaims.claim(ledger, id, "metrics-it-worker", Duration.ofMillis(1))).isPresent();

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(ledger.taskControl().task("default", sid, id).orElseThrow().state())
                  .isEqualTo(TaskState.QUEUED);
              assertThat(
                      scrape()
                          .value(
                              "transfer_reaper_tasks_total",
                              "action",
                              ApiMetrics.LEASE_EXPIRED_REQUEUED)
                          .getAsDouble())
                  .isGreaterThanOrEqualTo(before + 1);
            });
  }
}
