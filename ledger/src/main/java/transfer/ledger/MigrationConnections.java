package transfer.ledger;

/**
 * The connections migrations run on: their own, not the services' pool. The pool's connections end
 * a statement that gets no answer for the service's socket timeout (20 or 60 s), which is right for
 * the ledger's short statements and wrong for a migration that builds an index on a big table. A
 * migration's connection gives up connecting after 5 s and logging in after 10 s, like the pool's,
 * and waits for its statements as long as they take; its locks are bounded by {@code
 * beforeEachMigrate.sql} instead (ledger/DESIGN.md, "Migrations").
 */
public final class MigrationConnections {
  private MigrationConnections() {}

  /**
   * The URL migrations connect with: the services' {@code jdbcUrl} with the migrations' timeouts
   * (later parameters win over the URL's own).
   */
  public static String url(String jdbcUrl) {
    return jdbcUrl
        + (jdbcUrl.contains("?") ? "&" : "?")
        + "connectTimeout=5&loginTimeout=10&socketTimeout=0";
  }
}
