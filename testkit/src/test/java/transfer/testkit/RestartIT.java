package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restarts on the same data keep the data: the shared services through their {@link Switchable}s
 * (embedded or containers, whichever this JVM runs), the embedded ones also as new instances.
 */
class RestartIT {

  @Test
  void theSharedServicesComeBackOnTheSameAddressWithTheirData() throws Exception {
    TestInfra infra = TestInfra.shared();
    String key = "switch-" + UUID.randomUUID();
    String table = "switch_" + UUID.randomUUID().toString().replace("-", "");
    produce(infra.kafkaBootstrap(), TestInfra.EVENTS_TOPIC, key, "{\"n\":1}");
    try (Connection c =
            DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
        Statement s = c.createStatement()) {
      s.execute("create table " + table + " (v text)");
      s.execute("insert into " + table + " values ('survives')");
    }

    for (Switchable service : List.of(infra.kafkaSwitch(), infra.postgresSwitch())) {
      long t0 = System.nanoTime();
      service.stop();
      assertThat(service.isRunning()).isFalse();
      service.start();
      assertThat(service.isRunning()).isTrue();
      System.out.printf(
          "%s restart (%s) took %d ms%n",
          service == infra.kafkaSwitch() ? "Kafka" : "PostgreSQL",
          infra.mode(),
          (System.nanoTime() - t0) / 1_000_000);
    }

    produce(infra.kafkaBootstrap(), TestInfra.EVENTS_TOPIC, key, "{\"n\":2}");
    assertThat(
            EventLog.readSession(
                infra.kafkaBootstrap(),
                TestInfra.EVENTS_TOPIC,
                key,
                l -> l.size() >= 2,
                Duration.ofSeconds(30)))
        .extracting(n -> n.get("n").asInt())
        .containsExactly(1, 2);
    try (Connection c =
            DriverManager.getConnection(infra.jdbcUrl(), infra.dbUser(), infra.dbPassword());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select v from " + table)) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("survives");
      s.execute("drop table " + table);
    }
  }

  @Test
  void kafkaKeepsTopicsAndRecordsAcrossRestarts(@TempDir Path dir) throws Exception {
    Path logDir = dir.resolve("kafka");
    String bootstrap;
    try (EmbeddedKafka kafka = EmbeddedKafka.start(logDir, 0)) {
      bootstrap = kafka.bootstrapServers();
      kafka.createTopics(Map.of("restart-test", 3));
      kafka.createTopics(Map.of("restart-test", 3)); // idempotent
      produce(bootstrap, "restart-test", "k", "{\"n\":1}");

      long t0 = System.nanoTime();
      kafka.restart();
      System.out.printf("Kafka restart took %d ms%n", (System.nanoTime() - t0) / 1_000_000);
      assertThat(kafka.bootstrapServers()).isEqualTo(bootstrap);
      produce(bootstrap, "restart-test", "k", "{\"n\":2}");
      assertThat(read(bootstrap, 2)).extracting(n -> n.get("n").asInt()).containsExactly(1, 2);
    }

    // A new instance on the same directory, as a new JVM would do: not formatted again.
    try (EmbeddedKafka again = EmbeddedKafka.start(logDir, 0)) {
      assertThat(read(again.bootstrapServers(), 2))
          .extracting(n -> n.get("n").asInt())
          .containsExactly(1, 2);
    }
  }

  @Test
  void postgresKeepsDataWhenAsked(@TempDir Path dir) throws Exception {
    Path dataDir = dir.resolve("pg");
    try (LocalPostgres pg = LocalPostgres.start(dataDir, 0, true)) {
      pg.createDatabaseIfMissing("kept");
      pg.createDatabaseIfMissing("kept");
      execute(pg, "create table t (v text)", "insert into t values ('survives')");
    }
    try (LocalPostgres pg = LocalPostgres.start(dataDir, 0, true, false)) {
      assertThat(query(pg, "select v from t")).isEqualTo("survives");
      assertThat(query(pg, "show synchronous_commit"))
          .as("kept data is committed when a commit returns (zonky's builder turns it off)")
          .isEqualTo("on");
      assertThat(query(pg, "show fsync")).isEqualTo("on");
    }
    try (LocalPostgres pg = LocalPostgres.start(dataDir, 0, false)) {
      try (Connection c =
              DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), pg.password());
          ResultSet rs =
              c.createStatement()
                  .executeQuery("select count(*) from pg_database where datname = 'kept'")) {
        rs.next();
        assertThat(rs.getInt(1)).as("keepData=false starts from scratch").isZero();
      }
    }
  }

  private static void execute(LocalPostgres pg, String... sql) throws Exception {
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl("kept"), pg.user(), pg.password());
        Statement s = c.createStatement()) {
      for (String statement : sql) {
        s.execute(statement);
      }
    }
  }

  private static String query(LocalPostgres pg, String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl("kept"), pg.user(), pg.password());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void produce(String bootstrap, String topic, String key, String value)
      throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      producer.send(new ProducerRecord<>(topic, key, value)).get();
    }
  }

  private static List<JsonNode> read(String bootstrap, int expected) {
    return EventLog.readSession(
        bootstrap, "restart-test", "k", l -> l.size() >= expected, Duration.ofSeconds(30));
  }
}
