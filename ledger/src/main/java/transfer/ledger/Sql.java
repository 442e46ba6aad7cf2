package transfer.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** JDBC helpers: positional parameters, rows of a result, nullable columns, SQL files. */
final class Sql {

  private Sql() {}

  /**
   * The text of a SQL file beside this package's classes ({@code
   * src/main/resources/transfer/ledger}), read once by the constant that holds it.
   */
  static String resource(String name) {
    try (InputStream in = Sql.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no SQL file " + name + " beside " + Sql.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read SQL file " + name, e);
    }
  }

  /** One statement with positional parameters (null for SQL NULL); the number of rows changed. */
  static int execute(Connection c, String sql, Object... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, params);
      return ps.executeUpdate();
    }
  }

  /** Sets positional parameters from index 1 (null for SQL NULL). */
  static void bind(PreparedStatement ps, Object... params) throws SQLException {
    for (int i = 0; i < params.length; i++) {
      ps.setObject(i + 1, params[i]);
    }
  }

  static Instant instant(ResultSet rs, String column) throws SQLException {
    Timestamp ts = rs.getTimestamp(column);
    return ts == null ? null : ts.toInstant();
  }

  static void setLong(PreparedStatement ps, int index, Long value) throws SQLException {
    if (value == null) {
      ps.setNull(index, java.sql.Types.BIGINT);
    } else {
      ps.setLong(index, value);
    }
  }

  /** Reads one row of a result; may throw what the row's parsing throws ({@code E}). */
  @FunctionalInterface
  interface RowReader<T, E extends Exception> {
    T read(ResultSet rs) throws SQLException, E;
  }

  /** Every row of the statement's result, read by {@code reader}, in order. */
  static <T, E extends Exception> List<T> rows(PreparedStatement ps, RowReader<T, E> reader)
      throws SQLException, E {
    List<T> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(reader.read(rs));
      }
    }
    return out;
  }
}
