package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.testkit.LocalCa;
import transfer.testkit.Origin;
import transfer.testkit.Secrets;
import transfer.testkit.TestFiles;

/**
 * Origins over HTTPS, on real sockets: a download and an upload over HTTP/2 (which the origin
 * offers by ALPN) from an origin whose certificate a private CA signed (trusted by the workers with
 * {@code TRANSFER_FETCH_TRUSTED_CA}, besides the JVM's authorities), and each certificate a worker
 * must refuse: self-signed, from an authority it does not trust, expired, for another host. A
 * refused certificate fails the task {@code tls_certificate} at its first attempt (not retried as a
 * network fault) with no byte stored.
 */
class TlsOriginClusterIT extends ClusterTest {
  private static final List<String> NAMES = List.of(ClusterFixture.ORIGIN_NAME, "127.0.0.1");
  private static Path otherCaDir;

  @BeforeAll
  static void otherAuthority() throws Exception {
    otherCaDir = Files.createTempDirectory("untrusted-ca");
  }

  @AfterAll
  static void removeOtherAuthority() {
    TestFiles.deleteTree(otherCaDir);
  }

  @Test
  void aDownloadAndAnUploadOverHttpsWithAPrivateCa() throws Exception {
    try (Origin tls =
        Origin.startTls(cluster.tlsOriginPort, cluster.originCa.issue(NAMES, Duration.ofDays(1)))) {
      String sid = newSession();
      long size = 3_000_000;
      String download = download(sid, tls, "/bytes/" + size + "?seed=31");
      JsonNode done = cluster.awaitFinal(sid, download, Duration.ofMinutes(1));
      assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
      assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(size, 31));
      // What the attempt cost on the wire: a new connection to a new origin, TLS, HTTP/2.
      JsonNode metrics =
          ClusterFixture.ofType(
                  ClusterFixture.ofTask(cluster.replay(sid), download), "transfer.task.completed")
              .get(0)
              .at("/data/metrics");
      assertThat(metrics.get("protocol").asText()).as("%s", metrics).isEqualTo("h2");
      assertThat(metrics.get("reusedConnection").asBoolean()).isFalse();
      assertThat(metrics.get("connectMs").asLong()).isNotNegative();
      assertThat(metrics.get("tlsMs").asLong()).isNotNegative();
      assertThat(metrics.get("remoteAddress").asText())
          .isEqualTo("127.0.0.1:" + cluster.tlsOriginPort);
      assertThat(metrics.get("bytes").asLong()).isEqualTo(size);

      String upload =
          submit(
              sid,
              "{\"type\":\"upload\",\"url\":\""
                  + url(tls, "/put/tls-upload")
                  + "\",\"method\":\"PUT\",\"source\":{\"task\":\""
                  + download
                  + "\"}}");
      JsonNode sent = cluster.awaitFinal(sid, upload, Duration.ofMinutes(1));
      assertThat(sent.get("state").asText()).as("%s", sent).isEqualTo("completed");
      // The origin offers HTTP/2 (ALPN), and the workers take it, for both directions.
      assertThat(tls.requests())
          .isNotEmpty()
          .allSatisfy(r -> assertThat(r.httpVersion()).as(r.path()).isEqualTo("HTTP_2"));
      assertThat(tls.requests())
          .anySatisfy(
              r -> {
                assertThat(r.path()).isEqualTo("/put/tls-upload");
                assertThat(r.bytesReceived()).isEqualTo(size);
                assertThat(r.receivedSha256()).isEqualTo(Origin.sha256Hex(size, 31));
              });
    }
  }

  @Test
  void aSelfSignedCertificateIsRefused() throws Exception {
    refused(LocalCa.selfSigned(NAMES, Duration.ofDays(1)), "no trusted authority");
  }

  @Test
  void aCertificateFromAnAuthorityTheWorkersDoNotTrustIsRefused() throws Exception {
    LocalCa other = LocalCa.openOrCreate(otherCaDir, "an authority nobody trusts");
    refused(other.issue(NAMES, Duration.ofDays(1)), "no trusted authority");
  }

  @Test
  void anExpiredCertificateIsRefused() throws Exception {
    Instant now = Instant.now();
    refused(
        cluster.originCa.issue(
            NAMES, now.minus(Duration.ofDays(10)), now.minus(Duration.ofDays(1))),
        "expired");
  }

  @Test
  void aCertificateForAnotherHostIsRefused() throws Exception {
    refused(
        cluster.originCa.issue(List.of("elsewhere.example"), Duration.ofDays(1)), "another host");
  }

  /**
   * An origin that asks every client for a certificate (mutual TLS): a session that names its
   * tenant's certificate downloads; one that names a certificate the workers do not hold fails
   * tls_certificate at once; one that names none gets no byte.
   */
  @Test
  void aSessionsClientCertificateOpensAnOriginThatAsksForOne() throws Exception {
    LocalCa.Issued client =
        cluster.originCa.issue(List.of("svc-a.transfer.test"), Duration.ofDays(1));
    Path held = Files.createDirectories(cluster.clientCertificates.resolve("default/svc-a"));
    Files.writeString(held.resolve("tls.crt"), client.chainPem());
    Secrets.writeOwnerOnly(held.resolve("tls.key"), client.keyPem());
    try (Origin mutual =
        Origin.startTls(
            cluster.tlsOriginPort,
            cluster.originCa.issue(NAMES, Duration.ofDays(1)),
            cluster.originCa)) {
      String sid = newSession("{\"clientCertificate\":\"svc-a\"}");
      String tid = download(sid, mutual, "/bytes/200000?seed=33");
      JsonNode done = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
      assertThat(done.get("state").asText()).as("%s", done).isEqualTo("completed");
      assertThat(done.get("sha256").asText()).isEqualTo(Origin.sha256Hex(200_000, 33));
      assertThat(
              cluster
                  .call("GET", "/v1/sessions/" + sid, null)
                  .body()
                  .at("/config/clientCertificate")
                  .asText())
          .isEqualTo("svc-a");

      // A name the workers do not hold: refused before any connection, for good.
      String unheld = newSession("{\"clientCertificate\":\"not-held\"}");
      String refused = download(unheld, mutual, "/bytes/1000?seed=34");
      JsonNode task = cluster.awaitFinal(unheld, refused, Duration.ofMinutes(1));
      assertThat(task.at("/error/code").asText()).as("%s", task).isEqualTo("tls_certificate");
      assertThat(task.at("/error/message").asText()).contains("not-held");
      assertThat(task.get("attempt").asInt()).as("not retried").isEqualTo(1);
      // No certificate at all: the origin ends the handshake. Over HTTP/2 the client sees only a
      // closed connection (README, "Client certificates"), so it is a retried connection_failed.
      String none = newSession("{\"retry\":{\"maxAttempts\":1},\"waitsForConnectivity\":false}");
      String closed = download(none, mutual, "/bytes/1000?seed=35");
      JsonNode without = cluster.awaitFinal(none, closed, Duration.ofMinutes(1));
      assertThat(without.get("state").asText()).as("%s", without).isEqualTo("failed");
      assertThat(without.get("bytesTransferred").asLong()).isZero();
      assertThat(mutual.requests())
          .as("only the session with the certificate got past the handshake")
          .allSatisfy(r -> assertThat(r.query()).contains("seed=33"));
    }
  }

  @Test
  void aClientCertificateNameThatCouldBeAPathIsRefusedAtTheApi() throws Exception {
    for (String name : List.of("../other-tenant/svc", "a/b", "", "-----BEGIN CERTIFICATE-----")) {
      ApiClient.Answer a =
          cluster.call(
              "PUT",
              "/v1/sessions/tls-bad-" + UUID.randomUUID(),
              "{\"clientCertificate\":\"" + name + "\"}");
      assertThat(a.status()).as(name).isEqualTo(400);
      assertThat(a.body().toString()).as(name).contains("clientCertificate");
    }
  }

  /**
   * A download from an origin with {@code certificate} fails for good, said so, storing nothing.
   */
  private static void refused(LocalCa.Issued certificate, String reason) throws Exception {
    try (Origin tls = Origin.startTls(cluster.tlsOriginPort, certificate)) {
      String sid = newSession();
      String tid = download(sid, tls, "/bytes/100000?seed=32");
      JsonNode task = cluster.awaitFinal(sid, tid, Duration.ofMinutes(1));
      assertThat(task.get("state").asText()).as("%s", task).isEqualTo("failed");
      assertThat(task.at("/error/code").asText()).isEqualTo("tls_certificate");
      assertThat(task.at("/error/message").asText()).contains(reason);
      assertThat(task.get("attempt").asInt()).as("not retried").isEqualTo(1);
      assertThat(task.get("bytesTransferred").asLong()).isZero();
      assertThat(task.path("location").isMissingNode() || task.get("location").isNull()).isTrue();
      assertThat(tls.requests()).as("no request got past the handshake").isEmpty();
    }
  }

  private static String url(Origin tls, String pathAndQuery) {
    return tls.url(ClusterFixture.ORIGIN_NAME, pathAndQuery);
  }

  private static String newSession() throws Exception {
    return newSession("{}");
  }

  private static String newSession(String config) throws Exception {
    String sid = "tls-" + UUID.randomUUID();
    ApiClient.Answer a = cluster.call("PUT", "/v1/sessions/" + sid, config);
    assertThat(a.status()).as("PUT session: %s", a.body()).isEqualTo(201);
    return sid;
  }

  /**
   * A download of {@code pathAndQuery} from {@code origin} (by the origin's name) in {@code sid}.
   */
  private static String download(String sid, Origin origin, String pathAndQuery) throws Exception {
    return submit(sid, "{\"type\":\"download\",\"url\":\"" + url(origin, pathAndQuery) + "\"}");
  }

  private static String submit(String sid, String body) throws Exception {
    ApiClient.Answer a = cluster.call("POST", "/v1/sessions/" + sid + "/tasks", body);
    assertThat(a.status()).as("POST task: %s", a.body()).isEqualTo(201);
    return a.body().get("id").asText();
  }
}
