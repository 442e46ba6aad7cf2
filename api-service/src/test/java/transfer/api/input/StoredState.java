package transfer.api.input;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.sql.DataSource;

/**
 * Everything a request could have stored, as digests: every row of the ledger's tables that API
 * calls write (tasks, sessions, events, objects, idempotency keys, tenants and keys), the outbox
 * (by its id sequence: the relay deletes rows once published, so a row that came and went still
 * moved the sequence) and the files under the storage root. Two equal snapshots mean nothing was
 * stored in between.
 *
 * <p>Only meaningful while nothing else writes: the tests that use it run with the reaper off
 * ({@link QuietLedgerProfile}), there is no worker in the api-service's tests, and the retention
 * job removes only rows days old.
 */
final class StoredState {
  private static final String QUERY =
      String.join(
          " union all ",
          digest("tasks", "id"),
          digest("sessions", "tenant_id, id"),
          digest("events", "xid, pos"),
          digest("event_numbers", "ord"),
          digest("objects", "tenant_id, session_id, name"),
          digest("idempotency_keys", "tenant_id, session_id, key"),
          digest("tenants", "id"),
          digest("api_keys", "id"),
          "select 'outbox.sequence', last_value::text || '/' || is_called::text from outbox_id_seq");

  private final DataSource db;
  private final Path storageRoot;

  StoredState(DataSource db, Path storageRoot) {
    this.db = db;
    this.storageRoot = storageRoot;
  }

  /** Table (or "files") → row count and digest. */
  record Snapshot(Map<String, String> parts) {
    /** The parts that differ from {@code before}, for a failure message. */
    String diff(Snapshot before) {
      return parts.keySet().stream()
          .filter(k -> !Objects.equals(parts.get(k), before.parts.get(k)))
          .map(k -> k + ": " + before.parts.get(k) + " -> " + parts.get(k))
          .collect(Collectors.joining("; "));
    }
  }

  Snapshot take() {
    settle();
    Map<String, String> parts = new LinkedHashMap<>();
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(QUERY)) {
      while (rs.next()) {
        parts.put(rs.getString(1), rs.getString(2));
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read the ledger", e);
    }
    parts.put("files", files());
    return new Snapshot(parts);
  }

  /**
   * A cheap token that changes whenever any transaction that wrote (or locked) rows began: the next
   * transaction id PostgreSQL would assign. Equal tokens mean no write happened in between, so the
   * full {@link #take()} can be skipped.
   */
  long writeToken() {
    settle();
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("select pg_snapshot_xmax(pg_current_snapshot())::text::bigint")) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read the ledger", e);
    }
  }

  /**
   * Waits (at most 10 s) until the relay has numbered every pending event: an accepted request's
   * events are numbered just after its commit, and must not be taken for a later request's write.
   */
  private void settle() {
    long deadline = System.nanoTime() + 10_000_000_000L;
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      while (true) {
        try (ResultSet rs =
            s.executeQuery(
                "select exists (select 1 from events e, event_sequencer q"
                    + " where e.xid >= q.horizon or e.xid = any(q.in_flight))")) {
          rs.next();
          if (!rs.getBoolean(1)) {
            return;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("events still pending after 10 s: is the relay running?");
        }
        Thread.sleep(5);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read the ledger", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static String digest(String table, String order) {
    return "select '"
        + table
        + "', count(*)::text || ':' || md5(coalesce(string_agg(t::text, E'\\n' order by "
        + order
        + "), '')) from "
        + table
        + " t";
  }

  private String files() {
    if (!Files.exists(storageRoot)) {
      return "0:";
    }
    try (Stream<Path> all = Files.walk(storageRoot)) {
      var listed =
          all.filter(Files::isRegularFile)
              .map(
                  p -> {
                    try {
                      return storageRoot.relativize(p) + "=" + Files.size(p);
                    } catch (IOException e) {
                      return storageRoot.relativize(p) + "=gone";
                    }
                  })
              .sorted()
              .toList();
      return listed.size() + ":" + Integer.toHexString(listed.hashCode());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (UncheckedIOException e) {
      // a file vanished during the walk (a discarded temporary): look again
      return files();
    }
  }
}
