package transfer.storage.s3;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * What a checkpoint of a download into S3 records besides its byte count ({@code
 * tasks.durable_state}): the multipart upload's key and id, its part size, how many parts it holds
 * and the SHA-256 state after them ({@link DigestState}). Encoded as one line of fields, the key
 * and id in Base64 (they may hold any character).
 */
public record S3Checkpoint(
    String key, String uploadId, long partSize, int parts, String digestState) {
  private static final String PREFIX = "s3.v1";

  public String encode() {
    return String.join(
        " ",
        PREFIX,
        b64(key),
        b64(uploadId),
        Long.toString(partSize),
        Integer.toString(parts),
        digestState);
  }

  /** The checkpoint {@code state} encodes; null when it is none (or unreadable). */
  public static S3Checkpoint decode(String state) {
    if (state == null) {
      return null;
    }
    String[] f = state.split(" ");
    if (f.length != 6 || !PREFIX.equals(f[0])) {
      return null;
    }
    try {
      S3Checkpoint cp =
          new S3Checkpoint(
              unb64(f[1]), unb64(f[2]), Long.parseLong(f[3]), Integer.parseInt(f[4]), f[5]);
      return cp.partSize > 0 && cp.parts > 0 ? cp : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  public long bytes() {
    return partSize * parts;
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String unb64(String s) {
    return new String(Base64.getUrlDecoder().decode(s), StandardCharsets.UTF_8);
  }
}
