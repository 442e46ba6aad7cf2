package transfer.api;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import transfer.ledger.Ledger;

/** Wires the shared ledger to Quarkus's connection pool and a clock tests may replace. */
@ApplicationScoped
public class LedgerProducer {

  @Produces
  @Singleton
  Clock clock() {
    return Clock.systemUTC();
  }

  @Produces
  @Singleton
  Ledger ledger(AgroalDataSource dataSource, Clock clock) {
    return new Ledger(dataSource, clock);
  }
}
