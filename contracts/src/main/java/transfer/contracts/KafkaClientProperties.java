package transfer.contracts;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The properties of a Kafka client of the cluster, in three layers: the client's own defaults
 * (timeouts, linger, its client id), over them the operator's configuration (the standard Kafka
 * client properties: {@code security.protocol}, {@code sasl.*}, {@code ssl.*}, timeouts; in the
 * services every {@code kafka.*} key of their configuration, {@code KAFKA_*} in the environment, as
 * Quarkus collects them), and over both the settings the cluster's correctness rests on
 * (serializers, acknowledgements, idempotence, offsets committed by hand, its consumer groups),
 * which configuration cannot change. A configured key that such a setting overrides is reported
 * ({@link Merged#overridden}), so that the service can say so in its log.
 *
 * <p>{@code group.id} from the configuration is always left out: the cluster's consumers name their
 * groups themselves (the ACLs a platform team grants name them), and Quarkus fills that key with
 * the application's name for every client, producers included, which would make each producer warn
 * about a setting it does not know.
 */
public final class KafkaClientProperties {
  /** Keys whose values a log line shows; every other value may be a secret, so only its key. */
  private static final List<String> SHOWN =
      List.of("client.id", "bootstrap.servers", "security.protocol", "sasl.mechanism");

  private KafkaClientProperties() {}

  /**
   * The properties of one client; the configured keys it took ({@code configured}) and those its
   * fixed settings overrode ({@code overridden}), sorted.
   */
  public record Merged(Properties properties, List<String> configured, List<String> overridden) {
    /**
     * One line for the log: the values of the client id, the brokers, the security protocol and the
     * SASL mechanism, then only the names of the other configured keys (their values may be
     * passwords, or JAAS lines with passwords in them), then the keys that were ignored.
     */
    public String describe() {
      StringBuilder s = new StringBuilder();
      for (String key : SHOWN) {
        Object value = properties.get(key);
        if (value != null) {
          s.append(s.isEmpty() ? "" : ", ").append(key).append('=').append(value);
        }
      }
      List<String> others = configured.stream().filter(k -> !SHOWN.contains(k)).toList();
      if (!others.isEmpty()) {
        s.append("; configured: ").append(String.join(", ", others));
      }
      if (!overridden.isEmpty()) {
        s.append("; ignored, the cluster sets them itself: ").append(String.join(", ", overridden));
      }
      return s.toString();
    }
  }

  /**
   * The fixed settings of a producer whose records must not be lost or doubled: every replica's
   * acknowledgement, idempotence, and the serializer of keys and values ({@code serializer}, a
   * class name).
   */
  public static Map<String, Object> idempotentProducer(String serializer) {
    return Map.of(
        "acks",
        "all",
        "enable.idempotence",
        true,
        "key.serializer",
        serializer,
        "value.serializer",
        serializer);
  }

  /**
   * {@code defaults}, then {@code configured} over them (keys lower-cased, {@code group.id} and
   * null values left out), then {@code fixed} over both. Values are kept as given: Kafka parses
   * strings and typed values alike.
   */
  public static Merged merge(
      Map<String, ?> configured, Map<String, ?> defaults, Map<String, ?> fixed) {
    Properties p = new Properties();
    p.putAll(defaults);
    List<String> taken = new ArrayList<>();
    List<String> overridden = new ArrayList<>();
    for (Map.Entry<String, ?> e : new TreeMap<String, Object>(configured).entrySet()) {
      String key = e.getKey().toLowerCase(Locale.ROOT);
      if (key.equals("group.id") || e.getValue() == null) {
        continue;
      }
      if (fixed.containsKey(key)) {
        if (!String.valueOf(fixed.get(key)).equals(String.valueOf(e.getValue()))) {
          overridden.add(key);
        }
        continue;
      }
      p.put(key, e.getValue());
      taken.add(key);
    }
    p.putAll(fixed);
    return new Merged(p, List.copyOf(taken), List.copyOf(overridden));
  }
}
