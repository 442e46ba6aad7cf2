package transfer.api.object;

import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.InputStream;
import java.util.Base64;
import java.util.HexFormat;
import org.jboss.resteasy.reactive.FilePart;
import transfer.api.problem.ApiException;
import transfer.api.storage.StoredBody;

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

  /**
   * The entity that streams {@code length} bytes of {@code body} from {@code first}: the file's own
   * (zero-copy) for a file, ranged reads for an S3 object.
   */
  public static Object entity(StoredBody body, long first, long length) {
    if (body instanceof StoredBody.File f) {
      return first == 0 && length == f.size()
          ? f.path().toFile()
          : new FilePart(f.path().toFile(), first, length);
    }
    StoredBody.Object o = (StoredBody.Object) body;
    return (StreamingOutput)
        out -> {
          try (InputStream in = o.open(first, length)) {
            in.transferTo(out);
          }
        };
  }

  /**
   * Says the length of a streamed S3 body (a file's is said by the file's own writer), so that a
   * client can tell a cut body from a whole one.
   */
  public static Response.ResponseBuilder length(
      Response.ResponseBuilder answer, StoredBody body, long length) {
    return body instanceof StoredBody.Object
        ? answer.header(jakarta.ws.rs.core.HttpHeaders.CONTENT_LENGTH, length)
        : answer;
  }

  static String etag(String sha256) {
    return "\"" + sha256 + "\"";
  }

  /** The bytes a ledger row names are no longer in storage ({@code detail} says whose). */
  public static ApiException gone(String detail) {
    return new ApiException(410, "content-gone", "Gone", detail);
  }
}
