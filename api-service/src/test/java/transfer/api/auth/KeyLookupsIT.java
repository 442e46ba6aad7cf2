package transfer.api.auth;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TightLimits;

/**
 * Second catalogue, fault 5: a flood of made-up API keys from one address costs the database the
 * address's budget of key lookups (20 at once, then 5 a second, the defaults), not a query per
 * request; past it the answer is 429 with Retry-After. A known key, cached, still works from that
 * address.
 */
@QuarkusTest
@TestProfile(TightLimits.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class KeyLookupsIT {
  @Inject AgroalDataSource db;

  @Test
  void aFloodOfMadeUpKeysCostsTheBudgetNotAQueryEach() throws Exception {
    // The known key first: cached, it is not looked up again during the flood.
    given()
        .header("Authorization", "Bearer " + InfraResource.KEY)
        .get("/v1/sessions")
        .then()
        .statusCode(200);
    long lookupsBefore = keyLookups();
    long started = System.nanoTime();
    int unauthorized = 0;
    int limited = 0;
    int sent = 0;
    // The flood stays within the valid key's cache period (ApiKeys.CACHE_TTL, 10 s), so that the
    // check after it is of a key still cached, which is what the budget promises to leave alone.
    long until = started + java.util.concurrent.TimeUnit.SECONDS.toNanos(6);
    for (; sent < 300 && System.nanoTime() < until; sent++) {
      Response r =
          given()
              .header("Authorization", "Bearer made-up-" + UUID.randomUUID())
              .get("/v1/sessions");
      if (r.statusCode() == 401) {
        unauthorized++;
      } else {
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(429);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.jsonPath().getString("type")).endsWith("quota-exceeded:key-lookups");
        assertThat(r.header("Retry-After")).isNotNull();
        limited++;
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    long lookups = keyLookups() - lookupsBefore;

    System.out.printf(
        "[figures] %d made-up keys in %.1f s: %d answered 401, %d answered 429, %d key lookups"
            + " in the database%n",
        sent, seconds, unauthorized, limited, lookups);
    long budget = 20 + (long) Math.ceil(5 * seconds) + 1;
    assertThat(unauthorized).isLessThanOrEqualTo((int) budget);
    // Each 401 took a lookup; pg_stat_statements (where the server preloads it, as the embedded
    // one does) counts them independently of the answers.
    if (lookupsBefore >= 0) {
      assertThat(lookups).isLessThanOrEqualTo(budget);
    }
    assertThat(limited).isGreaterThan(0);
    given()
        .header("Authorization", "Bearer " + InfraResource.KEY)
        .get("/v1/sessions")
        .then()
        .statusCode(200);
  }

  /**
   * Calls of the key lookup statement so far (pg_stat_statements, all databases' clients); -1 when
   * the server does not preload pg_stat_statements.
   */
  private long keyLookups() {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement()) {
      st.execute("create extension if not exists pg_stat_statements");
      try (ResultSet rs =
          st.executeQuery(
              "select coalesce(sum(calls), 0) from pg_stat_statements"
                  + " where query like 'select tenant_id from api_keys where key_hash%'")) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (java.sql.SQLException e) {
      return -1;
    }
  }
}
