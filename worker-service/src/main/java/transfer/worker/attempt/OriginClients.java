package transfer.worker.attempt;

import io.vertx.core.Vertx;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;

/**
 * The HTTP client of an attempt: for a plain-text origin the worker's shared HTTP/1.1 client; for
 * an HTTPS origin a client that offers HTTP/2 and HTTP/1.1 by ALPN (unless {@code
 * transfer.fetch.http2} is off) and takes what the origin chooses; for a session that names a TLS
 * client certificate ({@code clientCertificate}), a client that presents that certificate to
 * origins that ask for one. Vert.x takes key material per client, not per request, so there is one
 * client per certificate, made on first use and kept; a certificate whose files change (a rotated
 * Secret) gets a new client (the files are looked at again at most every 10 s), and the old one is
 * closed a while later, once its transfers have moved on.
 *
 * <p>The certificates are the tenant's own: {@code <dir>/<tenant>/<name>/tls.crt} and {@code
 * tls.key}. A session names one; it can never reach another tenant's, and the request never carries
 * the certificate itself.
 */
public final class OriginClients {
  private static final Logger LOG = Logger.getLogger(OriginClients.class);
  private static final long RETIRE_AFTER_MS = 10 * 60_000;

  private final Vertx vertx;
  private final HttpClient shared;
  private final HttpClientOptions options;
  private final PoolOptions pool;
  private final Optional<Path> certificates;
  private final HttpClient tls; // HTTPS origins without a client certificate
  private final Map<String, Held> byCertificate = new ConcurrentHashMap<>();

  /**
   * HTTP/2 flow control: how much an origin may send on one stream, and on one connection, before
   * the worker reads it. A stream paused by a slow disk holds at most this much; 64 KiB (the
   * protocol's default) would cap a stream at 64 KiB per round trip, 1.3 MB/s at 50 ms.
   */
  static final int HTTP2_STREAM_WINDOW = 1024 * 1024;

  static final int HTTP2_CONNECTION_WINDOW = 16 * 1024 * 1024;

  /** How long a certificate's files go unlooked-at: a stat per request would be I/O per request. */
  private static final long RECHECK_NANOS = 10_000_000_000L;

  private record Held(
      HttpClient client, FileTime certModified, FileTime keyModified, long checkedAt) {}

  public OriginClients(
      Vertx vertx,
      HttpClientOptions options,
      PoolOptions pool,
      Optional<Path> certificates,
      boolean http2) {
    this.vertx = vertx;
    this.shared = vertx.httpClientBuilder().with(options).with(pool).build();
    this.options = http2 ? http2(options) : options;
    this.pool = pool;
    this.certificates = certificates;
    this.tls = http2 ? vertx.httpClientBuilder().with(this.options).with(pool).build() : shared;
  }

  private OriginClients(HttpClient shared) {
    this.vertx = null;
    this.shared = shared;
    this.options = null;
    this.pool = null;
    this.certificates = Optional.empty();
    this.tls = shared;
  }

  /** Only the shared client, for every origin: no session may name a certificate (tests). */
  public static OriginClients of(HttpClient shared) {
    return new OriginClients(shared);
  }

  /** The options of a client that offers HTTP/2 by ALPN and falls back to HTTP/1.1. */
  private static HttpClientOptions http2(HttpClientOptions options) {
    return new HttpClientOptions(options)
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setUseAlpn(true)
        .setAlpnVersions(List.of(HttpVersion.HTTP_2, HttpVersion.HTTP_1_1))
        // Never h2c: this client is for TLS only.
        .setHttp2ClearTextUpgrade(false)
        .setInitialSettings(new Http2Settings().setInitialWindowSize(HTTP2_STREAM_WINDOW))
        .setHttp2ConnectionWindowSize(HTTP2_CONNECTION_WINDOW);
  }

  /**
   * The client for a request to {@code url} of a task of {@code tenant} in a session configured
   * {@code session}; throws {@link Egress.Refused} with a final {@code tls_certificate} error when
   * the session names a certificate this worker does not hold for the tenant.
   */
  HttpClient client(String tenant, SessionConfig session, String url) {
    boolean https = url.regionMatches(true, 0, "https:", 0, 6);
    String name = session.clientCertificate();
    if (!https) {
      return shared; // a client certificate is a TLS matter: a plain-text origin never sees one
    }
    if (name == null) {
      return tls;
    }
    if (certificates.isEmpty()) {
      throw missing(
          name,
          "this worker holds no client certificates (transfer.fetch.client-certificates is not set)");
    }
    Path dir = certificates.get().resolve(tenant).resolve(name).normalize();
    if (!dir.startsWith(certificates.get().resolve(tenant))) {
      throw missing(name, "not a certificate name"); // the API allows no such name; a stored one
    }
    String k = tenant + "/" + name;
    Held known = byCertificate.get(k);
    long now = System.nanoTime();
    if (known != null && now - known.checkedAt() < RECHECK_NANOS) {
      return known.client();
    }
    Path cert = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    FileTime certModified;
    FileTime keyModified;
    try {
      certModified = Files.getLastModifiedTime(cert);
      keyModified = Files.getLastModifiedTime(key);
    } catch (IOException e) {
      throw missing(name, "this worker has no tls.crt and tls.key in " + dir);
    }
    Held held =
        byCertificate.compute(
            k,
            (ignored, old) -> {
              if (old != null
                  && old.certModified().equals(certModified)
                  && old.keyModified().equals(keyModified)) {
                return new Held(old.client(), certModified, keyModified, now);
              }
              if (old != null) {
                retire(old.client(), k);
              }
              HttpClient c =
                  vertx
                      .httpClientBuilder()
                      .with(
                          new HttpClientOptions(options)
                              .setKeyCertOptions(
                                  new PemKeyCertOptions()
                                      .setCertPath(cert.toString())
                                      .setKeyPath(key.toString())))
                      .with(pool)
                      .build();
              LOG.infof("client certificate %s of tenant %s: loaded from %s", name, tenant, dir);
              return new Held(c, certModified, keyModified, now);
            });
    return held.client();
  }

  /**
   * {@link #client}, or null once {@code attempt} has failed because the session's client
   * certificate cannot be used.
   */
  HttpClient clientOrFail(Attempt attempt, String tenant, SessionConfig session, String url) {
    try {
      return client(tenant, session, url);
    } catch (Egress.Refused r) {
      attempt.fail(r.error());
      return null;
    }
  }

  /** Closes every client (the service stops). */
  public void close() {
    shared.close();
    if (tls != shared) {
      tls.close();
    }
    byCertificate.values().forEach(h -> h.client().close());
  }

  private void retire(HttpClient old, String certificate) {
    LOG.infof("client certificate %s changed: its old client closes in 10 minutes", certificate);
    vertx.setTimer(RETIRE_AFTER_MS, t -> old.close());
  }

  private static Egress.Refused missing(String name, String why) {
    return new Egress.Refused(
        TaskError.of(
            ErrorCodes.TLS_CERTIFICATE,
            "the session's client certificate '" + name + "' cannot be used: " + why,
            false));
  }
}
