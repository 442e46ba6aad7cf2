package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;

/**
 * Rows written by a newer version stay readable: a field this version does not know, in a task's
 * request or a session's configuration (a rolling upgrade), is ignored.
 */
class StoredJsonIT extends LedgerFixture {
  StoredJsonIT() {
    super("2026-06-01T00:00:00Z");
  }

  @Test
  void aFieldOfANewerVersionIsIgnoredWhenARowIsRead() throws Exception {
    TaskRow t = submit();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement task =
            c.prepareStatement(
                "update tasks set request = request || '{\"fromTheFuture\": {\"x\": 1}}'"
                    + " where id = ?");
        PreparedStatement session =
            c.prepareStatement(
                "update sessions set config = config || '{\"fromTheFuture\": true}'"
                    + " where tenant_id = ? and id = ?")) {
      task.setString(1, t.id());
      assertThat(task.executeUpdate()).isEqualTo(1);
      session.setString(1, tenant);
      session.setString(2, this.session);
      assertThat(session.executeUpdate()).isEqualTo(1);
    }

    TaskRow read = ledger.taskControl().task(tenant, session, t.id()).orElseThrow();
    assertThat(read.request().url()).isEqualTo(t.request().url());
    SessionConfig config = ledger.sessions().session(tenant, session).orElseThrow().config();
    assertThat(config.maxConnectionsPerHost())
        .isEqualTo(SessionConfig.DEFAULT.maxConnectionsPerHost());
  }
}
