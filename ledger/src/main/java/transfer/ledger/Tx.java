package transfer.ledger;

import java.sql.Connection;
import java.sql.Timestamp;
import java.time.Clock;
import javax.sql.DataSource;

/**
 * The ledger's transactions: a connection of the pool for each, the clock every statement reads
 * time from, and a failure wrapped as "ledger: cannot &lt;what&gt;".
 */
final class Tx {
  private final DataSource dataSource;
  private final Clock clock;

  Tx(DataSource dataSource, Clock clock) {
    this.dataSource = dataSource;
    this.clock = clock;
  }

  Clock clock() {
    return clock;
  }

  Timestamp now() {
    return Timestamp.from(clock.instant());
  }

  @FunctionalInterface
  interface Work<T> {
    T run(Connection c) throws Exception;
  }

  /**
   * Reads outside a transaction (each statement on its own, autocommit): no BEGIN and no COMMIT,
   * for a lone read that needs no snapshot shared with another.
   */
  <T> T read(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      if (c.getAutoCommit()) {
        return work.run(c);
      }
      // A pool that hands out connections in a transaction: end the one this read began.
      try {
        return work.run(c);
      } finally {
        c.rollback();
      }
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new LedgerException("ledger: cannot " + what + ": " + e.getMessage(), e);
    }
  }

  <T> T run(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (Exception e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(auto);
      }
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new LedgerException("ledger: cannot " + what + ": " + e.getMessage(), e);
    }
  }
}
