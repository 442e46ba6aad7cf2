package transfer.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The feed's consumer takes the standard Kafka client properties, from a map or a file. */
class KafkaEventFeedPropertiesTest {
  private static final TransferListener NOTHING = new TransferListener() {};

  @Test
  void aClientPropertiesFileConfiguresTheConsumerAndItsBrokers(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("kafka-client.properties");
    Files.writeString(
        file,
        """
        bootstrap.servers=127.0.0.1:9094
        security.protocol=SASL_SSL
        sasl.mechanism=SCRAM-SHA-512
        sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
          username="reports" password="pw";
        ssl.truststore.type=PEM
        ssl.truststore.location=/data/kafka/ca.pem
        # the feed's own settings win over a file's
        enable.auto.commit=true
        """);

    var props =
        KafkaEventFeed.builder()
            .propertiesFile(file)
            .groupId("report-service")
            .listener(NOTHING)
            .properties();

    assertThat(props)
        .containsEntry("bootstrap.servers", "127.0.0.1:9094")
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
        .containsEntry("ssl.truststore.location", "/data/kafka/ca.pem")
        .containsEntry("group.id", "report-service")
        .containsEntry("enable.auto.commit", false);
    assertThat((String) props.get("sasl.jaas.config")).contains("username=\"reports\"");
  }

  @Test
  void bootstrapServersAmongThePropertiesIsEnoughToBuild() {
    KafkaEventFeed.builder()
        .properties(Map.of("bootstrap.servers", "127.0.0.1:9092"))
        .groupId("g")
        .listener(NOTHING)
        .build();
  }

  @Test
  void withoutBrokersTheBuilderSaysWhatIsMissing() {
    assertThatThrownBy(() -> KafkaEventFeed.builder().groupId("g").listener(NOTHING).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("bootstrap.servers");
  }

  @Test
  void aMissingFileIsNamed(@TempDir Path dir) {
    assertThatThrownBy(() -> KafkaEventFeed.builder().propertiesFile(dir.resolve("nope")))
        .hasMessageContaining("nope");
  }
}
