package transfer.contracts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KafkaClientPropertiesTest {
  private static final Map<String, Object> DEFAULTS =
      Map.of("client.id", "transfer-outbox-relay", "linger.ms", 0, "request.timeout.ms", 10_000);
  private static final Map<String, Object> FIXED =
      Map.of("acks", "all", "enable.idempotence", true);

  @Test
  void theOperatorsSecuritySettingsReachTheClient() {
    Map<String, Object> configured = new HashMap<>();
    configured.put("bootstrap.servers", "broker:9093");
    configured.put("security.protocol", "SASL_SSL");
    configured.put("sasl.mechanism", "SCRAM-SHA-512");
    configured.put(
        "sasl.jaas.config", "org.apache.kafka...ScramLoginModule required password=\"s3cret\";");
    configured.put("ssl.truststore.location", "/etc/kafka/ca.p12");

    var merged = KafkaClientProperties.merge(configured, DEFAULTS, FIXED);

    assertThat(merged.properties())
        .containsEntry("bootstrap.servers", "broker:9093")
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
        .containsEntry("ssl.truststore.location", "/etc/kafka/ca.p12")
        .containsKey("sasl.jaas.config")
        .containsEntry("linger.ms", 0)
        .containsEntry("acks", "all");
    assertThat(merged.overridden()).isEmpty();
  }

  @Test
  void configurationTunesTheDefaultsButCannotChangeWhatCorrectnessRestsOn() {
    var merged =
        KafkaClientProperties.merge(
            Map.of("request.timeout.ms", "30000", "acks", "1", "enable.idempotence", "true"),
            DEFAULTS,
            FIXED);

    assertThat(merged.properties())
        .containsEntry("request.timeout.ms", "30000")
        .containsEntry("acks", "all")
        .containsEntry("enable.idempotence", true);
    // "true" equals the fixed value: nothing to warn about
    assertThat(merged.overridden()).containsExactly("acks");
  }

  @Test
  void theGroupIdQuarkusFillsInIsLeftOut() {
    var merged = KafkaClientProperties.merge(Map.of("group.id", "api-service"), DEFAULTS, FIXED);

    assertThat(merged.properties()).doesNotContainKey("group.id");
    assertThat(merged.configured()).isEmpty();
  }

  @Test
  void theLogLineNamesSecretKeysWithoutTheirValues() {
    var merged =
        KafkaClientProperties.merge(
            Map.of(
                "bootstrap.servers", "broker:9093",
                "security.protocol", "SASL_SSL",
                "sasl.jaas.config", "... password=\"s3cret\";",
                "ssl.keystore.password", "k3y",
                "acks", "0"),
            DEFAULTS,
            FIXED);

    assertThat(merged.describe())
        .isEqualTo(
            "client.id=transfer-outbox-relay, bootstrap.servers=broker:9093,"
                + " security.protocol=SASL_SSL; configured: sasl.jaas.config,"
                + " ssl.keystore.password; ignored, the cluster sets them itself: acks")
        .doesNotContain("s3cret")
        .doesNotContain("k3y");
  }
}
