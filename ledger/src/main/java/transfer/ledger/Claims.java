package transfer.ledger;

import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.read;
import static transfer.ledger.TaskRows.TASK_COLUMNS;
import static transfer.ledger.TaskRows.taskRow;

import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import transfer.contracts.SessionConfig;

/**
 * Claims: queued tasks handed to a worker, best first within their sessions' limits, each with a
 * new lease (the epoch bumped, the attempt counted).
 */
public final class Claims {
  private final Tx tx;
  private final Clock clock;

  Claims(Tx tx) {
    this.tx = tx;
    this.clock = tx.clock();
  }

  /**
   * The best queued tasks by the URLSession scheduling order, leaving out those whose session or
   * host is at its limit: the limits are judged from the running tasks (few: at most the cluster's
   * slots), so the scan of the queue is one anti-join, however long the queue.
   */
  private static final String CANDIDATES =
      "with running as (select r.tenant_id, r.session_id, r.host, count(*) n from tasks r"
          + " where r.state = 'running' group by r.tenant_id, r.session_id, r.host),"
          + " full_hosts as (select x.tenant_id, x.session_id, x.host from running x join sessions"
          + " s on s.tenant_id = x.tenant_id and s.id = x.session_id"
          + " where x.n >= coalesce((s.config->>'maxConnectionsPerHost')::int, 6)),"
          + " full_sessions as (select x.tenant_id, x.session_id from running x join sessions s"
          + " on s.tenant_id = x.tenant_id and s.id = x.session_id"
          + " where s.config->>'maxConcurrentTransfers' is not null"
          + " group by x.tenant_id, x.session_id, s.config"
          + " having sum(x.n) >= (s.config->>'maxConcurrentTransfers')::int)"
          + " select t.id, t.tenant_id, t.session_id from tasks t where t.state = 'queued'"
          + " and not exists (select 1 from full_sessions f where f.tenant_id = t.tenant_id"
          + " and f.session_id = t.session_id)"
          + " and not exists (select 1 from full_hosts f where f.tenant_id = t.tenant_id"
          + " and f.session_id = t.session_id and f.host = t.host)"
          + " order by t.discretionary, t.priority desc, t.created_at limit ?";

  /**
   * Claims the best queued task this worker may start now (see {@link #CANDIDATES}), whichever
   * doorbell woke the worker: a doorbell only says that work exists, so priority decides, not the
   * order of announcement. Tasks passed over at a limit stay queued and are claimed when a slot of
   * their session frees up. Empty when nothing is claimable.
   */
  public Optional<Claim> claimNext(String owner, Duration leaseTtl) {
    return claimNext(owner, leaseTtl, 1).stream().findFirst();
  }

  /**
   * Claims up to {@code max} of the best tasks this worker may start now, in one transaction: the
   * sessions of the candidates are locked in one order (so two claiming workers never deadlock),
   * then each candidate's limits are counted again under the lock, so that two workers claiming in
   * one session cannot both take its last slot. Empty when nothing is claimable.
   */
  public List<Claim> claimNext(String owner, Duration leaseTtl, int max) {
    return tx.run(
        "claim up to " + max + " task(s)",
        c -> {
          // Found without a lock (most claims find a task nobody else wants), then counted again
          // under the sessions' locks by CLAIM_CANDIDATES: one transaction, one commit.
          List<String[]> candidates;
          try (PreparedStatement ps = c.prepareStatement(CANDIDATES)) {
            ps.setInt(1, Math.max(8, max * 2));
            candidates =
                rows(ps, rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
          }
          if (candidates.isEmpty()) {
            return List.of();
          }
          java.util.SortedSet<String> sessions = new java.util.TreeSet<>();
          for (String[] cand : candidates) {
            sessions.add("claim/" + cand[1] + "/" + cand[2]);
          }
          try (PreparedStatement ps =
              c.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 0))")) {
            for (String lock : sessions) {
              ps.setString(1, lock);
              ps.execute();
            }
          }
          Instant now = clock.instant();
          try (PreparedStatement ps = c.prepareStatement(CLAIM_CANDIDATES)) {
            java.sql.Array ids =
                c.createArrayOf("text", candidates.stream().map(cand -> cand[0]).toArray());
            ps.setArray(1, ids);
            ps.setArray(2, ids);
            ps.setInt(3, max);
            ps.setString(4, owner);
            ps.setTimestamp(5, Timestamp.from(now.plus(leaseTtl)));
            ps.setTimestamp(6, Timestamp.from(now));
            return rows(
                ps,
                rs ->
                    new Claim(
                        taskRow(rs),
                        read(rs.getString("session_config"), SessionConfig.class).withDefaults()));
          }
        });
  }

  /**
   * Claims up to {@code max} of the candidates (task ids) in one statement, run under their
   * sessions' locks: the limits are counted from the running tasks, and the candidates of one
   * session (and host) are ranked so that together they never pass its limit.
   */
  private static final String CLAIM_CANDIDATES =
      "with running as (select r.tenant_id, r.session_id, r.host, count(*) n from tasks r"
          + " where r.state = 'running' and (r.tenant_id, r.session_id) in (select c.tenant_id,"
          + " c.session_id from tasks c where c.id = any(?))"
          + " group by r.tenant_id, r.session_id, r.host),"
          + " ranked as (select t.id, t.discretionary, t.priority, t.created_at,"
          + " row_number() over (partition by t.tenant_id, t.session_id order by t.discretionary,"
          + " t.priority desc, t.created_at) as in_session,"
          + " row_number() over (partition by t.tenant_id, t.session_id, t.host order by"
          + " t.discretionary, t.priority desc, t.created_at) as in_host,"
          + " coalesce((select sum(x.n) from running x where x.tenant_id = t.tenant_id"
          + " and x.session_id = t.session_id), 0) as running_session,"
          + " coalesce((select x.n from running x where x.tenant_id = t.tenant_id"
          + " and x.session_id = t.session_id and x.host = t.host), 0) as running_host,"
          + " (s.config->>'maxConcurrentTransfers')::int as max_session,"
          + " coalesce((s.config->>'maxConnectionsPerHost')::int, 6) as max_host"
          + " from tasks t join sessions s on s.tenant_id = t.tenant_id and s.id = t.session_id"
          + " where t.id = any(?) and t.state = 'queued'),"
          + " picked as (select id from ranked where running_host + in_host <= max_host"
          + " and (max_session is null or running_session + in_session <= max_session)"
          + " order by discretionary, priority desc, created_at limit ?)"
          + " update tasks t set state = 'running', lease_owner = ?,"
          + " lease_epoch = t.lease_epoch + 1, lease_expires_at = ?,"
          + " attempt = t.attempt + 1, next_attempt_at = null, updated_at = ?"
          + " from picked p, sessions s where t.id = p.id and t.state = 'queued'"
          + " and s.tenant_id = t.tenant_id and s.id = t.session_id"
          + " returning "
          + TASK_COLUMNS
          + ", s.config as session_config";
}
