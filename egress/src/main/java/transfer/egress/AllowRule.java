package transfer.egress;

import java.net.InetAddress;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One entry of {@code transfer.fetch.allowed-destinations}: an address ({@code 127.0.0.1:8081},
 * {@code [::1]:8080}), a network ({@code 10.0.0.0/8}, {@code fd00::/8}) or a host name ({@code
 * files.internal}; {@code .internal} for every name under it), each with an optional port (without
 * one, every port).
 */
record AllowRule(String text, SpecialAddresses.Cidr network, String name, Integer port) {
  private static final Pattern NAME =
      Pattern.compile("\\.?[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*");

  static AllowRule parse(String entry) {
    String e = entry.trim().toLowerCase(Locale.ROOT);
    String hostPart = e;
    Integer port = null;
    if (e.startsWith("[")) {
      int close = e.indexOf(']');
      if (close < 0) {
        throw bad(entry, "has '[' without ']'");
      }
      hostPart = e.substring(1, close);
      String rest = e.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw bad(entry, "has text after ']' that is not ':port'");
        }
        port = port(entry, rest.substring(1));
      }
    } else if (e.indexOf(':') >= 0 && e.indexOf(':') == e.lastIndexOf(':')) {
      hostPart = e.substring(0, e.indexOf(':'));
      port = port(entry, e.substring(e.indexOf(':') + 1));
    }
    if (hostPart.isEmpty()) {
      throw bad(entry, "names no host");
    }
    if (hostPart.indexOf('/') >= 0 || SpecialAddresses.literal(hostPart) != null) {
      try {
        return new AllowRule(entry.trim(), SpecialAddresses.Cidr.parse(hostPart), null, port);
      } catch (IllegalArgumentException ex) {
        throw bad(entry, ex.getMessage());
      }
    }
    if (Ipv4Literals.looksNumeric(hostPart) || !NAME.matcher(hostPart).matches()) {
      throw bad(entry, "is neither an address, a network nor a host name");
    }
    return new AllowRule(entry.trim(), null, hostPart, port);
  }

  /** Whether this rule lets a URL naming {@code host} reach {@code port}. */
  boolean allowsName(String host, int port) {
    if (name == null || !portMatches(port)) {
      return false;
    }
    return name.startsWith(".") ? host.endsWith(name) : host.equals(name);
  }

  boolean allowsAddress(InetAddress address, int port) {
    return network != null && portMatches(port) && network.contains(address.getAddress());
  }

  /** Whether some address of this rule could be reached on {@code port}. */
  boolean mayAllowPort(int port) {
    return network != null && portMatches(port);
  }

  private boolean portMatches(int p) {
    return port == null || port == p;
  }

  private static Integer port(String entry, String text) {
    try {
      int p = Integer.parseInt(text);
      if (p >= 1 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw bad(entry, "has a port that is not 1 to 65535");
  }

  private static IllegalArgumentException bad(String entry, String why) {
    return new IllegalArgumentException(
        "transfer.fetch.allowed-destinations entry '" + entry + "' " + why);
  }
}
