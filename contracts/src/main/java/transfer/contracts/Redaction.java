package transfer.contracts;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Request headers are write-only. They carry credentials ({@code Authorization}, {@code Cookie},
 * {@code X-Api-Key}, …), are stored in the ledger because workers send them, and are never shown
 * again: every answer names the headers a session or task has, each with the value {@value #MASK}.
 * The rule is the same for every header, so nobody has to decide which ones are secret.
 */
public final class Redaction {
  /** What every stored header value is answered as. */
  public static final String MASK = "***";

  private Redaction() {}

  /** The same header names, every value {@value #MASK}; null stays null. */
  public static Map<String, String> headers(Map<String, String> headers) {
    if (headers == null) {
      return null;
    }
    Map<String, String> masked = new LinkedHashMap<>();
    headers.keySet().forEach(name -> masked.put(name, MASK));
    return masked;
  }

  /** The configuration as it may be shown: its headers masked. */
  public static SessionConfig config(SessionConfig c) {
    if (c == null) {
      return null;
    }
    return new SessionConfig(
        c.maxConcurrentTransfers(),
        c.maxConnectionsPerHost(),
        c.requestTimeout(),
        c.resourceTimeout(),
        c.discretionary(),
        c.sendsEvents(),
        headers(c.headers()),
        c.retry(),
        c.clientCertificate(),
        c.waitsForConnectivity(),
        c.onAuthenticationFailure(),
        c.sendsCreatedEvents(),
        c.keepsNamedDestinations());
  }
}
