package transfer.ledger;

import static transfer.ledger.Sql.rows;
import static transfer.ledger.StoredJson.read;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import transfer.contracts.SessionConfig;

/**
 * Claims: queued tasks handed to a worker, in a fair order across tenants and best first within a
 * tenant, within their tenants', sessions', hosts' and origins' limits, each with a new lease (the
 * epoch bumped, the attempt counted).
 */
public final class Claims {
  private final Tx tx;
  private final Clock clock;
  private final UnreadableTasks unreadable;
  private final ClaimStatements sql;

  Claims(Tx tx, UnreadableTasks unreadable, ClaimStatements sql) {
    this.tx = tx;
    this.clock = tx.clock();
    this.unreadable = unreadable;
    this.sql = sql;
  }

  /**
   * Takes the claim locks of sessions, in one statement and in the order of their keys, so that two
   * workers claiming in the same sessions never deadlock.
   */
  static final String LOCK_SESSIONS =
      "select count(pg_advisory_xact_lock(k)) from"
          + " (select distinct hashtextextended(s, 0) as k from unnest(?::text[]) s order by k) l";

  /**
   * Claims the best queued task this worker may start now (claim/candidates.sql), whichever
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
    return claimFor(owner, leaseTtl, max, List.of()).claims();
  }

  /**
   * What a claim for doorbells found: the tasks claimed, and the named tasks it passed over (still
   * queued after a claim that took fewer than it could: their session or host is at its limit).
   */
  public record Claimed(List<Claim> claims, Set<String> passedOver) {}

  /**
   * Claims up to {@code max} tasks like {@link #claimNext(String, Duration, int)}, for doorbells
   * that named the tasks {@code named}. When it claims fewer than {@code max}, nothing else was
   * claimable at that moment, and it answers which named tasks are queued at their session's or
   * host's limit (passed over), in the same transaction: one more statement, only then. A named
   * task that another worker took, or that is not queued, or whose limit is not reached (it lost a
   * race for candidates with another worker's claim) is not passed over.
   */
  public Claimed claimFor(String owner, Duration leaseTtl, int max, Collection<String> named) {
    return tx.run(
        "claim up to " + max + " task(s)",
        c -> {
          List<Claim> claims = claim(c, owner, leaseTtl, max);
          if (claims.size() >= max || named.isEmpty()) {
            return new Claimed(claims, Set.of());
          }
          try (PreparedStatement ps = c.prepareStatement(sql.passedOver)) {
            ps.setArray(1, c.createArrayOf("text", named.toArray()));
            return new Claimed(claims, Set.copyOf(rows(ps, rs -> rs.getString(1))));
          }
        });
  }

  private List<Claim> claim(Connection c, String owner, Duration leaseTtl, int max)
      throws SQLException {
    // Found without a lock (most claims find a task nobody else wants), then counted again
    // under the sessions' locks by claim-candidates.sql: one transaction, one commit.
    List<String[]> candidates;
    try (PreparedStatement ps = c.prepareStatement(sql.candidatesSql(Math.max(8, max * 2)))) {
      candidates =
          rows(
              ps,
              rs ->
                  new String[] {
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getBoolean(4) ? "capped" : null
                  });
    }
    if (candidates.isEmpty()) {
      return List.of();
    }
    // A tenant with a cap on running transfers is counted under its own lock too; the others
    // are not locked, so that the claims of one tenant's sessions do not wait for each other.
    Set<String> sessions = new HashSet<>();
    for (String[] cand : candidates) {
      sessions.add("claim/" + cand[1] + "/" + cand[2]);
      if (cand[3] != null) {
        sessions.add("claim-tenant/" + cand[1]);
      }
    }
    try (PreparedStatement ps = c.prepareStatement(LOCK_SESSIONS)) {
      ps.setArray(1, c.createArrayOf("text", sessions.toArray()));
      ps.execute();
    }
    Instant now = clock.instant();
    try (PreparedStatement ps = c.prepareStatement(sql.claimCandidates)) {
      java.sql.Array ids =
          c.createArrayOf("text", candidates.stream().map(cand -> cand[0]).toArray());
      ps.setArray(1, ids);
      ps.setInt(2, max);
      ps.setString(3, owner);
      ps.setTimestamp(4, Timestamp.from(now.plus(leaseTtl)));
      ps.setTimestamp(5, Timestamp.from(now));
      List<UnreadableTask> bad = new ArrayList<>();
      List<Claim> claims =
          rows(ps, rs -> claim(rs, bad)).stream().filter(Objects::nonNull).toList();
      // A row this version cannot read fails alone, in this transaction: claimed again and again
      // it would stop every worker's claims.
      unreadable.fail(c, bad, now);
      return claims;
    }
  }

  /** The claim of this row, or null (and the row added to {@code bad}) when it cannot be read. */
  private static Claim claim(java.sql.ResultSet rs, List<UnreadableTask> bad) throws SQLException {
    TaskRow task = TaskRows.readable(rs, bad);
    if (task == null) {
      return null;
    }
    try {
      return new Claim(
          task, read(rs.getString("session_config"), SessionConfig.class).withDefaults());
    } catch (IllegalStateException e) {
      bad.add(UnreadableTask.of(rs, e));
      return null;
    }
  }
}
