package transfer.deploy;

/** What {@code deploy/local/start --help} prints: the command and its settings. */
final class Usage {
  private Usage() {}

  static final String TEXT =
      """
      Usage: deploy/local/start
      Runs PostgreSQL, Kafka, the api-service and the workers on 127.0.0.1 until Ctrl-C.

      Environment (all optional):
        TRANSFER_API_PORT          API port (8080)
        TRANSFER_WORKERS           number of workers (2)
        TRANSFER_WORKER_BASE_PORT  health port of worker 1; worker i uses base + i - 1 (API port + 1)
        TRANSFER_KAFKA_PORT        Kafka port (9092)
        TRANSFER_KAFKA_SECURITY    plaintext, or sasl_ssl: Kafka takes SASL_SSL only (SCRAM-SHA-512,
                                   a CA made in <data>/kafka-security, an ACL per service); readers
                                   use <data>/kafka-client.properties (plaintext)
        TRANSFER_DB_PORT           embedded PostgreSQL port (15432)
        TRANSFER_STORAGE           file (the default: objects/ of the data directory), or s3: an
                                   S3 API server (S3Proxy) in the launcher, bucket 'transfer'
        TRANSFER_S3_PORT           that S3 API server's port (9000)
        TRANSFER_S3_TLS            true: that server answers HTTPS, with a CA of its own (false)
        TRANSFER_DB_URL            use this PostgreSQL (a JDBC URL) instead of the embedded one,
        TRANSFER_DB_USER             with this user
        TRANSFER_DB_PASSWORD         and password
        TRANSFER_DATA_DIR          PostgreSQL data, Kafka log, objects, logs (<project>/.data)
        TRANSFER_API_KEY           API key of the default tenant (default: saved in <data>/api-key,
                                   generated on first start)
        TRANSFER_ADMIN_KEY         admin key: manages tenants and their keys under /v1/admin
                                   (default: saved in <data>/admin-key, generated on first start)
        TRANSFER_FETCH_ALLOWED_DESTINATIONS
                                   what tasks may reach besides public addresses, comma-separated:
                                   127.0.0.1:8000, 10.0.0.0/8, files.internal (none)
        TRANSFER_JVM_OPTS          JVM options of the service processes (-Xmx512m)
        TRANSFER_WORKER_JVM_OPTS   JVM options the workers get after those
                                   (-Xmn32m -XX:+UseSerialGC: a small resident heap)
      Any Quarkus setting passes through by its environment name (e.g. QUARKUS_LOG_LEVEL=DEBUG).
      """;
}
