package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MigrationConnectionsTest {
  @Test
  void theMigrationsUrlHasNoSocketTimeoutWhateverTheServicesUrlSays() {
    assertThat(MigrationConnections.url("jdbc:postgresql://db:5432/transfer"))
        .isEqualTo(
            "jdbc:postgresql://db:5432/transfer?connectTimeout=5&loginTimeout=10&socketTimeout=0");
    assertThat(
            MigrationConnections.url(
                "jdbc:postgresql://a,b/transfer?targetServerType=primary&socketTimeout=20"))
        .endsWith(
            "?targetServerType=primary&socketTimeout=20&connectTimeout=5&loginTimeout=10"
                + "&socketTimeout=0");
  }
}
