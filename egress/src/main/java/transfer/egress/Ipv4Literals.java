package transfer.egress;

import java.math.BigInteger;
import java.util.Locale;
import java.util.Optional;

/**
 * IPv4 hosts in every spelling a URL parser accepts (the WHATWG URL standard, which browsers,
 * curl's and most HTTP clients' resolvers follow): one to four parts, each decimal, octal (leading
 * {@code 0}) or hexadecimal ({@code 0x}), the last part filling the remaining bytes. So {@code
 * 127.1}, {@code 0x7f000001}, {@code 2130706433} and {@code 017700000001} are all 127.0.0.1.
 */
final class Ipv4Literals {
  private Ipv4Literals() {}

  /**
   * Whether the host must be read as an IPv4 address: its last label is a number. Such a host is
   * never looked up as a name; if it is not a valid address, it is invalid.
   */
  static boolean looksNumeric(String host) {
    String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    if (h.isEmpty()) {
      return false;
    }
    String last = h.substring(h.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
    if (last.isEmpty()) {
      return false;
    }
    if (last.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return true;
    }
    return last.startsWith("0x") && last.substring(2).chars().allMatch(Ipv4Literals::isHex);
  }

  /** The four bytes of a numeric host, or empty if it is not a valid IPv4 address. */
  static Optional<byte[]> parse(String host) {
    String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    String[] parts = h.split("\\.", -1);
    if (parts.length == 0 || parts.length > 4) {
      return Optional.empty();
    }
    BigInteger[] numbers = new BigInteger[parts.length];
    for (int i = 0; i < parts.length; i++) {
      BigInteger n = number(parts[i]);
      if (n == null) {
        return Optional.empty();
      }
      numbers[i] = n;
    }
    long value = 0;
    for (int i = 0; i < parts.length - 1; i++) {
      if (numbers[i].compareTo(BigInteger.valueOf(255)) > 0) {
        return Optional.empty();
      }
      value |= numbers[i].longValue() << (8 * (3 - i));
    }
    BigInteger last = numbers[parts.length - 1];
    if (last.compareTo(BigInteger.ONE.shiftLeft(8 * (5 - parts.length))) >= 0) {
      return Optional.empty();
    }
    value |= last.longValue();
    return Optional.of(
        new byte[] {
          (byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value
        });
  }

  private static BigInteger number(String part) {
    if (part.isEmpty() || part.length() > 64) {
      return null;
    }
    String p = part.toLowerCase(Locale.ROOT);
    int radix = 10;
    if (p.startsWith("0x")) {
      radix = 16;
      p = p.substring(2);
      if (p.isEmpty()) {
        return BigInteger.ZERO;
      }
    } else if (p.length() > 1 && p.startsWith("0")) {
      radix = 8;
      p = p.substring(1);
    }
    for (int i = 0; i < p.length(); i++) {
      if (Character.digit(p.charAt(i), radix) < 0) {
        return null;
      }
    }
    return new BigInteger(p, radix);
  }

  private static boolean isHex(int c) {
    return Character.digit(c, 16) >= 0;
  }
}
