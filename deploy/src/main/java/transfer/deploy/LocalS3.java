package transfer.deploy;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import transfer.s3server.EmbeddedS3;
import transfer.testkit.LocalCa;
import transfer.testkit.Secrets;

/**
 * The local cluster's S3 backend ({@code TRANSFER_STORAGE=s3}): an S3 API server in the launcher's
 * JVM (S3Proxy over a directory of the data directory, {@code s3/}), on 127.0.0.1, checking AWS
 * signatures with a key pair kept owner-only in {@code s3-credentials/} (made on the first start,
 * the same after), and the services' environment to use it as an operator would configure any S3:
 * the SDK's {@code AWS_*} variables and the cluster's S3 settings.
 *
 * <p>With {@code TRANSFER_S3_TLS=true} the server answers HTTPS, as S3 does, with a certificate
 * from a private CA kept in {@code s3-credentials/} ({@code ca.pem}, which the services trust
 * through {@code transfer.storage.s3.trusted-ca}): the path of an S3-compatible server with a
 * company's CA. Plain HTTP is the default: on one machine S3Proxy spends more CPU on TLS than on
 * the signed {@code aws-chunked} bodies the SDK sends over HTTP (measured in bench/README.md).
 */
final class LocalS3 implements AutoCloseable {
  static final String BUCKET = "transfer";
  static final String ACCESS_KEY = "transfer-local";

  private final EmbeddedS3 server;
  private final String secret;

  /** The CA the services trust, or null over HTTP. */
  private final Path caPem;

  private LocalS3(EmbeddedS3 server, String secret, Path caPem) {
    this.server = server;
    this.secret = secret;
    this.caPem = caPem;
  }

  static LocalS3 start(Settings settings) {
    Path credentials = settings.dataDir().resolve("s3-credentials");
    String secret = Secrets.readOrCreate(credentials.resolve("secret-key"));
    LocalCa ca = null;
    EmbeddedS3.Tls tls = null;
    if (settings.s3Tls()) {
      ca = LocalCa.openOrCreate(credentials, "transfer local S3 CA");
      // A new server certificate and key store password each start; the CA stays.
      String storePassword = Secrets.newSecret();
      Path keyStore =
          ca.issue(List.of("localhost", "127.0.0.1"), Duration.ofDays(397))
              .writePkcs12(credentials.resolve("server.p12"), storePassword);
      tls = new EmbeddedS3.Tls(keyStore, storePassword);
    }
    EmbeddedS3 server;
    try {
      server =
          EmbeddedS3.start(
              settings.dataDir().resolve("s3"),
              "127.0.0.1",
              settings.s3Port(),
              ACCESS_KEY,
              secret,
              tls);
    } catch (IOException e) {
      throw new LaunchFailure(
          1,
          "The S3 server did not start on 127.0.0.1:%d (%s); free the port or set TRANSFER_S3_PORT."
              .formatted(settings.s3Port(), e.getMessage()));
    }
    server.createBucket(BUCKET);
    return new LocalS3(server, secret, ca != null ? ca.certificatePem() : null);
  }

  /** What every service is given: the bucket, the endpoint, the key pair, S3Proxy's settings. */
  Map<String, String> serviceEnvironment() {
    Map<String, String> env = new TreeMap<>();
    env.put("TRANSFER_STORAGE_URL", url());
    env.put("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    env.put("AWS_SECRET_ACCESS_KEY", secret);
    env.put("AWS_REGION", "us-east-1");
    env.put("TRANSFER_STORAGE_S3_ENDPOINT", server.endpoint().toString());
    if (caPem != null) {
      env.put("TRANSFER_STORAGE_S3_TRUSTED_CA", caPem.toString());
    }
    env.put("TRANSFER_STORAGE_S3_PATH_STYLE", "true");
    // S3Proxy 2.7.0 does not parse the SDK's checksum trailers.
    env.put("TRANSFER_STORAGE_S3_REQUEST_CHECKSUMS", "when-required");
    return env;
  }

  String url() {
    return "s3://" + BUCKET + "/objects";
  }

  /** The banner's line: where the objects are, and how to reach them with any S3 client. */
  String bannerLine() {
    return url()
        + "   (S3 API at "
        + server.endpoint()
        + ", path-style, access key "
        + ACCESS_KEY
        + (caPem != null
            ? "; the secret and the CA, ca.pem, are in s3-credentials/)"
            : "; the secret is in s3-credentials/)");
  }

  @Override
  public void close() {
    server.close();
  }
}
