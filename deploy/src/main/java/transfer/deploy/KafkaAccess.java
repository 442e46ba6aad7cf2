package transfer.deploy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import transfer.contracts.Topics;

/**
 * The cluster's Kafka principals on a secured broker, and the least each needs: what the local
 * cluster's secured mode grants its embedded broker, and what the README tells a platform team to
 * grant on its own (the Strimzi {@code KafkaUser}s in k8s/ say the same).
 *
 * <ul>
 *   <li>{@value #API_USER} (the api-service: its outbox relay) writes doorbells to {@code
 *       transfer-tasks} and events to {@code transfer-events}, or, with topics per tenant, to
 *       {@code transfer-events.<tenant>}, which it creates when missing;
 *   <li>{@value #WORKER_USER} (every worker) reads {@code transfer-tasks} in the group {@code
 *       transfer-workers}, and writes what is no doorbell to {@code transfer-tasks-dlq};
 *   <li>{@value #READER_USER} (the local cluster's reader of results: Kafka's console consumer, a
 *       service's feed) reads {@code transfer-events} and every tenant's topic, in any group.
 * </ul>
 *
 * Nobody else reads or writes anything: the broker's authorizer allows nothing without an ACL.
 * WRITE and READ imply DESCRIBE; an idempotent producer needs WRITE on its topics only.
 */
public final class KafkaAccess {
  public static final String API_USER = "transfer-api";
  public static final String WORKER_USER = "transfer-worker";
  public static final String READER_USER = "transfer-events-reader";

  /** Every principal, in the order above. */
  static final List<String> USERS = List.of(API_USER, WORKER_USER, READER_USER);

  private KafkaAccess() {}

  /** Every ACL of the cluster's principals. */
  public static List<AclBinding> acls() {
    List<AclBinding> acls = new ArrayList<>();
    acls.add(allow(API_USER, ResourceType.TOPIC, Topics.TASKS, AclOperation.WRITE));
    acls.add(allow(API_USER, ResourceType.TOPIC, Topics.EVENTS, AclOperation.WRITE));
    // The per-tenant results topics (transfer.outbox.topic-per-tenant), made on first use.
    acls.add(allowPrefixed(API_USER, Topics.TENANT_EVENTS_PREFIX, AclOperation.WRITE));
    acls.add(allowPrefixed(API_USER, Topics.TENANT_EVENTS_PREFIX, AclOperation.CREATE));
    acls.add(allow(WORKER_USER, ResourceType.TOPIC, Topics.TASKS, AclOperation.READ));
    acls.add(allow(WORKER_USER, ResourceType.GROUP, Topics.WORKER_GROUP, AclOperation.READ));
    acls.add(allow(WORKER_USER, ResourceType.TOPIC, Topics.DEAD_LETTERS, AclOperation.WRITE));
    acls.add(allow(READER_USER, ResourceType.TOPIC, Topics.EVENTS, AclOperation.READ));
    acls.add(allowPrefixed(READER_USER, Topics.TENANT_EVENTS_PREFIX, AclOperation.READ));
    acls.add(
        allow(
            READER_USER, ResourceType.GROUP, ResourcePattern.WILDCARD_RESOURCE, AclOperation.READ));
    return List.copyOf(acls);
  }

  /**
   * Client properties as a service's environment: {@code security.protocol} becomes {@code
   * KAFKA_SECURITY_PROTOCOL}, which Quarkus reads as {@code kafka.security.protocol}, the form the
   * services take every Kafka client property in.
   */
  static Map<String, String> asEnvironment(Map<String, String> clientProperties) {
    Map<String, String> env = new TreeMap<>();
    clientProperties.forEach(
        (key, value) -> env.put("KAFKA_" + key.toUpperCase(Locale.ROOT).replace('.', '_'), value));
    return env;
  }

  private static AclBinding allowPrefixed(String user, String prefix, AclOperation operation) {
    return new AclBinding(
        new ResourcePattern(ResourceType.TOPIC, prefix, PatternType.PREFIXED),
        new AccessControlEntry("User:" + user, "*", operation, AclPermissionType.ALLOW));
  }

  private static AclBinding allow(
      String user, ResourceType type, String name, AclOperation operation) {
    return new AclBinding(
        new ResourcePattern(type, name, PatternType.LITERAL),
        new AccessControlEntry("User:" + user, "*", operation, AclPermissionType.ALLOW));
  }
}
