package transfer.storage.s3;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.jboss.logging.Logger;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;
import transfer.egress.TrustedCa;

/**
 * How the services reach the bucket: the AWS SDK's standard configuration (the default credential
 * chain: {@code AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY}, a profile, the pod's web identity
 * or instance role; {@code AWS_REGION}; {@code AWS_ENDPOINT_URL} for S3-compatible servers), and
 * what S3-compatible servers differ in, as settings.
 *
 * @param endpoint the S3 endpoint, when not the SDK's ({@code AWS_ENDPOINT_URL}, else AWS)
 * @param region the region, when not the SDK's chain ({@code AWS_REGION}, profile); us-east-1 when
 *     neither names one (what S3-compatible servers expect)
 * @param pathStyle {@code http://host/bucket/key} rather than {@code http://bucket.host/key}: what
 *     MinIO, Ceph RGW and S3Proxy on an address without DNS need
 * @param checksumsWhenRequired request checksums only where the S3 API requires them ({@code
 *     WHEN_REQUIRED}): for servers that do not parse the SDK's newer checksum trailers (S3Proxy
 *     2.7.0, older MinIO and Ceph); empty leaves the SDK's own choice ({@code
 *     AWS_REQUEST_CHECKSUM_CALCULATION})
 * @param timeout how long one request may wait for the server (connect, and between bytes)
 * @param trustedCa a PEM file of CA certificates an HTTPS endpoint's certificate may be signed by,
 *     besides the JVM's authorities (an S3-compatible server with a private CA)
 */
public record S3Settings(
    Optional<URI> endpoint,
    Optional<String> region,
    boolean pathStyle,
    Optional<Boolean> checksumsWhenRequired,
    Duration timeout,
    Optional<Path> trustedCa) {
  private static final Logger LOG = Logger.getLogger(S3Settings.class);

  /** These settings with the JVM's authorities only. */
  public S3Settings(
      Optional<URI> endpoint,
      Optional<String> region,
      boolean pathStyle,
      Optional<Boolean> checksumsWhenRequired,
      Duration timeout) {
    this(endpoint, region, pathStyle, checksumsWhenRequired, timeout, Optional.empty());
  }

  /** A client for these settings; the caller closes it. */
  public S3Client client() {
    UrlConnectionHttpClient.Builder http =
        UrlConnectionHttpClient.builder().connectionTimeout(timeout).socketTimeout(timeout);
    trustedCa.ifPresent(
        pem -> {
          X509TrustManager trust = TrustedCa.withExtra(pem, "transfer.storage.s3.trusted-ca");
          http.tlsTrustManagersProvider(() -> new TrustManager[] {trust});
        });
    S3ClientBuilder b =
        S3Client.builder()
            .httpClientBuilder(http)
            .region(resolvedRegion())
            .forcePathStyle(pathStyle);
    endpoint.ifPresent(b::endpointOverride);
    checksumsWhenRequired.ifPresent(
        when -> {
          b.requestChecksumCalculation(
              when
                  ? RequestChecksumCalculation.WHEN_REQUIRED
                  : RequestChecksumCalculation.WHEN_SUPPORTED);
          b.responseChecksumValidation(
              when
                  ? ResponseChecksumValidation.WHEN_REQUIRED
                  : ResponseChecksumValidation.WHEN_SUPPORTED);
        });
    return b.build();
  }

  /** A presigner for these settings (links to stored objects); the caller closes it. */
  public S3Presigner presigner() {
    S3Presigner.Builder b =
        S3Presigner.builder()
            .region(resolvedRegion())
            .serviceConfiguration(
                software.amazon.awssdk.services.s3.S3Configuration.builder()
                    .pathStyleAccessEnabled(pathStyle)
                    .build());
    endpoint.ifPresent(b::endpointOverride);
    return b.build();
  }

  private Region resolvedRegion() {
    if (region.isPresent()) {
      return Region.of(region.get());
    }
    try {
      return new DefaultAwsRegionProviderChain().getRegion();
    } catch (RuntimeException e) {
      LOG.debugf("no region configured (%s); using us-east-1", e.getMessage());
      return Region.US_EAST_1;
    }
  }
}
