package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Timestamp;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The named-column insert: the statement it writes, without a database. */
class InsertTest {

  @Test
  void namesTheColumnsInTheOrderTheyWereSetAndCastsJson() {
    Insert insert =
        Insert.into("tasks as t")
            .set("id", "a")
            .json("request", "{}")
            .set("priority", 0.5)
            .set("source_size", (Long) null)
            .set("created_at", Timestamp.from(Instant.EPOCH));
    assertThat(insert.sql("t.id, t.state"))
        .isEqualTo(
            "insert into tasks as t (id, request, priority, source_size, created_at)"
                + " values (?, ?::jsonb, ?, ?, ?) returning t.id, t.state");
  }

  @Test
  void refusesAColumnSetTwice() {
    assertThatThrownBy(() -> Insert.into("tasks").set("id", "a").set("id", "b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("id");
  }
}
