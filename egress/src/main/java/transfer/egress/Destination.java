package transfer.egress;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Where a URL points: its scheme, host (lower case, without a trailing dot or brackets) and port,
 * and the address itself when the host is an IP literal in any spelling.
 *
 * @param address the literal's address, or null when {@code host} is a name to be resolved
 */
public record Destination(String scheme, String host, int port, InetAddress address) {
  private static final Pattern HOST_CHARS = Pattern.compile("[A-Za-z0-9._-]{1,253}");

  /** Parses an absolute http(s) URL; the message of the exception says what is wrong. */
  public static Destination of(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("is not a valid URL: " + e.getReason());
    }
    return of(uri);
  }

  public static Destination of(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("must be an http or https URL");
    }
    if (uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException("must not carry credentials; send them in 'headers'");
    }
    String host = uri.getHost();
    int port = uri.getPort();
    if (host == null && uri.getRawAuthority() != null) {
      // java.net.URI leaves the host out when it is not a strict name or dotted quad (127.1,
      // 0x7f.1, a_b.example, a trailing dot); HTTP clients take such hosts, so judge them too.
      String authority = uri.getRawAuthority();
      if (authority.indexOf('@') >= 0) {
        throw new IllegalArgumentException("must not carry credentials; send them in 'headers'");
      }
      int colon = authority.lastIndexOf(':');
      host = colon < 0 ? authority : authority.substring(0, colon);
      if (colon >= 0) {
        try {
          port = Integer.parseInt(authority.substring(colon + 1));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("has a port that is not a number");
        }
      }
      if (!HOST_CHARS.matcher(host).matches()) {
        throw new IllegalArgumentException("must name a host");
      }
    }
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("must name a host");
    }
    port = port == -1 ? (scheme.equals("https") ? 443 : 80) : port;
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("has a port outside 1 to 65535");
    }
    host = host.toLowerCase(Locale.ROOT);
    if (host.startsWith("[")) {
      String inner = host.substring(1, host.length() - 1);
      if (inner.indexOf('%') >= 0) {
        throw new IllegalArgumentException("must not name an IPv6 zone");
      }
      InetAddress a = SpecialAddresses.literal(inner);
      if (a == null) {
        throw new IllegalArgumentException("has an invalid IPv6 address");
      }
      return new Destination(scheme, inner, port, a);
    }
    if (host.endsWith(".")) {
      host = host.substring(0, host.length() - 1);
    }
    if (host.isEmpty() || host.startsWith(".") || host.contains("..")) {
      throw new IllegalArgumentException("must name a host");
    }
    if (Ipv4Literals.looksNumeric(host)) {
      InetAddress a = SpecialAddresses.literal(host);
      if (a == null) {
        throw new IllegalArgumentException("has a host that is neither a name nor an IPv4 address");
      }
      return new Destination(scheme, host, port, a);
    }
    return new Destination(scheme, host, port, null);
  }

  /** Whether the host is a name (resolved by the worker) rather than an address literal. */
  public boolean isName() {
    return address == null;
  }

  /** Scheme, host and port: two URLs with the same origin may share credentials. */
  public boolean sameOrigin(Destination other) {
    return scheme.equals(other.scheme) && host.equals(other.host) && port == other.port;
  }

  @Override
  public String toString() {
    String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + port;
  }
}
