package transfer.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A secured embedded broker (SASL_SSL, SCRAM-SHA-512, ACLs) on real sockets: a user with ACLs
 * produces and consumes, a user without them is refused, a wrong password and a plaintext client
 * are refused, and users and ACLs outlive a restart on the same directory.
 */
class SecuredKafkaIT {
  private static Path dir;
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("secured-kafka-it");
    kafka = EmbeddedKafka.startSecured(dir.resolve("kafka"), 0, dir.resolve("tls"));
    kafka.upsertUsers(Map.of("alice", "alice-pw", "bob", "bob-pw"));
    kafka.allow(
        List.of(
            acl(ResourceType.TOPIC, "t", "alice", AclOperation.WRITE),
            acl(ResourceType.TOPIC, "t", "alice", AclOperation.READ),
            acl(ResourceType.GROUP, "g", "alice", AclOperation.READ)));
    kafka.createTopics(Map.of("t", 1));
  }

  @AfterAll
  static void stop() {
    if (kafka != null) {
      kafka.close();
    }
    TestFiles.deleteTree(dir);
  }

  @Test
  void aUserWithAclsProducesAndConsumesOverTls() throws Exception {
    send("alice", "alice-pw", "hello");
    assertThat(readAll("alice", "alice-pw")).contains("hello");
  }

  @Test
  void aUserWithoutAclsIsRefused() {
    assertThatThrownBy(() -> send("bob", "bob-pw", "nope"))
        .hasRootCauseInstanceOf(TopicAuthorizationException.class);
  }

  @Test
  void aWrongPasswordIsRefused() {
    assertThatThrownBy(() -> send("alice", "wrong", "nope"))
        .hasRootCauseInstanceOf(SaslAuthenticationException.class);
  }

  @Test
  void aPlaintextClientIsRefused() {
    Map<String, Object> plain = new HashMap<>();
    plain.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    plain.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, 2_000);
    plain.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, 4_000);
    try (Admin admin = Admin.create(plain)) {
      assertThatThrownBy(() -> admin.listTopics().names().get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class);
    }
  }

  @Test
  void theClientPropertiesNameTheAuthorityAndNoPlaintext() {
    Map<String, String> p = kafka.clientProperties("alice", "alice-pw");
    assertThat(p)
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
        .containsEntry("ssl.truststore.type", "PEM");
    assertThat(Path.of(p.get("ssl.truststore.location"))).exists();
    assertThat(dir.resolve("tls/ca-key.pem")).exists();
  }

  @Test
  void usersAndAclsOutliveARestart() throws Exception {
    kafka.restart();
    send("alice", "alice-pw", "after restart");
    assertThat(readAll("alice", "alice-pw")).contains("after restart");
  }

  private static void send(String user, String password, String value) throws Exception {
    Map<String, Object> p = new HashMap<>(kafka.clientProperties(user, password));
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10_000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      producer.send(new ProducerRecord<>("t", value)).get(15, TimeUnit.SECONDS);
    }
  }

  private static List<String> readAll(String user, String password) {
    Map<String, Object> p = new HashMap<>(kafka.clientProperties(user, password));
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "g");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<String> values = new java.util.ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of("t"));
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          values.add(r.value());
        }
        if (!values.isEmpty() && consumer.poll(Duration.ofMillis(200)).isEmpty()) {
          break;
        }
      }
    }
    return values;
  }

  private static AclBinding acl(ResourceType type, String name, String user, AclOperation op) {
    return new AclBinding(
        new ResourcePattern(type, name, PatternType.LITERAL),
        new AccessControlEntry("User:" + user, "*", op, AclPermissionType.ALLOW));
  }
}
