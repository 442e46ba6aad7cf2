package transfer.storage.s3;

import io.smallrye.config.WithDefault;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The S3 settings both services read under {@code transfer.storage.s3} (environment: {@code
 * TRANSFER_STORAGE_S3_*}); used when {@code transfer.storage.url} is {@code s3://bucket/prefix}.
 * Credentials are never a setting of ours: the SDK's default chain finds them.
 */
public interface S3Config {
  /** The S3 endpoint; unset: the SDK's ({@code AWS_ENDPOINT_URL}, else AWS). */
  Optional<URI> endpoint();

  /** The region; unset: the SDK's ({@code AWS_REGION}, a profile), else us-east-1. */
  Optional<String> region();

  /** Path-style addressing ({@code http://host/bucket/key}), as MinIO, Ceph and S3Proxy need. */
  @WithDefault("false")
  boolean pathStyle();

  /**
   * {@code when-required}: request checksums only where the S3 API requires them, for servers that
   * do not parse the SDK's checksum trailers (S3Proxy 2.7.0, older MinIO and Ceph); {@code
   * when-supported}: the SDK's default; unset: the SDK's own setting ({@code
   * AWS_REQUEST_CHECKSUM_CALCULATION}).
   */
  Optional<String> requestChecksums();

  /**
   * A PEM file of CA certificates an HTTPS endpoint's certificate may be signed by, besides the
   * JVM's authorities: an S3-compatible server with a private CA.
   */
  Optional<Path> trustedCa();

  /** How long one request may wait for the server: to connect, and between bytes. */
  @WithDefault("60s")
  Duration timeout();

  /** These settings, checked. */
  default S3Settings settings() {
    Optional<Boolean> whenRequired =
        requestChecksums()
            .map(
                v ->
                    switch (v.trim().toLowerCase(java.util.Locale.ROOT).replace('_', '-')) {
                      case "when-required" -> true;
                      case "when-supported" -> false;
                      default ->
                          throw new IllegalArgumentException(
                              "transfer.storage.s3.request-checksums is "
                                  + v
                                  + "; write when-required or when-supported");
                    });
    return new S3Settings(endpoint(), region(), pathStyle(), whenRequired, timeout(), trustedCa());
  }
}
