package transfer.ledger;

import static transfer.ledger.Sql.execute;
import static transfer.ledger.Sql.instant;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.Optional;
import transfer.ledger.Sessions.SessionClosed;

/**
 * Staged objects: uploaded bytes a session keeps under a name, as sources of upload tasks. The
 * ledger records where the bytes are; the caller writes and deletes them.
 */
public final class StagedObjects {
  private final Tx tx;
  private final Sessions sessions;

  StagedObjects(Tx tx, Sessions sessions) {
    this.tx = tx;
    this.sessions = sessions;
  }

  /**
   * Records a staged object; answers the location of the object it replaced, if any, whose bytes
   * the caller deletes.
   */
  public Optional<String> putObject(StoredObject o) {
    return tx.run(
        "save object " + o.name(),
        c -> {
          SessionState state =
              sessions
                  .sessionById(c, o.tenantId(), o.sessionId(), " for key share")
                  .map(SessionRow::state)
                  .orElseThrow(() -> new SessionClosed(o.sessionId(), null));
          if (state != SessionState.ACTIVE) {
            throw new SessionClosed(o.sessionId(), state);
          }
          int inserted =
              execute(
                  c,
                  "insert into objects (tenant_id, session_id, name, location, size, sha256,"
                      + " created_at) values (?, ?, ?, ?, ?, ?, ?)"
                      + " on conflict (tenant_id, session_id, name) do nothing",
                  o.tenantId(),
                  o.sessionId(),
                  o.name(),
                  o.location(),
                  o.size(),
                  o.sha256(),
                  Timestamp.from(o.createdAt()));
          if (inserted == 1) {
            return Optional.<String>empty();
          }
          // Replacing: lock the row so that of two concurrent PUTs each answers the location
          // it replaced, and every replaced file is deleted exactly once.
          String before;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "select location from objects where tenant_id = ? and session_id = ?"
                      + " and name = ? for update")) {
            ps.setString(1, o.tenantId());
            ps.setString(2, o.sessionId());
            ps.setString(3, o.name());
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                // Deleted in between: this PUT creates it after all.
                throw new LedgerException(
                    "object " + o.name() + " changed while it was replaced; retry the request",
                    null);
              }
              before = rs.getString(1);
            }
          }
          execute(
              c,
              "update objects set location = ?, size = ?, sha256 = ?, created_at = ?"
                  + " where tenant_id = ? and session_id = ? and name = ?",
              o.location(),
              o.size(),
              o.sha256(),
              Timestamp.from(o.createdAt()),
              o.tenantId(),
              o.sessionId(),
              o.name());
          return Optional.of(before);
        });
  }

  public Optional<StoredObject> object(String tenantId, String sessionId, String name) {
    return tx.run("read object " + name, c -> objectIn(c, tenantId, sessionId, name));
  }

  /** Forgets a staged object; answers it so that the caller deletes its bytes. */
  public Optional<StoredObject> deleteObject(String tenantId, String sessionId, String name) {
    return tx.run(
        "delete object " + name,
        c -> {
          Optional<StoredObject> o = objectIn(c, tenantId, sessionId, name);
          if (o.isPresent()) {
            execute(
                c,
                "delete from objects where tenant_id = ? and session_id = ? and name = ?",
                tenantId,
                sessionId,
                name);
          }
          return o;
        });
  }

  /** A staged object's key: tenant, session and name. */
  record Key(String tenantId, String sessionId, String name) {}

  /** The staged objects of these keys that exist, in one statement. */
  static java.util.Map<Key, StoredObject> objectsIn(Connection c, java.util.Collection<Key> keys)
      throws SQLException {
    java.util.Map<Key, StoredObject> out = new java.util.HashMap<>();
    if (keys.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "select tenant_id, session_id, name, location, size, sha256, created_at from objects"
                + " where (tenant_id, session_id, name) in"
                + " (select * from unnest(?::text[], ?::text[], ?::text[]))")) {
      ps.setArray(1, c.createArrayOf("text", keys.stream().map(Key::tenantId).toArray()));
      ps.setArray(2, c.createArrayOf("text", keys.stream().map(Key::sessionId).toArray()));
      ps.setArray(3, c.createArrayOf("text", keys.stream().map(Key::name).toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          StoredObject o =
              new StoredObject(
                  rs.getString(1),
                  rs.getString(2),
                  rs.getString(3),
                  rs.getString(4),
                  rs.getLong(5),
                  rs.getString(6),
                  instant(rs, "created_at"));
          out.put(new Key(o.tenantId(), o.sessionId(), o.name()), o);
        }
      }
    }
    return out;
  }

  Optional<StoredObject> objectIn(Connection c, String tenantId, String sessionId, String name)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "select location, size, sha256, created_at from objects"
                + " where tenant_id = ? and session_id = ? and name = ?")) {
      ps.setString(1, tenantId);
      ps.setString(2, sessionId);
      ps.setString(3, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            new StoredObject(
                tenantId,
                sessionId,
                name,
                rs.getString(1),
                rs.getLong(2),
                rs.getString(3),
                instant(rs, "created_at")));
      }
    }
  }
}
