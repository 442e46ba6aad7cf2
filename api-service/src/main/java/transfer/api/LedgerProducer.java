package transfer.api;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import transfer.api.metrics.ApiMetrics;
import transfer.ledger.DatabaseClock;
import transfer.ledger.EventReplay;
import transfer.ledger.EventSequencer;
import transfer.ledger.Ledger;
import transfer.ledger.Outbox;
import transfer.ledger.Purging;
import transfer.ledger.QueueStatistics;
import transfer.ledger.Reaping;
import transfer.ledger.Reservations;
import transfer.ledger.Sessions;
import transfer.ledger.StagedObjects;
import transfer.ledger.Submissions;
import transfer.ledger.SubmitGroups;
import transfer.ledger.TaskControl;
import transfer.ledger.Tenants;

/**
 * Wires the shared ledger to Quarkus's connection pool and a clock tests may replace, and hands out
 * the concerns of it that the API uses.
 */
@ApplicationScoped
public class LedgerProducer {

  /**
   * The database's clock (read every 30 s, counted from there with this host's monotonic clock), so
   * that leases, deadlines and backoffs agree across hosts whose clocks differ.
   */
  @Produces
  @Singleton
  DatabaseClock clock(AgroalDataSource dataSource) {
    return DatabaseClock.start(dataSource, Clock.systemUTC(), Duration.ofSeconds(30));
  }

  void closeClock(@Disposes DatabaseClock clock) {
    clock.close();
  }

  @Produces
  @Singleton
  Ledger ledger(AgroalDataSource dataSource, Clock clock) {
    return new Ledger(dataSource, clock);
  }

  @Produces
  @Singleton
  Tenants tenants(Ledger ledger) {
    return ledger.tenants();
  }

  @Produces
  @Singleton
  Sessions sessions(Ledger ledger) {
    return ledger.sessions();
  }

  @Produces
  @Singleton
  Submissions submissions(Ledger ledger) {
    return ledger.submissions();
  }

  /**
   * The group commit of single submits: its committer threads are the only ones that hold a
   * connection for them, and each group is counted ({@code transfer_submit_groups_total}).
   */
  @Produces
  @Singleton
  SubmitGroups submitGroups(Submissions submissions, ApiConfig config, ApiMetrics metrics) {
    ApiConfig.Submit c = config.submit();
    return new SubmitGroups(
        submissions, c.groupWindow(), c.groupMax(), c.committers(), metrics::submitGroup);
  }

  /** At shutdown, what waits is written before the pool closes. */
  void closeSubmitGroups(@Disposes SubmitGroups groups) {
    groups.close();
  }

  @Produces
  @Singleton
  TaskControl taskControl(Ledger ledger) {
    return ledger.taskControl();
  }

  @Produces
  @Singleton
  StagedObjects stagedObjects(Ledger ledger) {
    return ledger.stagedObjects();
  }

  @Produces
  @Singleton
  Reservations reservations(Ledger ledger) {
    return ledger.reservations();
  }

  @Produces
  @Singleton
  Reaping reaping(Ledger ledger) {
    return ledger.reaping();
  }

  @Produces
  @Singleton
  Purging purging(Ledger ledger) {
    return ledger.purging();
  }

  @Produces
  @Singleton
  QueueStatistics queueStatistics(Ledger ledger) {
    return ledger.queueStatistics();
  }

  @Produces
  @Singleton
  EventSequencer eventSequencer(Ledger ledger) {
    return ledger.eventSequencer();
  }

  @Produces
  @Singleton
  EventReplay eventReplay(Ledger ledger) {
    return ledger.eventReplay();
  }

  @Produces
  @Singleton
  Outbox outbox(Ledger ledger) {
    return ledger.outbox();
  }
}
