package transfer.worker;

import io.agroal.api.AgroalDataSource;
import io.quarkus.logging.Log;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.TrustOptions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.X509TrustManager;
import transfer.egress.EgressPolicy;
import transfer.egress.OutboundProxy;
import transfer.egress.TrustedCa;
import transfer.ledger.Claims;
import transfer.ledger.DatabaseClock;
import transfer.ledger.FairShares;
import transfer.ledger.LeaseBatch;
import transfer.ledger.Ledger;
import transfer.ledger.Reservations;
import transfer.worker.attempt.Egress;
import transfer.worker.attempt.OriginClients;

/**
 * Wires the shared ledger (the claims and the lease writes the worker uses), the clock and the
 * outbound HTTP client.
 */
@ApplicationScoped
public class WorkerBeans {

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
  Ledger ledger(AgroalDataSource dataSource, Clock clock, WorkerConfig config) {
    int perOrigin = config.worker().maxConnectionsPerOrigin();
    if (perOrigin < 1) {
      throw new IllegalArgumentException(
          "transfer.worker.max-connections-per-origin must be at least 1, not " + perOrigin);
    }
    return new Ledger(dataSource, clock, perOrigin);
  }

  @Produces
  @Singleton
  Claims claims(Ledger ledger) {
    return ledger.claims();
  }

  @Produces
  @Singleton
  FairShares fairShares(Ledger ledger) {
    return ledger.fairShares();
  }

  @Produces
  @Singleton
  LeaseBatch leases(Ledger ledger) {
    return ledger.leaseBatch();
  }

  @Produces
  @Singleton
  Reservations reservations(Ledger ledger) {
    return ledger.reservations();
  }

  @Produces
  @Singleton
  @Named("workerId")
  String workerId(WorkerConfig config) {
    return config.worker().id().filter(s -> !s.isBlank()).orElseGet(WorkerBeans::defaultId);
  }

  /**
   * The clients to origins (the shared HTTP/1.1 one, the HTTPS one, those of sessions' client
   * certificates), all with the same options: made once, the trust store read once.
   */
  @Produces
  @Singleton
  OriginClients originClients(Vertx vertx, WorkerConfig config) {
    HttpClientOptions options =
        new HttpClientOptions()
            // Redirects are followed by the attempts, each hop judged by the Egress guard.
            .setMaxRedirects(0)
            // Bodies are stored exactly as sent: never ask for or undo a content encoding.
            .setDecompressionSupported(false)
            .setTryUseCompression(false)
            .setConnectTimeout(10_000)
            // A body arrives in pieces of at most this size: one per socket read (Netty reads up to
            // 64 KiB), instead of the default 8 KiB, which made eight hand-offs of each read.
            .setMaxChunkSize(64 * 1024)
            .setKeepAlive(true);
    config
        .fetch()
        .trustedCa()
        .ifPresentOrElse(
            pem -> {
              X509TrustManager trust = TrustedCa.withExtra(pem, "transfer.fetch.trusted-ca");
              options.setTrustOptions(TrustOptions.wrap(trust));
              Log.infof(
                  "Outbound TLS: origins' certificates are checked against the JVM's authorities"
                      + " and those in %s (%d in all)",
                  pem, TrustedCa.count(trust));
            },
            () ->
                Log.info(
                    "Outbound TLS: origins' certificates are checked against the JVM's"
                        + " authorities (TRANSFER_FETCH_TRUSTED_CA adds a private CA)"));
    config
        .fetch()
        .clientCertificates()
        .ifPresent(
            dir ->
                Log.infof(
                    "Outbound TLS: sessions' client certificates from %s/<tenant>/<name>/", dir));
    return new OriginClients(
        vertx,
        options,
        new PoolOptions().setHttp1MaxSize(Math.max(8, config.worker().slots())),
        config.fetch().clientCertificates(),
        config.fetch().http2());
  }

  /**
   * The SSRF guard, and the outbound proxy from the environment (https_proxy, http_proxy,
   * no_proxy); a bad allowed-destinations entry or proxy variable stops the worker at startup,
   * naming it.
   */
  @Produces
  @Singleton
  Egress egress(Vertx vertx, WorkerConfig config) {
    EgressPolicy policy =
        EgressPolicy.of(
            config.fetch().allowedDestinations().orElse(List.of()), config.fetch().allowedPorts());
    Log.infof(
        "Outbound requests: %s; at most %d bytes per task",
        policy, config.fetch().maxBytes().asLongValue());
    OutboundProxy proxies = OutboundProxy.fromEnvironment(System.getenv());
    Log.infof("Outbound proxy: %s", proxies);
    return new Egress(policy, InetAddress::getAllByName, vertx, proxies);
  }

  void closeClients(@Disposes OriginClients clients) {
    clients.close();
  }

  private static String defaultId() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "worker";
    }
    return host + "-" + ManagementFactory.getRuntimeMXBean().getPid();
  }
}
