package transfer.worker.attempt;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;
import transfer.contracts.ErrorCodes;
import transfer.contracts.SessionConfig;
import transfer.contracts.TaskError;

/**
 * The HTTP client of an attempt: the worker's shared one, or, for a session that names a TLS client
 * certificate ({@code clientCertificate}), a client that presents that certificate to origins that
 * ask for one. Vert.x takes key material per client, not per request, so there is one client per
 * certificate, made on first use and kept; a certificate whose files change (a rotated Secret) gets
 * a new client, and the old one is closed a while later, once its transfers have moved on.
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
  private final Map<String, Held> byCertificate = new ConcurrentHashMap<>();

  private record Held(HttpClient client, FileTime certModified, FileTime keyModified) {}

  public OriginClients(
      Vertx vertx,
      HttpClient shared,
      HttpClientOptions options,
      PoolOptions pool,
      Optional<Path> certificates) {
    this.vertx = vertx;
    this.shared = shared;
    this.options = options;
    this.pool = pool;
    this.certificates = certificates;
  }

  /** Only the shared client: no session may name a certificate (tests). */
  public static OriginClients of(HttpClient shared) {
    return new OriginClients(null, shared, null, null, Optional.empty());
  }

  /**
   * The client for a task of {@code tenant} in a session configured {@code session}; throws {@link
   * Egress.Refused} with a final {@code tls_certificate} error when the session names a certificate
   * this worker does not hold for the tenant.
   */
  HttpClient client(String tenant, SessionConfig session) {
    String name = session.clientCertificate();
    if (name == null) {
      return shared;
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
    String k = tenant + "/" + name;
    Held held =
        byCertificate.compute(
            k,
            (ignored, old) -> {
              if (old != null
                  && old.certModified().equals(certModified)
                  && old.keyModified().equals(keyModified)) {
                return old;
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
              return new Held(c, certModified, keyModified);
            });
    return held.client();
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
