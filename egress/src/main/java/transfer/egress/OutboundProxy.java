package transfer.egress;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The forward proxy a request goes through, chosen the way curl, wget and most HTTP clients choose
 * it from the environment: {@code https_proxy} (or {@code HTTPS_PROXY}) for https URLs, {@code
 * http_proxy} (or {@code HTTP_PROXY}) for http URLs, the lower-case name first, and {@code
 * no_proxy} (or {@code NO_PROXY}) for the hosts reached directly.
 *
 * <p>A proxy is {@code http://[user:password@]host[:port]} (port 80 when none is given; a value
 * without a scheme is taken as http). TLS to the proxy itself and SOCKS are not supported: such a
 * value stops the service at startup, naming the variable.
 *
 * <p>{@code no_proxy} is a list separated by commas: {@code *} (no proxy for anything), a host name
 * ({@code example.com} or {@code .example.com}: that name and every name under it, as curl reads
 * it), an address ({@code 10.1.2.3}, {@code ::1} or {@code [::1]}) or a network ({@code
 * 10.0.0.0/8}), each with an optional {@code :port}. It is matched against the URL's host as
 * written, never against what a name resolves to.
 *
 * <p>The proxy is a way to the destination, not a destination: the SSRF rules ({@link
 * EgressPolicy}) are applied to the URL's host and the addresses it resolves to, whether or not a
 * proxy carries the request, and never to the proxy's own address (the operator's choice).
 */
public final class OutboundProxy {
  /** A proxy: where it listens and the credentials it asks for (Basic), if any. */
  public record Proxy(String host, int port, String username, String password, String variable) {
    /** The proxy as a URL with its password hidden, and the variable that named it. */
    @Override
    public String toString() {
      String user =
          username == null
              ? ""
              : username + (password == null ? "" : ":***") + "@"; // never the password itself
      String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
      return "http://" + user + h + ":" + port + " (" + variable + ")";
    }
  }

  private static final OutboundProxy NONE = new OutboundProxy(null, null, List.of(), false);

  private final Proxy https;
  private final Proxy http;
  private final List<Bypass> bypass;
  private final boolean bypassAll;

  private OutboundProxy(Proxy https, Proxy http, List<Bypass> bypass, boolean bypassAll) {
    this.https = https;
    this.http = http;
    this.bypass = bypass;
    this.bypassAll = bypassAll;
  }

  /** Every request goes directly to its destination. */
  public static OutboundProxy none() {
    return NONE;
  }

  /**
   * The proxies that {@code env} (the process's environment) names; an {@link
   * IllegalArgumentException} names the variable whose value cannot be used, and why.
   */
  public static OutboundProxy fromEnvironment(Map<String, String> env) {
    Proxy https = proxy(env, "https_proxy");
    Proxy http = proxy(env, "http_proxy");
    if (https == null && http == null) {
      return NONE;
    }
    String noProxy = first(env, "no_proxy");
    List<Bypass> bypass = new ArrayList<>();
    boolean all = false;
    if (noProxy != null) {
      for (String entry : noProxy.split("[,\\s]+")) {
        if (entry.isEmpty()) {
          continue;
        }
        if (entry.equals("*")) {
          all = true;
          continue;
        }
        bypass.add(Bypass.parse(entry));
      }
    }
    return new OutboundProxy(https, http, List.copyOf(bypass), all);
  }

  /** The proxy a request to {@code d} goes through, or empty to connect directly. */
  public Optional<Proxy> forDestination(Destination d) {
    Proxy p = d.scheme().equals("https") ? https : http;
    if (p == null || bypassAll) {
      return Optional.empty();
    }
    for (Bypass b : bypass) {
      if (b.matches(d)) {
        return Optional.empty();
      }
    }
    return Optional.of(p);
  }

  /** Whether any request may go through a proxy. */
  public boolean isEnabled() {
    return (https != null || http != null) && !bypassAll;
  }

  /** What an operator reads at startup: the proxies, without passwords, and what bypasses them. */
  @Override
  public String toString() {
    if (https == null && http == null) {
      return "no outbound proxy (https_proxy, http_proxy and their upper-case names are unset)";
    }
    StringBuilder s = new StringBuilder();
    s.append("https:// through ").append(https == null ? "no proxy" : https);
    s.append("; http:// through ").append(http == null ? "no proxy" : http);
    if (bypassAll) {
      s.append("; no_proxy is '*': every request goes directly");
    } else if (!bypass.isEmpty()) {
      s.append("; directly to ").append(bypass.stream().map(Bypass::text).toList());
    }
    return s.toString();
  }

  private static Proxy proxy(Map<String, String> env, String lower) {
    String value = first(env, lower);
    if (value == null) {
      return null;
    }
    String variable = env.get(lower) != null && !env.get(lower).isBlank() ? lower : upper(lower);
    String text = value.trim();
    if (!text.contains("://")) {
      text = "http://" + text;
    }
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw bad(variable, "is not a URL: " + e.getReason());
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http")) {
      throw bad(
          variable,
          "names a "
              + scheme
              + ":// proxy; only http:// proxies are supported (https URLs still go through them"
              + " encrypted end to end, by CONNECT)");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw bad(variable, "names no host");
    }
    if (host.startsWith("[")) {
      host = host.substring(1, host.length() - 1);
    }
    String path = uri.getRawPath();
    if ((path != null && !path.isEmpty() && !path.equals("/"))
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null) {
      throw bad(variable, "has a path, query or fragment; a proxy is only a host and a port");
    }
    int port = uri.getPort() == -1 ? 80 : uri.getPort();
    String username = null;
    String password = null;
    String info = uri.getRawUserInfo();
    if (info != null) {
      int colon = info.indexOf(':');
      username = decode(colon < 0 ? info : info.substring(0, colon));
      password = colon < 0 ? null : decode(info.substring(colon + 1));
    }
    return new Proxy(host.toLowerCase(Locale.ROOT), port, username, password, variable);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  /** The lower-case variable's value, else the upper-case one's; null when both are unset. */
  private static String first(Map<String, String> env, String lower) {
    String v = env.get(lower);
    if (v == null || v.isBlank()) {
      v = env.get(upper(lower));
    }
    return v == null || v.isBlank() ? null : v;
  }

  private static String upper(String lower) {
    return lower.toUpperCase(Locale.ROOT);
  }

  private static IllegalArgumentException bad(String variable, String why) {
    // The value may hold a password: name the variable, never echo it.
    return new IllegalArgumentException(variable + " " + why);
  }

  /** One entry of no_proxy. */
  private record Bypass(String text, String domain, SpecialAddresses.Cidr network, Integer port) {
    static Bypass parse(String entry) {
      String e = entry.trim().toLowerCase(Locale.ROOT);
      String host = e;
      Integer port = null;
      if (e.startsWith("[")) {
        int close = e.indexOf(']');
        if (close < 0) {
          throw bad("no_proxy", "has an entry with '[' and no ']': " + entry);
        }
        host = e.substring(1, close);
        if (e.length() > close + 1) {
          if (e.charAt(close + 1) != ':') {
            throw bad("no_proxy", "has text after ']' that is not ':port': " + entry);
          }
          port = port(entry, e.substring(close + 2));
        }
      } else if (e.indexOf(':') >= 0 && e.indexOf(':') == e.lastIndexOf(':')) {
        host = e.substring(0, e.indexOf(':'));
        port = port(entry, e.substring(e.indexOf(':') + 1));
      }
      if (host.indexOf('/') >= 0 || SpecialAddresses.literal(host) != null) {
        try {
          return new Bypass(entry, null, SpecialAddresses.Cidr.parse(host), port);
        } catch (IllegalArgumentException ex) {
          throw bad("no_proxy", "has an entry that is not an address or network: " + entry);
        }
      }
      if (host.startsWith("*.")) {
        host = host.substring(2);
      } else if (host.startsWith(".")) {
        host = host.substring(1);
      }
      if (host.endsWith(".")) {
        host = host.substring(0, host.length() - 1);
      }
      if (host.isEmpty()) {
        throw bad("no_proxy", "has an entry that names no host: " + entry);
      }
      return new Bypass(entry, host, null, port);
    }

    boolean matches(Destination d) {
      if (port != null && port != d.port()) {
        return false;
      }
      if (network != null) {
        InetAddress a = d.address();
        return a != null && network.contains(a.getAddress());
      }
      return d.host().equals(domain) || d.host().endsWith("." + domain);
    }

    private static Integer port(String entry, String text) {
      try {
        int p = Integer.parseInt(text);
        if (p >= 1 && p <= 65535) {
          return p;
        }
      } catch (NumberFormatException ignored) {
        // below
      }
      throw bad("no_proxy", "has an entry whose port is not a port: " + entry);
    }
  }
}
