package transfer.api.load;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.Overloaded;
import transfer.api.TestSessions;

/**
 * Load shedding, on the real service and database: with the ledger slow (a row lock held, so four
 * requests wait in it) the instance serves its {@code transfer.api.max-in-flight} (4 here) and
 * answers one more 503 problem+json {@code overloaded} with {@code Retry-After: 1} at once, without
 * starting it; health is still answered; once the ledger answers, all four complete and new
 * requests are served.
 */
@QuarkusTest
@TestProfile(Overloaded.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class LoadSheddingIT {
  @Inject AgroalDataSource dataSource;
  @Inject LoadShedding shedding;

  private static io.restassured.specification.RequestSpecification api() {
    return given().header("Authorization", "Bearer " + InfraResource.KEY);
  }

  @Test
  void pastItsRequestsAtOnceTheApiAnswers503AtOnceAndServesAgainAfter() throws Exception {
    String sid = TestSessions.create(InfraResource.KEY, "shed");
    List<CompletableFuture<Integer>> waiting = new ArrayList<>();
    try (Connection lock = dataSource.getConnection()) {
      lock.setAutoCommit(false);
      try (PreparedStatement ps =
          lock.prepareStatement(
              "select 1 from sessions where tenant_id = 'default' and id = ? for update")) {
        ps.setString(1, sid);
        ps.executeQuery().close();
      }
      // Four updates of the locked session: each waits in the database, holding its request.
      for (int i = 0; i < 4; i++) {
        waiting.add(
            CompletableFuture.supplyAsync(
                () ->
                    api()
                        .contentType(ContentType.JSON)
                        .body("{}")
                        .put("/v1/sessions/" + sid)
                        .statusCode()));
      }
      await("four requests in flight")
          .atMost(Duration.ofSeconds(10))
          .until(() -> shedding.inFlight() == 4);

      long t0 = System.nanoTime();
      Response shed = api().get("/v1/sessions");
      long tookMs = (System.nanoTime() - t0) / 1_000_000;
      System.out.printf(
          "[figures] the fifth request was answered %d in %d ms%n", shed.statusCode(), tookMs);
      assertThat(shed.statusCode()).isEqualTo(503);
      assertThat(shed.contentType()).startsWith("application/problem+json");
      assertThat(shed.header("Retry-After")).isEqualTo("1");
      assertThat(shed.jsonPath().getString("type")).endsWith(":overloaded");
      assertThat(tookMs).as("answered at once, not queued (ms)").isLessThan(2000);
      // A body is not read, and the connection is closed after the answer.
      Response shedWithBody =
          api().contentType(ContentType.JSON).body("{}").put("/v1/sessions/" + sid + "-other");
      assertThat(shedWithBody.statusCode()).isEqualTo(503);
      // Health is never shed.
      assertThat(given().get("/q/health/live").statusCode()).isEqualTo(200);
      assertThat(waiting).allMatch(f -> !f.isDone());
      lock.rollback();
    }
    for (CompletableFuture<Integer> f : waiting) {
      assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> shedding.inFlight() == 0);
    assertThat(api().get("/v1/sessions").statusCode()).isEqualTo(200);
    String metrics = given().get("/q/metrics").asString();
    assertThat(metrics).containsPattern("transfer_api_requests_shed_total(\\{[^}]*\\})? [1-9]");
  }
}
