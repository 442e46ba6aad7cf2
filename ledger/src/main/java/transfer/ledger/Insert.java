package transfer.ledger;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An {@code INSERT} of one or many rows whose values are bound by column name: each value is
 * written next to the column it fills, so that a row of many columns cannot shift a value into its
 * neighbour's place. The statement names the columns in the order the first row set them; every
 * further row ({@link #row()}) sets the same columns. One row is inserted with {@code VALUES}; many
 * with one statement whatever their number: {@code SELECT * FROM unnest(...)} of one array per
 * column, so the statement's text (and its prepared plan) is the same for every size.
 *
 * <pre>{@code
 * Insert insert = Insert.into("tasks as t");
 * for (...) {
 *   insert.row().set("id", id).json("request", body);
 * }
 * List<TaskRow> rows = insert.returning(c, COLUMNS, map);
 * }</pre>
 */
final class Insert {
  /** How a column's values are bound: the array's element type and the cast the column needs. */
  private enum Kind {
    TEXT("text", "", "::text[]"),
    JSON("text", "::jsonb", "::jsonb[]"),
    INT8("int8", "", "::int8[]"),
    INT4("int4", "", "::int4[]"),
    FLOAT8("float8", "", "::float8[]"),
    BOOL("bool", "", "::bool[]"),
    BYTEA("bytea", "", "::bytea[]"),
    // ISO-8601 instants in a text array, so no time zone of the JVM or the session applies.
    TIMESTAMPTZ("text", "", "::timestamptz[]");

    final String elementType;
    final String oneCast;
    final String arrayCast;

    Kind(String elementType, String oneCast, String arrayCast) {
      this.elementType = elementType;
      this.oneCast = oneCast;
      this.arrayCast = arrayCast;
    }
  }

  private static final class Column {
    final Kind kind;
    final List<Object> values = new ArrayList<>();

    Column(Kind kind) {
      this.kind = kind;
    }
  }

  private final String table;
  private final Map<String, Column> columns = new LinkedHashMap<>();
  private int rows = 0;

  private Insert(String table) {
    this.table = table;
  }

  /**
   * An insert into {@code table} (with an alias if the returned columns name one), its first row
   * begun.
   */
  static Insert into(String table) {
    Insert insert = new Insert(table);
    insert.rows = 1;
    return insert;
  }

  /** An insert of no rows yet: each row begins with {@link #row()}. */
  static Insert rowsInto(String table) {
    return new Insert(table);
  }

  /** Begins the next row; the one before must have set every column. */
  Insert row() {
    if (rows > 0) {
      requireComplete();
    }
    rows++;
    return this;
  }

  /** The rows begun so far. */
  int rows() {
    return rows;
  }

  /** Drops the rows after the first {@code keep} (those of a submit refused after all). */
  void truncate(int keep) {
    if (keep < 0 || keep > rows) {
      throw new IllegalArgumentException("cannot keep " + keep + " of " + rows + " rows");
    }
    for (Column col : columns.values()) {
      while (col.values.size() > keep) {
        col.values.remove(col.values.size() - 1);
      }
    }
    rows = keep;
  }

  Insert set(String column, String value) {
    return add(column, Kind.TEXT, value);
  }

  /** A {@code jsonb} column, from its JSON text. */
  Insert json(String column, String value) {
    return add(column, Kind.JSON, value);
  }

  Insert set(String column, long value) {
    return add(column, Kind.INT8, value);
  }

  /** A nullable {@code bigint} column. */
  Insert set(String column, Long value) {
    return add(column, Kind.INT8, value);
  }

  Insert set(String column, int value) {
    return add(column, Kind.INT4, value);
  }

  Insert set(String column, double value) {
    return add(column, Kind.FLOAT8, value);
  }

  Insert set(String column, boolean value) {
    return add(column, Kind.BOOL, value);
  }

  Insert set(String column, byte[] value) {
    return add(column, Kind.BYTEA, value);
  }

  Insert set(String column, Timestamp value) {
    return add(column, Kind.TIMESTAMPTZ, value);
  }

  private Insert add(String column, Kind kind, Object value) {
    if (rows == 0) {
      throw new IllegalStateException("begin a row first (row())");
    }
    Column col = columns.get(column);
    if (col == null) {
      if (rows > 1) {
        throw new IllegalArgumentException("column " + column + " is not set by the first row");
      }
      col = new Column(kind);
      columns.put(column, col);
    }
    if (col.values.size() == rows) {
      throw new IllegalArgumentException("column " + column + " is set twice");
    }
    col.values.add(value);
    return this;
  }

  private void requireComplete() {
    for (Map.Entry<String, Column> e : columns.entrySet()) {
      if (e.getValue().values.size() != rows) {
        throw new IllegalArgumentException(
            "row " + rows + " does not set column " + e.getKey() + " (the first row does)");
      }
    }
  }

  /** The statement's text, returning {@code returning} (a column list). */
  String sql(String returning) {
    StringBuilder sql =
        new StringBuilder("insert into ")
            .append(table)
            .append(" (")
            .append(String.join(", ", columns.keySet()))
            .append(rows == 1 ? ") values (" : ") select * from unnest(");
    String sep = "";
    for (Column col : columns.values()) {
      sql.append(sep).append('?').append(rows == 1 ? col.kind.oneCast : col.kind.arrayCast);
      sep = ", ";
    }
    sql.append(')');
    if (returning != null) {
      sql.append(" returning ").append(returning);
    }
    return sql.toString();
  }

  /** Inserts the rows and reads the columns they return (in no promised order). */
  <T> List<T> returning(Connection c, String returning, Sql.RowReader<T, RuntimeException> reader)
      throws SQLException {
    if (rows == 0) {
      return List.of();
    }
    try (PreparedStatement ps = c.prepareStatement(sql(returning))) {
      bind(c, ps);
      return Sql.rows(ps, reader);
    }
  }

  /** Inserts the rows; answers how many. */
  int execute(Connection c) throws SQLException {
    if (rows == 0) {
      return 0;
    }
    try (PreparedStatement ps = c.prepareStatement(sql(null))) {
      bind(c, ps);
      return ps.executeUpdate();
    }
  }

  private void bind(Connection c, PreparedStatement ps) throws SQLException {
    requireComplete();
    int i = 1;
    for (Column col : columns.values()) {
      if (rows == 1) {
        bindOne(ps, i++, col.kind, col.values.get(0));
      } else {
        ps.setArray(i++, array(c, col));
      }
    }
  }

  private static void bindOne(PreparedStatement ps, int i, Kind kind, Object v)
      throws SQLException {
    switch (kind) {
      case TEXT, JSON -> ps.setString(i, (String) v);
      case INT8 -> Sql.setLong(ps, i, (Long) v);
      case INT4 -> ps.setInt(i, (Integer) v);
      case FLOAT8 -> ps.setDouble(i, (Double) v);
      case BOOL -> ps.setBoolean(i, (Boolean) v);
      case BYTEA -> ps.setBytes(i, (byte[]) v);
      case TIMESTAMPTZ -> ps.setTimestamp(i, (Timestamp) v);
    }
  }

  private static Array array(Connection c, Column col) throws SQLException {
    Object[] values = col.values.toArray();
    if (col.kind == Kind.TIMESTAMPTZ) {
      for (int j = 0; j < values.length; j++) {
        values[j] = values[j] == null ? null : ((Timestamp) values[j]).toInstant().toString();
      }
    }
    if (col.kind == Kind.BYTEA) {
      byte[][] bytes = new byte[values.length][];
      for (int j = 0; j < values.length; j++) {
        bytes[j] = (byte[]) values[j];
      }
      return c.createArrayOf(col.kind.elementType, bytes);
    }
    return c.createArrayOf(col.kind.elementType, values);
  }
}
