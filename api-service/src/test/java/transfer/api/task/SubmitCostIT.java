package transfer.api.task;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.testkit.TestInfra;

/**
 * What a submit costs the ledger, per task, through the whole API (session check, quotas, the
 * insert): statements ({@code pg_stat_statements}), commits ({@code pg_stat_database.xact_commit})
 * and WAL bytes, for single POSTs with and without an Idempotency-Key and for batches of 100. The
 * service's background work (relay, sequencer, reaper, gauges) runs meanwhile, so the figures are
 * taken over many submits and an idle stretch of the same length is subtracted.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class SubmitCostIT {
  private static final String TASK = "{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/c\"}";
  private static final int SINGLES = 200;
  private static final int BATCHES = 10;
  private static final int BATCH = 100;

  /** Statements, commits and WAL bytes of a stretch, with the statements by text. */
  record Cost(
      long statements, long commits, long walBytes, long millis, Map<String, Long> byQuery) {
    Cost minus(Cost idle) {
      // The idle stretch's background work, scaled to this stretch's length.
      double f = idle.millis == 0 ? 0 : (double) millis / idle.millis;
      return new Cost(
          statements - Math.round(idle.statements * f),
          commits - Math.round(idle.commits * f),
          walBytes - Math.round(idle.walBytes * f),
          millis,
          byQuery);
    }

    String perTask(int tasks) {
      return String.format(
          "%.2f statements, %.3f transactions, %.0f WAL bytes per task",
          (double) statements / tasks, (double) commits / tasks, (double) walBytes / tasks);
    }
  }

  private static Connection db() throws Exception {
    TestInfra infra = TestInfra.shared();
    return DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
  }

  private static void reset(Connection c) throws Exception {
    try (Statement st = c.createStatement()) {
      st.execute("create extension if not exists pg_stat_statements");
      st.execute("select pg_stat_statements_reset()");
      st.execute("select pg_stat_clear_snapshot()");
    }
  }

  private static long scalar(Connection c, String sql) throws Exception {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /**
   * Runs {@code work} and answers what the database did meanwhile: every statement
   * pg_stat_statements counted (COMMIT is one of them, the commits; BEGIN is not counted as a
   * statement), and the WAL.
   */
  private static Cost measure(Runnable work) throws Exception {
    try (Connection c = db()) {
      reset(c);
      long wal0 = scalar(c, "select pg_current_wal_lsn() - '0/0'::pg_lsn");
      long t0 = System.nanoTime();
      work.run();
      long millis = (System.nanoTime() - t0) / 1_000_000;
      long wal = scalar(c, "select pg_current_wal_lsn() - '0/0'::pg_lsn") - wal0;
      Map<String, Long> byQuery = new LinkedHashMap<>();
      long statements = 0;
      long commits = 0;
      try (PreparedStatement ps =
          c.prepareStatement(
              "select calls, query from pg_stat_statements s join pg_database d on d.oid ="
                  + " s.dbid where d.datname = current_database() and query not like"
                  + " '%pg_stat%' and query not like '%pg_current_wal_lsn%' order by calls"
                  + " desc")) {
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String q = rs.getString(2).replaceAll("\\s+", " ").trim();
            // Every transaction of the pool's connections begins with a BEGIN (a read-only one
            // too); their COMMITs are not all counted, so BEGIN counts the transactions.
            if (q.equalsIgnoreCase("begin")) {
              commits += rs.getLong(1);
            } else if (!q.equalsIgnoreCase("commit")) {
              statements += rs.getLong(1);
            }
            byQuery.put(q, rs.getLong(1));
          }
        }
      }
      return new Cost(statements, commits, wal, millis, byQuery);
    }
  }

  private static void single(String sid, String key) {
    var r =
        given()
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .contentType(ContentType.JSON);
    if (key != null) {
      r = r.header("Idempotency-Key", key);
    }
    r.body(TASK).post("/v1/sessions/" + sid + "/tasks").then().statusCode(201);
  }

  private static void batch(String sid) {
    given()
        .urlEncodingEnabled(false)
        .header("Authorization", "Bearer " + InfraResource.KEY)
        .contentType(ContentType.JSON)
        .body("{\"tasks\":[" + String.join(",", java.util.Collections.nCopies(BATCH, TASK)) + "]}")
        .post("/v1/sessions/" + sid + "/tasks:batch")
        .then()
        .statusCode(201);
  }

  private static void report(String what, Cost raw, Cost idle, int tasks) {
    Cost cost = raw.minus(idle);
    System.out.printf(
        "SUBMIT COST %s: %s (raw %s, %d ms)%n",
        what, cost.perTask(tasks), raw.perTask(tasks), raw.millis());
    raw.byQuery().entrySet().stream()
        .limit(14)
        .forEach(e -> System.out.printf("  %7d  %.160s%n", e.getValue(), e.getKey()));
  }

  private static long calls(Cost c, String prefix) {
    return c.byQuery().entrySet().stream()
        .filter(e -> e.getKey().startsWith(prefix))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  @Test
  void aSubmitCostsFewStatementsAndCommitsPerTask() throws Exception {
    String sid = TestSessions.create(InfraResource.KEY, "cost");
    for (int i = 0; i < 20; i++) {
      single(sid, null);
    }
    batch(sid);
    Cost singles =
        measure(
            () -> {
              for (int i = 0; i < SINGLES; i++) {
                single(sid, null);
              }
            });
    Cost idle =
        measure(
            () -> {
              try {
                Thread.sleep(Math.max(200, singles.millis()));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    Cost keyed =
        measure(
            () -> {
              for (int i = 0; i < SINGLES; i++) {
                single(sid, "cost-" + UUID.randomUUID());
              }
            });
    Cost batches =
        measure(
            () -> {
              for (int i = 0; i < BATCHES; i++) {
                batch(sid);
              }
            });
    report("idle", idle, new Cost(0, 0, 0, 0, Map.of()), 1);
    report("single POST", singles, idle, SINGLES);
    report("single POST with Idempotency-Key", keyed, idle, SINGLES);
    report("batch of " + BATCH, batches, idle, BATCHES * BATCH);
    // What the submits ran themselves (the background runs none of these): no sums over the
    // tenant's history, at most one insert of tasks per request, one per batch.
    for (Cost c : List.of(singles, keyed, batches)) {
      // The reaper's usage recount (30 s after start, then every 6 h) sums on purpose, and may
      // fall into a measured window: it is not the submits'.
      assertThat(c.byQuery().keySet().stream().filter(q -> !q.startsWith("with counted as")))
          .noneMatch(q -> q.contains("sum(size)") || q.contains("sum(bytes_transferred)"))
          .noneMatch(q -> q.startsWith("select count(*) from (select"));
    }
    assertThat(calls(singles, "insert into tasks")).isBetween(1L, (long) SINGLES);
    assertThat(calls(keyed, "insert into idempotency_keys")).isBetween(1L, (long) SINGLES);
    assertThat(calls(batches, "insert into tasks")).isEqualTo(BATCHES);
    // One multi-row insert of doorbells per batch; the reaper's re-announcement of a task that
    // waited long (one row, no worker runs here) may fall into the window and is not the submits'.
    assertThat(
            batches.byQuery().entrySet().stream()
                .filter(
                    e ->
                        e.getKey().startsWith("insert into outbox")
                            && e.getKey().contains("unnest"))
                .mapToLong(Map.Entry::getValue)
                .sum())
        .isEqualTo(BATCHES);
  }
}
