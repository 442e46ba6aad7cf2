package transfer.contracts;

import java.util.regex.Pattern;

/**
 * The names a download may give its {@code destination.key}: relative, slash-separated names that
 * mean the same as an S3 key, as a path under a directory, and inside an {@code s3:} or {@code
 * file:} URI without escaping. One rule for the api-service, which refuses anything else, and for
 * the stores, which place what it accepted under the tenant's named objects.
 */
public final class DestinationKeys {
  /** Most characters in a key: with the bucket's prefix and the tenant, within S3's 1,024 bytes. */
  public static final int MAX_LENGTH = 512;

  /** The subtree of a tenant's objects that named destinations live in. */
  public static final String NAMED = "_named";

  /** What a key may hold, for an error to quote. */
  public static final String RULE =
      "must be 1 to "
          + MAX_LENGTH
          + " characters: segments of letters, digits and . _ ~ ! ' ( ) * + , = @ -, separated by"
          + " single slashes, none of them . or .., with no slash at either end";

  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._~!'()*+,=@-]+");

  private DestinationKeys() {}

  /** Whether {@code key} is a name a destination may have ({@link #RULE}). */
  public static boolean valid(String key) {
    if (key == null || key.isEmpty() || key.length() > MAX_LENGTH) {
      return false;
    }
    for (String segment : key.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..") || !SEGMENT.matcher(segment).matches()) {
        return false;
      }
    }
    return true;
  }
}
