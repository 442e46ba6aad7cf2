package transfer.api.problem;

import jakarta.ws.rs.core.UriInfo;

/**
 * The request's path, for a problem's {@code instance} and for logs, without ever failing. {@link
 * UriInfo#getPath()} decodes the path Vert.x has already decoded a second time, so a path with an
 * encoded {@code %} ({@code %25}) followed by anything but two hex digits makes it throw (and an
 * error mapper that throws answers a 500). Then the raw path is used.
 */
public final class RequestPaths {
  private RequestPaths() {}

  /** The decoded path, or the raw one when it cannot be decoded, or null if neither exists. */
  public static String of(UriInfo uri) {
    try {
      return uri.getPath();
    } catch (RuntimeException undecodable) {
      try {
        return uri.getRequestUri().getRawPath();
      } catch (RuntimeException unparsable) {
        return null;
      }
    }
  }
}
