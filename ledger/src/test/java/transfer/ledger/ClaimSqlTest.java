package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;

/** The claim's SQL files spell no session default: it is filled in from SessionConfig. */
class ClaimSqlTest {

  @Test
  void perHostDefaultComesFromSessionConfig() {
    String fallback =
        "coalesce((s.config->>'maxConnectionsPerHost')::int, "
            + SessionConfig.DEFAULT.maxConnectionsPerHost()
            + ")";
    ClaimStatements sql = new ClaimStatements(7);
    assertThat(sql.candidatesSql(8)).contains(fallback).doesNotContain("${").doesNotContain("?");
    assertThat(sql.claimCandidates).contains(fallback).contains("<= 7").doesNotContain("${");
    assertThat(sql.passedOver).contains(fallback).contains(">= 7").doesNotContain("${");
    assertThat(sql.handBacks).contains(fallback).contains(">= 7").doesNotContain("${");
    for (String file : new String[] {"claim/limits.sql", "claim/claim-candidates.sql"}) {
      assertThat(Sql.resource(file))
          .as(file)
          .contains("'maxConnectionsPerHost')::int, ${default_max_connections_per_host})");
    }
  }
}
