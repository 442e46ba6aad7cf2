package transfer.ledger;

import static transfer.ledger.TaskRows.TASK_COLUMNS;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import transfer.contracts.SessionConfig;

/**
 * The claim planner's statements (resources {@code claim/*.sql}) with what they are built with
 * filled in: the session defaults they fall back on, from {@link SessionConfig#DEFAULT} (a session
 * stored without a value, by an older version), so that no default is spelled in SQL, and the
 * cluster's cap of running transfers per origin (politeness).
 */
final class ClaimStatements {
  /** The cap of running transfers per origin (host and port) across the cluster by default. */
  static final int DEFAULT_MAX_CONNECTIONS_PER_ORIGIN = 64;

  /** Rows of a tenant's queue the hand-backs read to count its claimable waiting tasks. */
  static final int HAND_BACK_HEAD_ROWS = 64;

  /**
   * The best queued tasks a worker may start, found without a lock (limits.sql, then
   * candidates.sql), with its sizes still to fill in ({@link #candidatesSql}).
   */
  final String candidates;

  /** Which named queued tasks are at their limits (limits.sql, then passed-over.sql). */
  final String passedOver;

  /**
   * Claims up to a number of the candidates under their sessions' (and capped tenants') locks
   * (claim-candidates.sql).
   */
  final String claimCandidates;

  /** A worker's transfers above their tenant's fair share (limits.sql, then hand-backs.sql). */
  final String handBacks;

  /** The candidate query's text for each number of candidates wanted (a handful of sizes). */
  private final Map<Integer, String> candidatesBySize = new ConcurrentHashMap<>();

  ClaimStatements(int maxConnectionsPerOrigin) {
    if (maxConnectionsPerOrigin < 1) {
      throw new IllegalArgumentException(
          "the cap of connections per origin must be at least 1, not " + maxConnectionsPerOrigin);
    }
    candidates = sql(maxConnectionsPerOrigin, "claim/limits.sql", "claim/candidates.sql");
    passedOver = sql(maxConnectionsPerOrigin, "claim/limits.sql", "claim/passed-over.sql");
    claimCandidates =
        sql(maxConnectionsPerOrigin, "claim/claim-candidates.sql")
            .replace("${task_columns}", TASK_COLUMNS);
    handBacks =
        sql(maxConnectionsPerOrigin, "claim/limits.sql", "claim/hand-backs.sql")
            .replace("${head_rows}", Integer.toString(HAND_BACK_HEAD_ROWS));
  }

  /**
   * {@link #candidates} for {@code wanted} candidates: the head of a tenant's queue it reads first
   * is a few times that (candidates.sql). The numbers are in the text, not parameters, so that
   * PostgreSQL plans it once per connection.
   */
  String candidatesSql(int wanted) {
    return candidatesBySize.computeIfAbsent(
        wanted,
        w ->
            candidates
                .replace("${head_rows}", Integer.toString(Math.max(64, w * 4)))
                .replace("${wanted}", Integer.toString(w)));
  }

  private static String sql(int maxConnectionsPerOrigin, String... names) {
    StringBuilder sql = new StringBuilder();
    for (String name : names) {
      sql.append(Sql.resource(name)).append('\n');
    }
    return sql.toString()
        .replace(
            "${default_max_connections_per_host}",
            Integer.toString(SessionConfig.DEFAULT.maxConnectionsPerHost()))
        .replace("${max_connections_per_origin}", Integer.toString(maxConnectionsPerOrigin));
  }
}
