package transfer.deploy;

/** What the launcher prints once the cluster is up: where everything is, and a first request. */
final class Banner {
  private final Settings settings;

  Banner(Settings settings) {
    this.settings = settings;
  }

  void print(
      String apiKey,
      String adminKey,
      String jdbcUrl,
      String bootstrap,
      boolean kafkaSecured,
      String objects) {
    String api = "http://127.0.0.1:" + settings.apiPort();
    String keySource =
        settings.apiKey() != null ? "from TRANSFER_API_KEY" : "saved in " + settings.apiKeyFile();
    String adminKeySource =
        settings.adminKey() != null
            ? "from TRANSFER_ADMIN_KEY"
            : "saved in " + settings.adminKeyFile();
    String workersLine =
        settings.workers() == 0
            ? "none (TRANSFER_WORKERS=0)"
            : "%d, health on 127.0.0.1:%d%s"
                .formatted(
                    settings.workers(),
                    settings.workerBasePort(),
                    settings.workers() == 1 ? "" : "-" + settings.workerPort(settings.workers()));
    String banner =
        String.join(
            System.lineSeparator(),
            "",
            "The transfer cluster is running.",
            "  API         " + api,
            "  API key     " + apiKey + "   (" + keySource + "; tenant 'default')",
            "  Admin key   " + adminKey + "   (" + adminKeySource + "; /v1/admin only)",
            "  API docs    " + api + "/q/swagger-ui   (OpenAPI at " + api + "/q/openapi)",
            "  Workers     " + workersLine,
            "  Outbound    " + outboundLine(),
            "  Kafka       "
                + bootstrap
                + (kafkaSecured
                    ? "   (SASL_SSL only; to read transfer-events: "
                        + settings.kafkaClientProperties()
                        + ")"
                    : ""),
            "  PostgreSQL  " + jdbcUrl,
            "  Objects     " + objects,
            "  Logs        "
                + settings.logsDir()
                + "   (api-service.log, worker-N.log, launcher.log)",
            "",
            "Try:",
            "  curl -H \"Authorization: Bearer "
                + apiKey
                + "\" "
                + api
                + "/v1/sessions/demo -X PUT -H 'Content-Type: application/json' -d '{}'",
            "  curl -H \"Authorization: Bearer "
                + adminKey
                + "\" "
                + api
                + "/v1/admin/tenants -H 'Content-Type: application/json' -d '{\"id\":\"acme\"}'",
            "",
            "Ctrl-C stops everything.",
            "");
    synchronized (System.out) {
      System.out.println(banner);
    }
  }

  /** What tasks may reach: public addresses, plus TRANSFER_FETCH_ALLOWED_DESTINATIONS. */
  private static String outboundLine() {
    String allowed = System.getenv("TRANSFER_FETCH_ALLOWED_DESTINATIONS");
    return allowed == null || allowed.isBlank()
        ? "public addresses only; for a local origin set"
            + " TRANSFER_FETCH_ALLOWED_DESTINATIONS=127.0.0.1:<port>"
        : "public addresses and " + allowed + " (TRANSFER_FETCH_ALLOWED_DESTINATIONS)";
  }
}
