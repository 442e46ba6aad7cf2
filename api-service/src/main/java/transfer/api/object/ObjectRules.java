package transfer.api.object;

import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;

/** What an object's name and the digest headers of a PUT must look like. */
public final class ObjectRules {
  static final String REPR_DIGEST = "Repr-Digest";
  static final String X_CHECKSUM = "X-Checksum-SHA256";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}");
  // One member of the RFC 9530 dictionary: algorithm=:base64:, possibly with parameters after it.
  private static final Pattern DIGEST_MEMBER =
      Pattern.compile("\\s*([a-z0-9*_.-]+)\\s*=\\s*:([A-Za-z0-9+/=]*):\\s*(;.*)?");
  private static final Pattern HEX_SHA256 = Pattern.compile("[0-9a-fA-F]{64}");

  private ObjectRules() {}

  /** What {@link #isName} checks, for error messages. */
  public static final String NAME_RULE =
      "must be 1 to 200 characters of letters, digits, '.', '_' or '-', not starting with '.'";

  /**
   * Whether this names an object: one safe path segment, so no {@code /}, {@code ..} at the start,
   * NUL or other control character can appear. The same rule holds for an upload's {@code
   * source.object}.
   */
  public static boolean isName(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  static void requireName(String name) {
    if (!isName(name)) {
      throw ApiException.invalid(List.of(new FieldError("name", NAME_RULE)));
    }
  }

  /**
   * The SHA-256 (lowercase hex) the client says its body has, from {@code Repr-Digest} (RFC 9530)
   * or {@code X-Checksum-SHA256}; empty when it says none. Both may be sent, and then must agree.
   * Algorithms other than sha-256 in {@code Repr-Digest} are ignored, as RFC 9530 allows.
   */
  static Optional<String> expectedSha256(String reprDigest, String checksum) {
    List<FieldError> errors = new ArrayList<>();
    String fromRepr = reprDigest == null ? null : sha256Member(reprDigest, errors);
    String fromChecksum = null;
    if (checksum != null) {
      if (HEX_SHA256.matcher(checksum.trim()).matches()) {
        fromChecksum = checksum.trim().toLowerCase();
      } else {
        errors.add(new FieldError(X_CHECKSUM, "must be the SHA-256 as 64 hexadecimal digits"));
      }
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    if (fromRepr != null && fromChecksum != null && !fromRepr.equals(fromChecksum)) {
      throw ApiException.invalid(
          List.of(
              new FieldError(
                  X_CHECKSUM, "names another SHA-256 than Repr-Digest; send one digest")));
    }
    return Optional.ofNullable(fromRepr != null ? fromRepr : fromChecksum);
  }

  private static String sha256Member(String header, List<FieldError> errors) {
    String found = null;
    for (String member : header.split(",")) {
      Matcher m = DIGEST_MEMBER.matcher(member);
      if (!m.matches()) {
        errors.add(new FieldError(REPR_DIGEST, "must be a list of algorithm=:base64: (RFC 9530)"));
        return null;
      }
      if (!m.group(1).equals("sha-256")) {
        continue;
      }
      byte[] digest;
      try {
        digest = Base64.getDecoder().decode(m.group(2));
      } catch (IllegalArgumentException e) {
        digest = new byte[0];
      }
      if (digest.length != 32) {
        errors.add(new FieldError(REPR_DIGEST, "sha-256 must be 32 bytes in base64"));
        return null;
      }
      found = HexFormat.of().formatHex(digest);
    }
    return found;
  }
}
