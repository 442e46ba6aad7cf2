package transfer.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An {@code INSERT} of one row whose values are bound by column name: each value is written next to
 * the column it fills, so that a row of many columns cannot shift a value into its neighbour's
 * place. The statement names the columns in the order they were set.
 *
 * <pre>{@code
 * TaskRow row =
 *     Insert.into("tasks as t").set("id", id).json("request", body).returning(c, COLUMNS, map);
 * }</pre>
 */
final class Insert {
  /** Binds one value at its position. */
  @FunctionalInterface
  private interface Value {
    void bind(PreparedStatement ps, int index) throws SQLException;
  }

  private final String table;
  private final Set<String> columns = new LinkedHashSet<>();
  private final List<String> placeholders = new ArrayList<>();
  private final List<Value> values = new ArrayList<>();

  private Insert(String table) {
    this.table = table;
  }

  /** An insert into {@code table} (with an alias if the returned columns name one). */
  static Insert into(String table) {
    return new Insert(table);
  }

  Insert set(String column, String value) {
    return add(column, "?", (ps, i) -> ps.setString(i, value));
  }

  /** A {@code jsonb} column, from its JSON text. */
  Insert json(String column, String value) {
    return add(column, "?::jsonb", (ps, i) -> ps.setString(i, value));
  }

  Insert set(String column, long value) {
    return add(column, "?", (ps, i) -> ps.setLong(i, value));
  }

  /** A nullable {@code bigint} column. */
  Insert set(String column, Long value) {
    return add(column, "?", (ps, i) -> Sql.setLong(ps, i, value));
  }

  Insert set(String column, int value) {
    return add(column, "?", (ps, i) -> ps.setInt(i, value));
  }

  Insert set(String column, double value) {
    return add(column, "?", (ps, i) -> ps.setDouble(i, value));
  }

  Insert set(String column, boolean value) {
    return add(column, "?", (ps, i) -> ps.setBoolean(i, value));
  }

  Insert set(String column, Timestamp value) {
    return add(column, "?", (ps, i) -> ps.setTimestamp(i, value));
  }

  private Insert add(String column, String placeholder, Value value) {
    if (!columns.add(column)) {
      throw new IllegalArgumentException("column " + column + " is set twice");
    }
    placeholders.add(placeholder);
    values.add(value);
    return this;
  }

  /** The statement's text, returning {@code returning} (a column list). */
  String sql(String returning) {
    return "insert into "
        + table
        + " ("
        + String.join(", ", columns)
        + ") values ("
        + String.join(", ", placeholders)
        + ") returning "
        + returning;
  }

  /** Inserts the row and reads the columns it returns. */
  <T> T returning(Connection c, String returning, Sql.RowReader<T, RuntimeException> reader)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql(returning))) {
      for (int i = 0; i < values.size(); i++) {
        values.get(i).bind(ps, i + 1);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return reader.read(rs);
      }
    }
  }
}
