package transfer.s3server;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * A real S3 API server in this JVM: S3Proxy (Jetty) over jclouds' file-system blob store, on
 * 127.0.0.1 with AWS signature v2/v4 authentication. Objects are plain files under {@code
 * dir/<bucket>/<key>}. For tests and the local cluster, where no S3 service or container is at
 * hand.
 *
 * <p>S3Proxy 2.7.0 does not parse the request checksum trailers the AWS SDK for Java v2 sends by
 * default since 2.30: clients must set the SDK's request checksum calculation to {@code
 * WHEN_REQUIRED} for it (a setting of the cluster, not a test hack).
 */
public final class EmbeddedS3 implements AutoCloseable {
  private final S3Proxy proxy;
  private final BlobStoreContext context;
  private final String accessKey;
  private final String secretKey;
  private final boolean https;

  private EmbeddedS3(
      S3Proxy proxy, BlobStoreContext context, String accessKey, String secretKey, boolean https) {
    this.proxy = proxy;
    this.context = context;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
    this.https = https;
  }

  /**
   * HTTPS instead of HTTP: the server's key and certificate chain in a PKCS#12 key store.
   *
   * @param keyStore the PKCS#12 file
   * @param password its password (and the key's)
   */
  public record Tls(Path keyStore, String password) {}

  /**
   * Starts a server on {@code port} of 127.0.0.1 (0: a free one) keeping its objects under {@code
   * dir}, accepting requests signed with this key pair.
   */
  public static EmbeddedS3 start(Path dir, int port, String accessKey, String secretKey)
      throws IOException {
    return start(dir, "127.0.0.1", port, accessKey, secretKey);
  }

  /**
   * As {@link #start(Path, int, String, String)}, listening on {@code host} (the container image:
   * 0.0.0.0, inside its own network namespace).
   */
  public static EmbeddedS3 start(
      Path dir, String host, int port, String accessKey, String secretKey) throws IOException {
    return start(dir, host, port, accessKey, secretKey, null);
  }

  /**
   * As {@link #start(Path, String, int, String, String)}, over HTTPS with {@code tls} (null: HTTP).
   * An AWS SDK signs no request body over HTTPS ({@code UNSIGNED-PAYLOAD}), as with S3 itself; over
   * HTTP it signs every body, which this server then checks byte by byte.
   */
  public static EmbeddedS3 start(
      Path dir, String host, int port, String accessKey, String secretKey, Tls tls)
      throws IOException {
    Files.createDirectories(dir);
    Properties p = new Properties();
    p.setProperty("jclouds.filesystem.basedir", dir.toAbsolutePath().toString());
    BlobStoreContext context =
        ContextBuilder.newBuilder("filesystem").overrides(p).buildView(BlobStoreContext.class);
    S3Proxy.Builder builder =
        S3Proxy.builder()
            .blobStore(context.getBlobStore())
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey);
    if (tls == null) {
      builder.endpoint(URI.create("http://" + host + ":" + port));
    } else {
      builder
          .secureEndpoint(URI.create("https://" + host + ":" + port))
          .keyStore(tls.keyStore().toString(), tls.password());
    }
    S3Proxy proxy = builder.build();
    try {
      proxy.start();
      long until = System.nanoTime() + 30_000_000_000L;
      while (!"STARTED".equals(proxy.getState())) {
        if (System.nanoTime() > until) {
          throw new IOException("S3Proxy did not start in 30 s (state " + proxy.getState() + ")");
        }
        Thread.sleep(10);
      }
    } catch (IOException e) {
      context.close();
      throw e;
    } catch (Exception e) {
      context.close();
      throw new IOException("S3Proxy did not start on " + host + ":" + port + ": " + e, e);
    }
    return new EmbeddedS3(proxy, context, accessKey, secretKey, tls != null);
  }

  /** {@code http://127.0.0.1:<port>} (or https): the value of {@code AWS_ENDPOINT_URL}. */
  public URI endpoint() {
    return URI.create((https ? "https" : "http") + "://127.0.0.1:" + port());
  }

  public int port() {
    return https ? proxy.getSecurePort() : proxy.getPort();
  }

  public String accessKey() {
    return accessKey;
  }

  public String secretKey() {
    return secretKey;
  }

  /** Creates the bucket {@code name} (nothing when it is there). */
  public void createBucket(String name) {
    context.getBlobStore().createContainerInLocation(null, name);
  }

  @Override
  public void close() {
    try {
      proxy.stop();
    } catch (Exception e) {
      // stopping: nothing left to do with it
    } finally {
      context.close();
    }
  }
}
