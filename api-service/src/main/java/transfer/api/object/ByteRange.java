package transfer.api.object;

import jakarta.ws.rs.core.Response;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import transfer.api.problem.ApiException;

/**
 * One byte range of a {@code Range} header (RFC 9110 §14) over stored bytes of a known size: {@code
 * bytes=a-b}, {@code bytes=a-} or {@code bytes=-n}. A header that is not a single byte range
 * (another unit, several ranges, bad syntax) is ignored, as the RFC allows, and the whole body is
 * answered; a range that starts at or past the end is a 416 naming the size.
 *
 * @param first the first byte
 * @param last the last byte, inclusive
 */
public record ByteRange(long first, long last) {
  private static final Pattern SINGLE =
      Pattern.compile("\\s*bytes\\s*=\\s*(\\d*)\\s*-\\s*(\\d*)\\s*");

  /** The range of {@code header} over {@code size} bytes; empty: answer the whole body. */
  public static Optional<ByteRange> of(String header, long size) {
    if (header == null) {
      return Optional.empty();
    }
    Matcher m = SINGLE.matcher(header);
    if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
      return Optional.empty();
    }
    try {
      if (m.group(1).isEmpty()) {
        long suffix = Long.parseLong(m.group(2));
        if (suffix == 0) {
          throw unsatisfiable(size);
        }
        return size == 0
            ? Optional.empty()
            : Optional.of(new ByteRange(Math.max(0, size - suffix), size - 1));
      }
      long first = Long.parseLong(m.group(1));
      Long last = m.group(2).isEmpty() ? null : Long.parseLong(m.group(2));
      if (last != null && last < first) {
        return Optional.empty(); // invalid: ignored
      }
      if (first >= size) {
        throw unsatisfiable(size);
      }
      if (last == null) {
        return Optional.of(new ByteRange(first, size - 1));
      }
      return Optional.of(new ByteRange(first, Math.min(last, size - 1)));
    } catch (NumberFormatException tooLong) {
      return Optional.empty();
    }
  }

  public long length() {
    return last - first + 1;
  }

  /** {@code Content-Range} of this range over {@code size} bytes. */
  public String contentRange(long size) {
    return "bytes " + first + "-" + last + "/" + size;
  }

  /**
   * A range that starts at or past the end: 416 with {@code Content-Range: bytes *}{@code /size}.
   */
  static ApiException unsatisfiable(long size) {
    return new ApiException(
        416,
        "range-not-satisfiable",
        "Range Not Satisfiable",
        "the range starts at or past the end of the " + size + " stored bytes") {
      @Override
      public Response toResponse(String instance) {
        Response plain = super.toResponse(instance);
        return Response.fromResponse(plain).header("Content-Range", "bytes */" + size).build();
      }
    };
  }
}
