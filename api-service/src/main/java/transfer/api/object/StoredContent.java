package transfer.api.object;

import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.Base64;
import java.util.HexFormat;
import transfer.api.problem.ApiException;

/**
 * How stored bytes are answered, a staged object's and a completed download's alike: their SHA-256
 * as the {@code ETag} and as {@code Repr-Digest} (RFC 9530), and 410 once they are gone from
 * storage.
 */
public final class StoredContent {
  private StoredContent() {}

  /** The answer with the headers that carry the bytes' SHA-256 (lowercase hex). */
  public static Response.ResponseBuilder described(Response.ResponseBuilder answer, String sha256) {
    byte[] digest = HexFormat.of().parseHex(sha256);
    return answer
        .header(HttpHeaders.ETAG, etag(sha256))
        .header("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(digest) + ":");
  }

  static String etag(String sha256) {
    return "\"" + sha256 + "\"";
  }

  /** The bytes a ledger row names are no longer in storage ({@code detail} says whose). */
  public static ApiException gone(String detail) {
    return new ApiException(410, "content-gone", "Gone", detail);
  }
}
