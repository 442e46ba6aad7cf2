package transfer.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import transfer.testkit.EmbeddedKafka;
import transfer.testkit.Secrets;

/**
 * The local cluster's secured Kafka ({@code TRANSFER_KAFKA_SECURITY=sasl_ssl}): a SCRAM user per
 * principal of {@link KafkaAccess}, each with its ACLs, their passwords kept owner-only in the data
 * directory's {@code kafka-security/} (made on the first secured start, the same after), the
 * services' environment for their own user, and {@code kafka-client.properties} for a reader of
 * {@code transfer-events}.
 */
final class LocalKafkaSecurity {
  private final Settings settings;
  private final EmbeddedKafka kafka;
  private final Map<String, String> passwords;

  private LocalKafkaSecurity(
      Settings settings, EmbeddedKafka kafka, Map<String, String> passwords) {
    this.settings = settings;
    this.kafka = kafka;
    this.passwords = passwords;
  }

  /**
   * A broker formatted plaintext has no super user for a secured broker to authenticate to itself
   * with: refuse that data directory with what to do, rather than a broker that never gets ready.
   */
  static void refusePlaintextData(Settings settings) {
    boolean formatted = Files.exists(settings.kafkaDir().resolve("meta.properties"));
    boolean securedBefore = Files.exists(settings.kafkaSecurityDir().resolve("admin.password"));
    if (formatted && !securedBefore) {
      throw new LaunchFailure(
          2,
          ("The Kafka data in %s was made by a plaintext broker, and a secured one cannot start on"
                  + " it. Remove that directory (its records go with it, PostgreSQL keeps every"
                  + " task and event) or set TRANSFER_DATA_DIR to another directory.")
              .formatted(settings.kafkaDir()));
    }
  }

  /** Creates (or updates) the users and their ACLs, and writes the reader's properties file. */
  static LocalKafkaSecurity grant(EmbeddedKafka kafka, Settings settings, Path launcherLog) {
    Map<String, String> passwords = new TreeMap<>();
    for (String user : KafkaAccess.USERS) {
      passwords.put(
          user, Secrets.readOrCreate(settings.kafkaSecurityDir().resolve(user + ".password")));
    }
    try {
      kafka.upsertUsers(passwords);
      kafka.allow(KafkaAccess.acls());
    } catch (RuntimeException e) {
      Logger.getLogger(LocalKafkaSecurity.class.getName())
          .log(Level.SEVERE, "Cannot create the Kafka users and ACLs", e);
      throw new LaunchFailure(
          1,
          "Cannot create the Kafka users and their ACLs: %s%nDetails are in %s"
              .formatted(e.getMessage(), launcherLog));
    }
    LocalKafkaSecurity security = new LocalKafkaSecurity(settings, kafka, passwords);
    security.writeReaderProperties();
    return security;
  }

  /** A service's {@code KAFKA_*} variables: SASL_SSL as {@code user}, trusting the local CA. */
  Map<String, String> serviceEnvironment(String user) {
    return KafkaAccess.asEnvironment(kafka.clientProperties(user, passwords.get(user)));
  }

  private void writeReaderProperties() {
    Path file = settings.kafkaClientProperties();
    StringBuilder text =
        new StringBuilder()
            .append("# Reads transfer-events from the local cluster's secured Kafka, as ")
            .append(KafkaAccess.READER_USER)
            .append(" (READ on transfer-events,\n# any consumer group). Kafka's console consumer:")
            .append(" --consumer.config <this file>; the Java client:\n")
            .append(
                "# KafkaEventFeed.builder().propertiesFile(<this file>). Written at each start.\n")
            .append("bootstrap.servers=")
            .append(kafka.bootstrapServers())
            .append('\n');
    new TreeMap<>(
            kafka.clientProperties(KafkaAccess.READER_USER, passwords.get(KafkaAccess.READER_USER)))
        .forEach((k, v) -> text.append(k).append('=').append(escape(v)).append('\n'));
    try {
      Secrets.writeOwnerOnly(file, text.toString());
    } catch (IOException e) {
      throw new LaunchFailure(
          2, "Cannot write the Kafka client properties %s: %s".formatted(file, e.getMessage()));
    }
  }

  /** A value as java.util.Properties reads it back (backslashes doubled). */
  private static String escape(String value) {
    return value.replace("\\", "\\\\");
  }
}
