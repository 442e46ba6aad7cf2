package transfer.ledger;

import static transfer.ledger.Sql.rows;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;
import transfer.contracts.EventTypes;
import transfer.contracts.TaskState;
import transfer.ledger.EventWriter.NewEvent;
import transfer.telemetry.LogFields;
import transfer.telemetry.TraceContext;

/**
 * Numbers the events that transactions wrote, after their commit: one sequencer at a time gives
 * each session's new events their sequence and a global publishing order ({@code event_numbers}),
 * in rounds of many sessions, with a few statements per round whatever its size.
 */
public final class EventSequencer {
  private static final Logger LOG = Logger.getLogger(EventSequencer.class);
  private static final long SEQUENCER_LOCK = 0x7472616e73657173L; // "transseqs"

  /**
   * What a round reads of an event: enough to number it, not its data. (The xid's text has a name
   * of its own: an ORDER BY xid would otherwise sort by the text.)
   */
  private static final String COLUMNS =
      "xid::text as xid_text, pos, tenant_id, session_id, type, task_id,"
          + " case when type = '"
          + EventTypes.COMPLETED
          + "' then data ->> 'state' end, traceparent, tracestate";

  private final Tx tx;
  private final EventWriter writer;
  private final SessionDrain drain;

  EventSequencer(Tx tx, EventWriter writer) {
    this.tx = tx;
    this.writer = writer;
    this.drain = new SessionDrain();
  }

  /** A written event as a round sees it; {@code state}: a completion's final state. */
  record Written(
      long xid,
      long pos,
      String tenantId,
      String sessionId,
      String type,
      String taskId,
      String state,
      TraceContext trace) {}

  /** A session, as {@code event_numbers} and {@code sessions} key it. */
  record SessionKey(String tenantId, String sessionId) {}

  /**
   * Numbers the events of the transactions that committed since the last round (about {@code limit}
   * of them; a transaction's events always together), oldest transaction first, in one transaction.
   * One sequencer runs at a time (a transaction-level advisory lock; others wait for it), so each
   * round's numbers commit before the next round starts, and a reader of the global order ({@code
   * ord}) never skips one. A transaction that starts after another's commit has a later xid, so one
   * task's events keep their order. After a task's completion, when no task of its session is open
   * any more, the session's {@code transfer.session.drained} event follows; the sequencer sees
   * every completion of a session once, in one order, so it is written once, after the last.
   * Answers how many events the round took (0: nothing new).
   */
  public int sequenceEvents(int limit) {
    return tx.run(
        "number new events",
        c -> {
          try (PreparedStatement ps = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
            ps.setLong(1, SEQUENCER_LOCK);
            ps.execute();
          }
          Round round = start(c);
          List<Written> batch = new ArrayList<>();
          SequencerCut next = read(c, round, Math.max(1, limit), batch);
          if (batch.isEmpty()) {
            return 0;
          }
          Map<SessionKey, List<Written>> bySession = new LinkedHashMap<>();
          batch.stream()
              .sorted(
                  Comparator.comparing((Written w) -> w.tenantId())
                      .thenComparing(Written::sessionId))
              .forEach(
                  w ->
                      bySession
                          .computeIfAbsent(
                              new SessionKey(w.tenantId(), w.sessionId()), k -> new ArrayList<>())
                          .add(w));
          Set<SessionKey> drained = drain.drainedSessions(c, bySession, next);
          List<SessionDrain.Counted> counted = drain.count(c, bySession, drained);
          int taken = batch.size() + numberAll(c, round.lastOrd(), bySession, counted);
          long numbered = counted.stream().mapToLong(SessionDrain.Counted::events).sum();
          try (PreparedStatement ps =
              c.prepareStatement(
                  "with s as (update event_sequencer set horizon = ?::xid8,"
                      + " in_flight = ?::text[]::xid8[], last_ord = ? where id = 1 returning 1)"
                      + " select pg_notify(?, ?) from s")) {
            ps.setString(1, Long.toString(next.horizon()));
            ps.setArray(2, xids(c, next.inFlight()));
            ps.setLong(3, round.lastOrd() + numbered);
            ps.setString(4, EventWakeups.EVENTS_NUMBERED);
            // The sessions numbered, so that an event stream wakes only for its own.
            ps.setString(
                5,
                EventWakeups.numberedPayload(
                    counted.stream().map(SessionDrain.Counted::key).distinct().toList()));
            ps.execute();
          }
          return taken;
        });
  }

  /**
   * {@link #hasNewEvents}: the first event at or past the horizon in the primary key's order, and
   * the transactions in flight as an array the index is searched with: a few index pages whatever
   * the number of events kept. (Written as EXISTS over a join with the sequencer's row, which every
   * round updates, the planner counted that row's many versions and read the whole events table at
   * every look.)
   */
  static final String LOOK =
      "select (select e.xid from events e where e.xid >="
          + " (select q.horizon from event_sequencer q where q.id = 1)"
          + " order by e.xid limit 1) is not null"
          + " or exists (select 1 from events e where e.xid = any("
          + "(select q.in_flight from event_sequencer q where q.id = 1)::xid8[]))";

  /**
   * Whether a round would find events to number: any committed event at or past the last round's
   * horizon, or of a transaction it left in flight. One statement outside a transaction, for a loop
   * that polls while idle (a round is a transaction of four statements).
   */
  public boolean hasNewEvents() {
    return tx.read(
        "look for new events",
        c -> {
          try (PreparedStatement ps = c.prepareStatement(LOOK)) {
            return rows(ps, rs -> rs.getBoolean(1)).get(0);
          }
        });
  }

  /** Where the last round stopped, the current snapshot, and the last ord handed out. */
  private record Round(SequencerCut cut, long xmax, Set<Long> running, long lastOrd) {}

  private static Round start(Connection c) throws SQLException {
    try (PreparedStatement ps =
            c.prepareStatement(
                "select q.horizon::text, q.in_flight::text[], q.last_ord,"
                    + " pg_snapshot_xmax(s)::text, array(select pg_snapshot_xip(s))::text[]"
                    + " from event_sequencer q, pg_current_snapshot() s where q.id = 1");
        ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        throw new IllegalStateException("event_sequencer has no row (migration V9)");
      }
      return new Round(
          new SequencerCut(Long.parseLong(rs.getString(1)), longs(rs.getArray(2))),
          Long.parseLong(rs.getString(4)),
          longs(rs.getArray(5)),
          rs.getLong(3));
    }
  }

  /**
   * Reads the events of the transactions committed since the round's cut into {@code batch}, in
   * (xid, pos) order: all of those the cut left in flight, and from its horizon on up to {@code
   * limit} more, completed to a whole transaction. Answers the cut after them.
   */
  private SequencerCut read(Connection c, Round round, int limit, List<Written> batch)
      throws SQLException {
    SequencerCut cut = round.cut();
    try (PreparedStatement ps =
        c.prepareStatement(
            "(select "
                + COLUMNS
                + " from events where xid = any(?::text[]::xid8[]))"
                + " union all (select "
                + COLUMNS
                + " from events where xid >= ?::xid8 and xid < ?::xid8"
                + " and xid <> all(?::text[]::xid8[]) order by xid, pos limit ?)")) {
      ps.setArray(1, xids(c, cut.finished(round.running())));
      ps.setString(2, Long.toString(cut.horizon()));
      ps.setString(3, Long.toString(round.xmax()));
      ps.setArray(4, xids(c, round.running()));
      ps.setInt(5, limit);
      batch.addAll(rows(ps, EventSequencer::written));
    }
    List<Written> ranged = batch.stream().filter(w -> w.xid() >= cut.horizon()).toList();
    if (ranged.size() < limit) {
      batch.sort(Comparator.comparingLong(Written::xid).thenComparingLong(Written::pos));
      return cut.advance(round.xmax(), round.running());
    }
    // The limit cut a transaction: the rest of it joins this round, the next one starts after it.
    Written last = ranged.get(ranged.size() - 1);
    try (PreparedStatement ps =
        c.prepareStatement(
            "select " + COLUMNS + " from events where xid = ?::xid8 and pos > ? order by pos")) {
      ps.setString(1, Long.toString(last.xid()));
      ps.setLong(2, last.pos());
      batch.addAll(rows(ps, EventSequencer::written));
    }
    batch.sort(Comparator.comparingLong(Written::xid).thenComparingLong(Written::pos));
    return cut.advance(last.xid() + 1, round.running());
  }

  private static Written written(ResultSet rs) throws SQLException {
    return new Written(
        Long.parseLong(rs.getString(1)),
        rs.getLong(2),
        rs.getString(3),
        rs.getString(4),
        rs.getString(5),
        rs.getString(6),
        rs.getString(7),
        TraceContext.of(rs.getString(8), rs.getString(9)));
  }

  /** One number of a round: the event's order, its row, its session and sequence. */
  private record Number(long ord, long xid, long pos, SessionKey key, long seq, boolean publish) {}

  /**
   * Writes the drained events and every number of the round (one statement each); answers the
   * number of drained events written.
   */
  private int numberAll(
      Connection c,
      long lastOrd,
      Map<SessionKey, List<Written>> bySession,
      List<SessionDrain.Counted> counted)
      throws SQLException {
    List<NewEvent> drainedEvents = new ArrayList<>();
    for (SessionDrain.Counted s : counted) {
      if (s.drained()) {
        drainedEvents.add(drain.drainedEvent(s, lastCompletion(bySession.get(s.key()))));
      }
    }
    Map<String, Long> drainedPos = writer.insertNumbered(c, drainedEvents);
    Set<SessionKey> found = new HashSet<>();
    List<Number> numbers = new ArrayList<>();
    long ord = lastOrd;
    for (SessionDrain.Counted s : counted) {
      found.add(s.key());
      long seq = s.lastSeq() - s.events();
      for (Written w : bySession.get(s.key())) {
        numbers.add(new Number(++ord, w.xid(), w.pos(), s.key(), ++seq, s.sendsEvents()));
      }
      if (s.drained()) {
        String id = lastCompletion(bySession.get(s.key())).taskId() + ":drained";
        numbers.add(new Number(++ord, 0, drainedPos.get(id), s.key(), ++seq, s.sendsEvents()));
      }
    }
    for (Map.Entry<SessionKey, List<Written>> e : bySession.entrySet()) {
      if (!found.contains(e.getKey())) {
        SessionKey k = e.getKey();
        try (LogFields f = LogFields.of(null, k.sessionId(), k.tenantId(), null, null)) {
          LOG.warnf(
              "%d event(s) of session %s of tenant %s not numbered: the session no longer exists;"
                  + " they stay unnumbered until retention removes them",
              e.getValue().size(), k.sessionId(), k.tenantId());
        }
      }
    }
    insertNumbers(c, numbers);
    return drainedEvents.size();
  }

  private static Written lastCompletion(List<Written> events) {
    Written last = null;
    for (Written w : events) {
      if (EventTypes.COMPLETED.equals(w.type())) {
        last = w;
      }
    }
    return last;
  }

  private static void insertNumbers(Connection c, List<Number> numbers) throws SQLException {
    if (numbers.isEmpty()) {
      return;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "insert into event_numbers (ord, xid, pos, tenant_id, session_id, seq, publish)"
                + " select * from unnest(?::bigint[], ?::text[]::xid8[], ?::bigint[], ?::text[],"
                + " ?::text[], ?::bigint[], ?::boolean[])")) {
      ps.setArray(1, c.createArrayOf("bigint", numbers.stream().map(Number::ord).toArray()));
      ps.setArray(
          2, c.createArrayOf("text", numbers.stream().map(n -> Long.toString(n.xid())).toArray()));
      ps.setArray(3, c.createArrayOf("bigint", numbers.stream().map(Number::pos).toArray()));
      ps.setArray(
          4, c.createArrayOf("text", numbers.stream().map(n -> n.key().tenantId()).toArray()));
      ps.setArray(
          5, c.createArrayOf("text", numbers.stream().map(n -> n.key().sessionId()).toArray()));
      ps.setArray(6, c.createArrayOf("bigint", numbers.stream().map(Number::seq).toArray()));
      ps.setArray(7, c.createArrayOf("boolean", numbers.stream().map(Number::publish).toArray()));
      ps.executeUpdate();
    }
  }

  static java.sql.Array xids(Connection c, Set<Long> xids) throws SQLException {
    return c.createArrayOf("text", xids.stream().sorted().map(String::valueOf).toArray());
  }

  private static Set<Long> longs(java.sql.Array array) throws SQLException {
    Set<Long> out = new HashSet<>();
    for (Object o : (Object[]) array.getArray()) {
      out.add(Long.parseLong(o.toString()));
    }
    return out;
  }

  /** Counts of completions by final state among a session's events of a round. */
  static Map<TaskState, Integer> completions(List<Written> events) {
    Map<TaskState, Integer> out = new HashMap<>();
    for (Written w : events) {
      // A state this version does not know (a newer version wrote it) counts in no total, so
      // that one such event cannot stop the numbering of every session's events.
      if (w.state() != null) {
        TaskState.known(w.state()).ifPresent(s -> out.merge(s, 1, Integer::sum));
      }
    }
    return out;
  }
}
