package transfer.deploy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Everything {@link LocalCluster} reads from its environment, parsed and checked once up front so
 * that a typo ends in one clear line instead of a failure halfway through starting the cluster.
 *
 * @param dbUrl an existing PostgreSQL to use instead of the embedded one, or null
 * @param apiKey the default tenant's key, or null (generated once and saved)
 * @param adminKey the admin API's key, or null (generated once and saved)
 * @param serviceJvmArgs JVM options for the service processes
 * @param workerJvmArgs JVM options the workers get after {@code serviceJvmArgs}
 * @param kafkaSecured whether the embedded broker takes SASL_SSL only ({@code
 *     TRANSFER_KAFKA_SECURITY=sasl_ssl}) instead of plaintext
 * @param s3Storage whether stored bytes go to an embedded S3 API server ({@code
 *     TRANSFER_STORAGE=s3}) instead of the data directory's {@code objects/}
 * @param s3Port the embedded S3 API server's port ({@code TRANSFER_S3_PORT})
 * @param s3Tls whether that server answers HTTPS, with a CA of its own ({@code TRANSFER_S3_TLS})
 */
record Settings(
    Path projectRoot,
    Path dataDir,
    int apiPort,
    int kafkaPort,
    int workers,
    int workerBasePort,
    int dbPort,
    String dbUrl,
    String dbUser,
    String dbPassword,
    String apiKey,
    String adminKey,
    List<String> serviceJvmArgs,
    List<String> workerJvmArgs,
    boolean kafkaSecured,
    boolean s3Storage,
    int s3Port,
    boolean s3Tls) {

  /** A development machine runs four JVMs of this cluster; the JVM's default heap is too eager. */
  static final String DEFAULT_JVM_OPTS = "-Xmx512m";

  /**
   * A worker streams bodies through a few MiB and keeps little else (about 15 MB live), but the
   * HTTP client copies every received byte into a new heap buffer. G1 spreads that garbage over
   * every region it has committed (a few hundred MB, all resident); the serial collector's young
   * generation is one fixed range, so 32 MB of it are resident, whatever the download's size.
   */
  static final String DEFAULT_WORKER_JVM_OPTS = "-Xmn32m -XX:+UseSerialGC";

  static Settings from(Map<String, String> env, String projectRootProperty) {
    Path root =
        Path.of(blankToNull(projectRootProperty) != null ? projectRootProperty : "")
            .toAbsolutePath()
            .normalize();
    String dataDir = blankToNull(env.get("TRANSFER_DATA_DIR"));
    int apiPort = port(env, "TRANSFER_API_PORT", 8080);
    int workers = integer(env, "TRANSFER_WORKERS", 2, 0, 100);
    int workerBase = port(env, "TRANSFER_WORKER_BASE_PORT", apiPort + 1);
    if (workerBase + workers - 1 > 65535) {
      throw new LaunchFailure(
          2,
          "TRANSFER_WORKER_BASE_PORT %d leaves no room for %d workers; choose a lower port."
              .formatted(workerBase, workers));
    }
    List<String> jvmArgs = words(env.getOrDefault("TRANSFER_JVM_OPTS", DEFAULT_JVM_OPTS));
    List<String> workerJvmArgs =
        words(env.getOrDefault("TRANSFER_WORKER_JVM_OPTS", DEFAULT_WORKER_JVM_OPTS));
    return new Settings(
        root,
        dataDir == null ? root.resolve(".data") : Path.of(dataDir).toAbsolutePath().normalize(),
        apiPort,
        port(env, "TRANSFER_KAFKA_PORT", 9092),
        workers,
        workerBase,
        port(env, "TRANSFER_DB_PORT", 15432),
        blankToNull(env.get("TRANSFER_DB_URL")),
        blankToNull(env.get("TRANSFER_DB_USER")),
        env.get("TRANSFER_DB_PASSWORD"),
        blankToNull(env.get("TRANSFER_API_KEY")),
        blankToNull(env.get("TRANSFER_ADMIN_KEY")),
        List.copyOf(jvmArgs),
        List.copyOf(workerJvmArgs),
        kafkaSecurity(env),
        s3Storage(env),
        port(env, "TRANSFER_S3_PORT", 9000),
        flag(env, "TRANSFER_S3_TLS"));
  }

  /** {@code TRANSFER_STORAGE}: {@code file} (the default) or {@code s3}. */
  private static boolean s3Storage(Map<String, String> env) {
    String raw = blankToNull(env.get("TRANSFER_STORAGE"));
    if (raw == null || raw.trim().equalsIgnoreCase("file")) {
      return false;
    }
    if (raw.trim().equalsIgnoreCase("s3")) {
      return true;
    }
    throw new LaunchFailure(2, "TRANSFER_STORAGE must be file or s3; got '%s'.".formatted(raw));
  }

  /** A variable that is {@code true} or {@code false} (the default). */
  private static boolean flag(Map<String, String> env, String name) {
    String raw = blankToNull(env.get(name));
    if (raw == null || raw.trim().equalsIgnoreCase("false")) {
      return false;
    }
    if (raw.trim().equalsIgnoreCase("true")) {
      return true;
    }
    throw new LaunchFailure(2, "%s must be true or false; got '%s'.".formatted(name, raw));
  }

  /** {@code TRANSFER_KAFKA_SECURITY}: {@code plaintext} (the default) or {@code sasl_ssl}. */
  private static boolean kafkaSecurity(Map<String, String> env) {
    String raw = blankToNull(env.get("TRANSFER_KAFKA_SECURITY"));
    if (raw == null || raw.trim().equalsIgnoreCase("plaintext")) {
      return false;
    }
    if (raw.trim().equalsIgnoreCase("sasl_ssl")) {
      return true;
    }
    throw new LaunchFailure(
        2, "TRANSFER_KAFKA_SECURITY must be plaintext or sasl_ssl; got '%s'.".formatted(raw));
  }

  private static List<String> words(String s) {
    String t = s.trim();
    return t.isEmpty() ? List.of() : new ArrayList<>(Arrays.asList(t.split("\\s+")));
  }

  boolean embeddedDatabase() {
    return dbUrl == null;
  }

  int workerPort(int index) {
    return workerBasePort + index - 1;
  }

  Path apiJar() {
    return projectRoot.resolve("api-service/target/quarkus-app/quarkus-run.jar");
  }

  Path workerJar() {
    return projectRoot.resolve("worker-service/target/quarkus-app/quarkus-run.jar");
  }

  Path kafkaDir() {
    return dataDir.resolve("kafka");
  }

  /**
   * A secured broker's authority, its certificate and the passwords of its users (owner-only
   * files): made on the first secured start, kept with the data.
   */
  Path kafkaSecurityDir() {
    return dataDir.resolve("kafka-security");
  }

  /**
   * The client properties file of a secured broker: what Kafka's console tools take with {@code
   * --consumer.config}, and the Java client's feed with {@code propertiesFile}, to read {@code
   * transfer-events}.
   */
  Path kafkaClientProperties() {
    return dataDir.resolve("kafka-client.properties");
  }

  Path postgresDir() {
    return dataDir.resolve("postgres");
  }

  Path objectsDir() {
    return dataDir.resolve("objects");
  }

  Path logsDir() {
    return dataDir.resolve("logs");
  }

  Path apiKeyFile() {
    return dataDir.resolve("api-key");
  }

  /** The admin key (tenants and their keys, {@code /v1/admin}), when not given. */
  Path adminKeyFile() {
    return dataDir.resolve("admin-key");
  }

  private static int port(Map<String, String> env, String name, int fallback) {
    return integer(env, name, fallback, 1, 65535);
  }

  private static int integer(Map<String, String> env, String name, int fallback, int min, int max) {
    String raw = blankToNull(env.get(name));
    if (raw == null) {
      return fallback;
    }
    try {
      int value = Integer.parseInt(raw.trim());
      if (value >= min && value <= max) {
        return value;
      }
    } catch (NumberFormatException e) {
      // Reported below, together with the range.
    }
    throw new LaunchFailure(
        2, "%s must be a number from %d to %d; got '%s'.".formatted(name, min, max, raw));
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
