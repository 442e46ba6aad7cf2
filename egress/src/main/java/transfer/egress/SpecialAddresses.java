package transfer.egress;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;

/**
 * Every address that is not an ordinary public unicast destination: the IANA special-purpose
 * registries for IPv4 and IPv6, multicast, and the IPv6 forms that wrap an IPv4 address (mapped,
 * compatible, NAT64, 6to4), which are judged by the address they wrap.
 */
public final class SpecialAddresses {
  private record Range(Cidr cidr, String what) {}

  private static final List<Range> V4 =
      List.of(
          range("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
          range("10.0.0.0/8", "private (10.0.0.0/8)"),
          range("100.64.0.0/10", "shared address space (100.64.0.0/10)"),
          range("127.0.0.0/8", "loopback (127.0.0.0/8)"),
          range("169.254.0.0/16", "link-local, cloud metadata (169.254.0.0/16)"),
          range("172.16.0.0/12", "private (172.16.0.0/12)"),
          range("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
          range("192.0.2.0/24", "documentation (192.0.2.0/24)"),
          range("192.31.196.0/24", "AS112 (192.31.196.0/24)"),
          range("192.52.193.0/24", "AMT (192.52.193.0/24)"),
          range("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
          range("192.168.0.0/16", "private (192.168.0.0/16)"),
          range("192.175.48.0/24", "AS112 (192.175.48.0/24)"),
          range("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
          range("198.51.100.0/24", "documentation (198.51.100.0/24)"),
          range("203.0.113.0/24", "documentation (203.0.113.0/24)"),
          range("224.0.0.0/4", "multicast (224.0.0.0/4)"),
          range("240.0.0.0/4", "reserved (240.0.0.0/4)"));

  private static final List<Range> V6 =
      List.of(
          range("::/128", "unspecified (::)"),
          range("::1/128", "loopback (::1)"),
          range("::/96", "IPv4-compatible, deprecated (::/96)"),
          range("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
          range("100::/64", "discard-only (100::/64)"),
          range("2001::/23", "IETF protocol assignments, Teredo (2001::/23)"),
          range("2001:db8::/32", "documentation (2001:db8::/32)"),
          range("3fff::/20", "documentation (3fff::/20)"),
          range("5f00::/16", "segment routing (5f00::/16)"),
          range("fc00::/7", "unique local (fc00::/7)"),
          range("fe80::/10", "link-local (fe80::/10)"),
          range("fec0::/10", "site-local, deprecated (fec0::/10)"),
          range("ff00::/8", "multicast (ff00::/8)"));

  private static final Cidr NAT64 = Cidr.parse("64:ff9b::/96");
  private static final Cidr SIX_TO_FOUR = Cidr.parse("2002::/16");
  private static final Cidr GLOBAL_UNICAST = Cidr.parse("2000::/3");

  private SpecialAddresses() {}

  /** What kind of special address this is, or empty for an ordinary public address. */
  public static Optional<String> kindOf(InetAddress address) {
    byte[] b = address.getAddress();
    if (address instanceof Inet4Address) {
      return v4(b);
    }
    if (!(address instanceof Inet6Address)) {
      return Optional.of("not an IP address");
    }
    // The JDK reads IPv4-mapped addresses (::ffff:a.b.c.d) as the IPv4 address itself.
    if (NAT64.contains(b)) {
      return v4(slice(b, 12)).map(k -> "NAT64 (64:ff9b::/96) wrapping " + k);
    }
    if (SIX_TO_FOUR.contains(b)) {
      return v4(slice(b, 2)).map(k -> "6to4 (2002::/16) wrapping " + k);
    }
    for (Range r : V6) {
      if (r.cidr().contains(b)) {
        return Optional.of(r.what());
      }
    }
    if (!GLOBAL_UNICAST.contains(b)) {
      return Optional.of("outside IPv6 global unicast (2000::/3)");
    }
    return Optional.empty();
  }

  private static Optional<String> v4(byte[] b) {
    if ((b[0] & 0xff) == 255
        && (b[1] & 0xff) == 255
        && (b[2] & 0xff) == 255
        && (b[3] & 0xff) == 255) {
      return Optional.of("broadcast (255.255.255.255)");
    }
    for (Range r : V4) {
      if (r.cidr().contains(b)) {
        return Optional.of(r.what());
      }
    }
    return Optional.empty();
  }

  private static byte[] slice(byte[] b, int from) {
    byte[] four = new byte[4];
    System.arraycopy(b, from, four, 0, 4);
    return four;
  }

  private static Range range(String cidr, String what) {
    return new Range(Cidr.parse(cidr), what);
  }

  /** An address and prefix length; {@link #contains} compares raw bytes of the same family. */
  record Cidr(byte[] network, int prefix) {
    static Cidr parse(String text) {
      int slash = text.indexOf('/');
      String addr = slash < 0 ? text : text.substring(0, slash);
      InetAddress a = literal(addr);
      if (a == null) {
        throw new IllegalArgumentException("'" + addr + "' is not an IP address");
      }
      byte[] bytes = a.getAddress();
      int max = bytes.length * 8;
      int prefix;
      try {
        prefix = slash < 0 ? max : Integer.parseInt(text.substring(slash + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + text + "' has no valid prefix length");
      }
      if (prefix < 0 || prefix > max) {
        throw new IllegalArgumentException("'" + text + "' has a prefix length beyond " + max);
      }
      return new Cidr(bytes, prefix);
    }

    boolean contains(byte[] address) {
      if (address.length != network.length) {
        return false;
      }
      int full = prefix / 8;
      for (int i = 0; i < full; i++) {
        if (address[i] != network[i]) {
          return false;
        }
      }
      int rest = prefix % 8;
      if (rest == 0) {
        return true;
      }
      int mask = (0xff << (8 - rest)) & 0xff;
      return (address[full] & mask) == (network[full] & mask);
    }
  }

  /**
   * An IP literal (IPv4 in any URL spelling, or IPv6 without brackets or zone) as an address, or
   * null if the text is not one. Never looks anything up.
   */
  static InetAddress literal(String text) {
    if (text.indexOf(':') >= 0) {
      if (!text.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
        return null;
      }
      try {
        // The brackets make the JDK parse a literal or fail; it never resolves a name here.
        return InetAddress.getByName("[" + text + "]");
      } catch (UnknownHostException e) {
        return null;
      }
    }
    if (!Ipv4Literals.looksNumeric(text)) {
      return null;
    }
    return Ipv4Literals.parse(text).map(SpecialAddresses::v4Address).orElse(null);
  }

  static InetAddress v4Address(byte[] four) {
    try {
      return InetAddress.getByAddress(four);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }
}
