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
    assertThat(Claims.candidatesSql(8)).contains(fallback).doesNotContain("${").doesNotContain("?");
    assertThat(Claims.CLAIM_CANDIDATES).contains(fallback).doesNotContain("${");
    assertThat(Claims.PASSED_OVER).contains(fallback).doesNotContain("${");
    for (String file : new String[] {"claim/limits.sql", "claim/claim-candidates.sql"}) {
      assertThat(Sql.resource(file))
          .as(file)
          .contains("'maxConnectionsPerHost')::int, ${default_max_connections_per_host})");
    }
  }
}
