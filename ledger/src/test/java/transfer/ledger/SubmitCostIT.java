package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import transfer.contracts.TaskRequest;

/**
 * What a submit costs the database, counted by pg_stat_statements (nothing else runs in the
 * ledger's test JVM meanwhile): the statements and transactions of a single submit, of a group of
 * single submits and of a batch. The figures do not grow with the number of tasks.
 */
class SubmitCostIT extends LedgerFixture {
  private static final Submit.Quota QUOTA = new Submit.Quota(1_000_000, Long.MAX_VALUE);

  SubmitCostIT() {
    super("2026-08-01T00:00:00Z");
  }

  /** Statements by text while {@code work} ran; "BEGIN" counts the transactions. */
  private Map<String, Long> statements(Runnable work) throws Exception {
    try (Connection c = db.dataSource().getConnection();
        Statement st = c.createStatement()) {
      st.execute("create extension if not exists pg_stat_statements schema public");
      st.execute("select public.pg_stat_statements_reset()");
      work.run();
      Map<String, Long> out = new LinkedHashMap<>();
      try (ResultSet rs =
          st.executeQuery(
              "select query, calls from public.pg_stat_statements where query not like"
                  + " '%pg_stat_statements%' order by calls desc, query")) {
        while (rs.next()) {
          out.put(rs.getString(1).replaceAll("\\s+", " ").trim(), rs.getLong(2));
        }
      }
      return out;
    }
  }

  private static long transactions(Map<String, Long> s) {
    return s.getOrDefault("BEGIN", 0L);
  }

  private static long statementsBesideBegin(Map<String, Long> s) {
    return s.entrySet().stream()
        // Beside the transactions' BEGIN and COMMIT, and the SET of each new connection (the test's
        // data source opens one per transaction; a pool does not).
        .filter(
            e ->
                !e.getKey().equals("BEGIN")
                    && !e.getKey().equals("COMMIT")
                    && !e.getKey().startsWith("SET "))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  private static long matching(Map<String, Long> s, String prefix) {
    return s.entrySet().stream()
        .filter(e -> e.getKey().startsWith(prefix))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  private void print(String what, Map<String, Long> s) {
    System.out.printf(
        "LEDGER SUBMIT COST %s: %d statements, %d transactions%n",
        what, statementsBesideBegin(s), transactions(s));
    s.forEach((q, n) -> System.out.printf("  %5d  %.150s%n", n, q));
  }

  /**
   * The statements of writing {@code submits} in one transaction (each accepted), printed as {@code
   * what}.
   */
  private Map<String, Long> cost(String what, Submit... submits) throws Exception {
    List<Submit> all = List.of(submits);
    Map<String, Long> s =
        statements(
            () ->
                assertThat(ledger.submissions().submitAll(all)).allMatch(o -> o.refusal() == null));
    print(what, s);
    return s;
  }

  private Submit single(String url) {
    return Submit.one(tenant, session, download(url), null, null).withQuota(QUOTA);
  }

  @Test
  void aSingleSubmitIsOneTransactionOfFourStatements() throws Exception {
    submit(); // prepared statements warm
    Map<String, Long> s = cost("single", single("http://127.0.0.1:9/1"));
    // The session, the tenant's usage, the task, its doorbell.
    assertThat(transactions(s)).isEqualTo(1);
    assertThat(statementsBesideBegin(s)).isEqualTo(4);
  }

  @Test
  void aBatchOfAHundredIsOneInsertOfTasksAndOneOfDoorbells() throws Exception {
    List<TaskRequest> hundred = Collections.nCopies(100, download("http://127.0.0.1:9/b"));
    Map<String, Long> s =
        cost("batch of 100", Submit.batch(tenant, session, hundred, null, null).withQuota(QUOTA));
    assertThat(transactions(s)).isEqualTo(1);
    assertThat(matching(s, "insert into tasks")).isEqualTo(1);
    assertThat(matching(s, "insert into outbox")).isEqualTo(1);
    assertThat(statementsBesideBegin(s)).isEqualTo(4);

    Map<String, Long> keyed =
        cost(
            "batch of 100 with an Idempotency-Key",
            Submit.batch(tenant, session, hundred, "batch-key", null).withQuota(QUOTA));
    // And the keys: one read, one insert.
    assertThat(statementsBesideBegin(keyed)).isEqualTo(6);
  }

  @Test
  void aGroupOfTwentySingleSubmitsIsOneTransactionOfFourStatements() throws Exception {
    Submit[] twenty = new Submit[20];
    for (int i = 0; i < twenty.length; i++) {
      twenty[i] = single("http://127.0.0.1:9/g" + i);
    }
    Map<String, Long> s = cost("group of 20 single submits", twenty);
    assertThat(transactions(s)).isEqualTo(1);
    assertThat(statementsBesideBegin(s)).isEqualTo(4);
  }
}
