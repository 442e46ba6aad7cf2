package transfer.egress;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Which destinations a task may reach: public addresses on the allowed ports, plus whatever the
 * operator allows explicitly. The API judges a URL before anything is stored ({@link #judge}); the
 * worker judges again, resolves a name once, checks every address it got ({@link
 * #refusalOf(Destination, InetAddress)}) and connects to the address it checked, on every redirect
 * hop. See egress/DESIGN.md.
 */
public final class EgressPolicy {
  /**
   * The ports a public destination may use unless an allowed-destinations entry says more, as the
   * services' configuration default ({@code transfer.fetch.allowed-ports}) spells them.
   */
  public static final String DEFAULT_PORTS_SETTING = "80,443,8080,8443";

  /** {@link #DEFAULT_PORTS_SETTING} as numbers. */
  public static final Set<Integer> DEFAULT_PORTS =
      Arrays.stream(DEFAULT_PORTS_SETTING.split(","))
          .map(Integer::valueOf)
          .collect(Collectors.toUnmodifiableSet());

  /** The default of {@code transfer.fetch.max-bytes}: most bytes one task may transfer. */
  public static final String DEFAULT_MAX_BYTES_SETTING = "64G";

  private final List<AllowRule> rules;
  private final Set<Integer> ports;

  private EgressPolicy(List<AllowRule> rules, Set<Integer> ports) {
    this.rules = rules;
    this.ports = ports;
  }

  /**
   * @param allowedDestinations entries such as {@code 127.0.0.1:8081}, {@code 10.0.0.0/8}, {@code
   *     files.internal}; a bad entry is an {@link IllegalArgumentException} naming it
   * @param allowedPorts ports any public address may use
   */
  public static EgressPolicy of(
      Collection<String> allowedDestinations, Collection<Integer> allowedPorts) {
    List<AllowRule> rules =
        allowedDestinations.stream()
            .filter(s -> s != null && !s.isBlank())
            .map(AllowRule::parse)
            .toList();
    for (Integer p : allowedPorts) {
      if (p == null || p < 1 || p > 65535) {
        throw new IllegalArgumentException("transfer.fetch.allowed-ports: " + p + " is not a port");
      }
    }
    return new EgressPolicy(rules, Set.copyOf(allowedPorts));
  }

  /** The strictest policy: public addresses on the default ports. */
  public static EgressPolicy strict() {
    return of(List.of(), DEFAULT_PORTS);
  }

  /** What may be done with a destination before any name is resolved. */
  public sealed interface Verdict {
    /** An address literal that passed: connect to exactly this address. */
    record Connect(InetAddress address) implements Verdict {}

    /**
     * A name: resolve it once; every address must pass {@link #refusalOf}, unless {@code trusted}
     * (an allowed-destinations entry names it), then any answer is fine.
     */
    record Resolve(boolean trusted) implements Verdict {}

    record Refuse(String reason) implements Verdict {}
  }

  public Verdict judge(Destination d) {
    if (!d.isName()) {
      return refusalOf(d, d.address())
          .<Verdict>map(Verdict.Refuse::new)
          .orElseGet(() -> new Verdict.Connect(d.address()));
    }
    for (AllowRule r : rules) {
      if (r.allowsName(d.host(), d.port())) {
        return new Verdict.Resolve(true);
      }
    }
    if (d.host().equals("localhost") || d.host().endsWith(".localhost")) {
      return new Verdict.Refuse(
          "'" + d.host() + "' is a loopback name" + allowHint(d.host() + ":" + d.port()));
    }
    if (!ports.contains(d.port()) && rules.stream().noneMatch(r -> r.mayAllowPort(d.port()))) {
      return new Verdict.Refuse(portRefusal(d.port()));
    }
    return new Verdict.Resolve(false);
  }

  /** Why the worker may not connect to {@code address} for {@code d}, or empty if it may. */
  public Optional<String> refusalOf(Destination d, InetAddress address) {
    for (AllowRule r : rules) {
      if (r.allowsAddress(address, d.port())) {
        return Optional.empty();
      }
    }
    Optional<String> special = SpecialAddresses.kindOf(address);
    String shown = address.getHostAddress();
    if (special.isPresent()) {
      String of = d.isName() ? "'" + d.host() + "' resolves to " + shown + ", " : shown + " is ";
      return Optional.of(
          of
              + special.get()
              + allowHint((shown.indexOf(':') >= 0 ? "[" + shown + "]" : shown) + ":" + d.port()));
    }
    if (!ports.contains(d.port())) {
      return Optional.of(portRefusal(d.port()));
    }
    return Optional.empty();
  }

  private String portRefusal(int port) {
    return "port "
        + port
        + " is not among the allowed ports "
        + new TreeSet<>(ports)
        + " (transfer.fetch.allowed-ports)";
  }

  private static String allowHint(String entry) {
    return "; an operator may allow it with transfer.fetch.allowed-destinations=" + entry;
  }

  @Override
  public String toString() {
    return "allowed destinations "
        + rules.stream().map(AllowRule::text).toList()
        + ", public ports "
        + new TreeSet<>(ports);
  }
}
