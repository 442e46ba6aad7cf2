package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;
import transfer.contracts.EventTypes;

/**
 * A row this version cannot read (corrupt, or written in a form it does not know) fails its own
 * task with {@code unreadable}, and the claim, reaper pass or cancel that met it goes on with the
 * others. Without that, the claim that meets it rolls back and meets it again on every try,
 * stopping every worker.
 */
class UnreadableTasksIT extends LedgerFixture {
  UnreadableTasksIT() {
    super("2026-07-01T00:00:00Z");
  }

  /** Makes the task's stored request unreadable: a field of the wrong type. */
  private void corrupt(TaskRow t) throws Exception {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "update tasks set request = jsonb_set(request, '{headers}', '\"not a map\"')"
                    + " where id = ?")) {
      ps.setString(1, t.id());
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  /** The stored state and error code of a task, read without the task's mapping. */
  private String[] stored(TaskRow t) throws Exception {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "select state, error->>'code', lease_owner, request->>'headers' from tasks"
                    + " where id = ?")) {
      ps.setString(1, t.id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        return new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)};
      }
    }
  }

  @Test
  void aClaimThatMeetsAnUnreadableRowFailsItAndClaimsTheOthers() throws Exception {
    TaskRow first = submit();
    TaskRow bad = submit();
    TaskRow last = submit();
    corrupt(bad);

    List<Claim> claims = ledger.claims().claimNext("w1", TTL, 100);

    List<String> ids = claims.stream().map(cl -> cl.task().id()).toList();
    assertThat(ids).contains(first.id(), last.id()).doesNotContain(bad.id());
    String[] row = stored(bad);
    assertThat(row[0]).isEqualTo("failed");
    assertThat(row[1]).isEqualTo(ErrorCodes.UNREADABLE);
    assertThat(row[2]).isNull();
    assertThat(row[3]).as("the row is kept as it was").isEqualTo("not a map");
    JsonNode completed = lastOfType(EventTypes.COMPLETED);
    assertThat(completed.get("subject").asText()).isEqualTo(bad.id());
    assertThat(completed.at("/data/state").asText()).isEqualTo("failed");
    assertThat(completed.at("/data/error/code").asText()).isEqualTo(ErrorCodes.UNREADABLE);
    assertThat(completed.at("/data/taskType").asText()).isEqualTo("download");
    // The failed task no longer counts in flight.
    assertThat(ledger.claims().claimNext("w2", TTL, 100))
        .noneMatch(cl -> cl.task().id().equals(bad.id()));
  }

  @Test
  void aReaperPassThatMeetsAnUnreadableRowFailsItAndReapsTheOthers() throws Exception {
    TaskRow good = submit();
    TaskRow bad = submit();
    TestClaims.claim(ledger, good.id(), "w1", Duration.ofSeconds(30)).orElseThrow();
    TestClaims.claim(ledger, bad.id(), "w1", Duration.ofSeconds(30)).orElseThrow();
    corrupt(bad);
    clock.advance(Duration.ofSeconds(31));

    ledger.reaping().reapExpiredLeases(1000);

    assertThat(task(good.id()).state().wire()).isEqualTo("queued");
    assertThat(stored(bad)[0]).isEqualTo("failed");
    assertThat(stored(bad)[1]).isEqualTo(ErrorCodes.UNREADABLE);
  }

  @Test
  void aSessionsCancelThatMeetsAnUnreadableRowFailsItAndCancelsTheOthers() throws Exception {
    TaskRow good = submit();
    TaskRow bad = submit();
    corrupt(bad);

    ledger.sessions().invalidateSession(tenant, session, false);

    assertThat(task(good.id()).state().wire()).isEqualTo("canceled");
    assertThat(stored(bad)[0]).isEqualTo("failed");
  }
}
