package transfer.worker.attempt;

import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;
import transfer.contracts.TaskMetrics;

/**
 * What an attempt's exchange costs on the wire ({@link TaskMetrics}, URLSession's task metrics):
 * the transfer and {@link Connection} mark the steps of each request as they happen, and the
 * completion takes a snapshot. Each request starts over; the snapshot describes the last one.
 *
 * <p>Vert.x opens a connection (TCP, then TLS) in one step, so the TLS share is read from the TLS
 * session: its creation time is when the handshake began. A session resumed from an earlier
 * connection began before this one, and then the connection's time stays whole in {@code
 * connectMs}. Whether a connection is reused is told by having seen it before (a weak set, so
 * closed connections are forgotten).
 */
final class AttemptMetrics {
  private static final Set<HttpConnection> SEEN =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  /** How far the wall clock (TLS session times) and the monotonic one may differ in rounding. */
  private static final long ROUNDING_MS = 2;

  private final Scheduler scheduler;
  private final Clock clock;
  private final int attempt;
  private final Instant fetchStart;
  private final long startNanos;

  private long routeStart = -1;
  private long requestStart = -1;
  private long connected = -1;
  private long answered = -1;
  private Long dnsMs;
  private Long connectMs;
  private Long tlsMs;
  private int redirects;
  private int requests;
  private String remoteAddress;
  private String protocol;
  private Boolean reused;

  AttemptMetrics(Scheduler scheduler, Clock clock, int attempt) {
    this.scheduler = scheduler;
    this.clock = clock;
    this.attempt = attempt;
    this.fetchStart = clock.instant();
    this.startNanos = scheduler.nanoTime();
  }

  /** The request's destination is being resolved and judged (the egress rules). */
  void routing() {
    routeStart = scheduler.nanoTime();
  }

  /** A request goes out: a connection is asked for. */
  void opening() {
    long now = scheduler.nanoTime();
    dnsMs = routeStart >= 0 ? millis(routeStart, now) : null;
    routeStart = -1;
    requestStart = now;
    connected = -1;
    answered = -1;
    connectMs = null;
    tlsMs = null;
    requests++;
  }

  /** The request has its connection. */
  void made(HttpClientRequest req) {
    connected = scheduler.nanoTime();
    HttpConnection conn = req.connection();
    protocol = req.version() == HttpVersion.HTTP_2 ? "h2" : "http/1.1";
    if (conn == null) {
      return;
    }
    SocketAddress remote = conn.remoteAddress();
    remoteAddress = remote == null ? null : address(remote.hostAddress(), remote.port());
    reused = !SEEN.add(conn);
    if (reused || requestStart < 0) {
      return;
    }
    long whole = millis(requestStart, connected);
    SSLSession tls = conn.isSsl() ? conn.sslSession() : null;
    Long handshake = tls == null ? null : handshakeMillis(tls.getCreationTime(), clock.millis());
    tlsMs = tlsShare(handshake, whole);
    connectMs = tlsMs == null ? whole : whole - tlsMs;
  }

  /**
   * The TLS share of a new connection that took {@code whole} ms: the handshake's age, no more than
   * the whole (the two clocks differ by a millisecond's rounding); null when the handshake began
   * before the connection did (a session resumed from an earlier one) or there was none.
   */
  static Long tlsShare(Long handshake, long whole) {
    if (handshake == null || handshake > whole + ROUNDING_MS) {
      return null;
    }
    return Math.min(handshake, whole);
  }

  /** The answer's headers arrived. */
  void answered() {
    answered = scheduler.nanoTime();
  }

  /** A redirect is followed. */
  void redirected() {
    redirects++;
  }

  /** The attempt's figures now, its last byte just moved; {@code bytes} it moved. */
  TaskMetrics snapshot(long bytes) {
    long end = scheduler.nanoTime();
    return new TaskMetrics(
        attempt,
        fetchStart,
        dnsMs,
        connectMs,
        tlsMs,
        connected >= 0 && answered >= 0 ? millis(connected, answered) : null,
        answered >= 0 ? millis(answered, end) : null,
        millis(startNanos, end),
        redirects,
        requests,
        remoteAddress,
        protocol,
        reused,
        bytes);
  }

  // ------------------------------------------------------------ pure rules (unit-tested)

  /**
   * The TLS handshake's share of a new connection: from the session's creation to now, or null when
   * the session is older than a handshake can be (resumed from an earlier connection).
   */
  static Long handshakeMillis(long sessionCreated, long nowMillis) {
    long ms = nowMillis - sessionCreated;
    return sessionCreated <= 0 || ms < 0 || ms > TimeUnit.MINUTES.toMillis(5) ? null : ms;
  }

  /** {@code host:port}, an IPv6 address in brackets. */
  static String address(String host, int port) {
    return (host != null && host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  private static long millis(long fromNanos, long toNanos) {
    return TimeUnit.NANOSECONDS.toMillis(Math.max(0, toNanos - fromNanos));
  }
}
