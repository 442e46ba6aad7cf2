package transfer.ledger;

import java.time.Clock;
import javax.sql.DataSource;

/**
 * Every statement of the task state machine, used by both services, by concern: one object per room
 * of this package. A worker's write names the lease epoch it holds ({@code WHERE id = ? AND
 * lease_epoch = ? AND state = 'running'}); zero rows means another worker (or the reaper) has taken
 * the task over, and the caller must stop.
 *
 * <p>Events are written once, in the same transaction as the state they report, into {@code
 * events}; after the commit the sequencer ({@link EventSequencer}) numbers them per session, and
 * the relay publishes the numbered events after its cursor ({@link Outbox}). Time comes from the
 * injected clock so that leases and backoff are testable without sleeping; the services inject the
 * database's ({@link DatabaseClock}), so that hosts whose clocks differ agree on every time.
 */
public final class Ledger {
  private final Tx tx;
  private final Tenants tenants;
  private final Sessions sessions;
  private final Submissions submissions;
  private final Claims claims;
  private final FairShares fairShares;
  private final Leases leases;
  private final LeaseBatch leaseBatch;
  private final TaskControl taskControl;
  private final StagedObjects stagedObjects;
  private final Reaping reaping;
  private final Purging purging;
  private final QueueStatistics queueStatistics;
  private final EventSequencer eventSequencer;
  private final EventReplay eventReplay;
  private final Outbox outbox;
  private final Reservations reservations;

  /** A ledger whose claims keep the default cap of running transfers per origin (64). */
  public Ledger(DataSource dataSource, Clock clock) {
    this(dataSource, clock, ClaimStatements.DEFAULT_MAX_CONNECTIONS_PER_ORIGIN);
  }

  /**
   * A ledger whose claims start no transfer on an origin (host and port) that already has {@code
   * maxConnectionsPerOrigin} running across the cluster, whatever their tenants and sessions.
   */
  public Ledger(DataSource dataSource, Clock clock, int maxConnectionsPerOrigin) {
    this.tx = new Tx(dataSource, clock);
    ClaimStatements claimSql = new ClaimStatements(maxConnectionsPerOrigin);
    EventWriter events = new EventWriter(tx);
    outbox = new Outbox(tx);
    TaskEndings endings = new TaskEndings(tx, events, outbox);
    UnreadableTasks unreadable = new UnreadableTasks(events, outbox);
    tenants = new Tenants(tx);
    sessions = new Sessions(tx, events, endings, unreadable);
    stagedObjects = new StagedObjects(tx, sessions);
    submissions = new Submissions(tx, sessions, new TaskInsert(tx), outbox, events);
    claims = new Claims(tx, unreadable, claimSql);
    fairShares = new FairShares(tx, claimSql);
    leaseBatch = new LeaseBatch(tx, events, endings, outbox);
    leases = new Leases(leaseBatch);
    taskControl = new TaskControl(tx, endings, outbox);
    reaping = new Reaping(tx, endings, outbox, unreadable);
    purging = new Purging(tx);
    queueStatistics = new QueueStatistics(tx);
    eventSequencer = new EventSequencer(tx, events);
    eventReplay = new EventReplay(tx);
    reservations = new Reservations(tx);
  }

  /** The transactions of this ledger, for the package's test fixtures. */
  Tx tx() {
    return tx;
  }

  public Reservations reservations() {
    return reservations;
  }

  public Tenants tenants() {
    return tenants;
  }

  public Sessions sessions() {
    return sessions;
  }

  public Submissions submissions() {
    return submissions;
  }

  public Claims claims() {
    return claims;
  }

  public FairShares fairShares() {
    return fairShares;
  }

  public Leases leases() {
    return leases;
  }

  /** The lease holders' writes of many tasks in one transaction (a worker's group commit). */
  public LeaseBatch leaseBatch() {
    return leaseBatch;
  }

  public TaskControl taskControl() {
    return taskControl;
  }

  public StagedObjects stagedObjects() {
    return stagedObjects;
  }

  public Reaping reaping() {
    return reaping;
  }

  public Purging purging() {
    return purging;
  }

  public QueueStatistics queueStatistics() {
    return queueStatistics;
  }

  public EventSequencer eventSequencer() {
    return eventSequencer;
  }

  public EventReplay eventReplay() {
    return eventReplay;
  }

  public Outbox outbox() {
    return outbox;
  }
}
