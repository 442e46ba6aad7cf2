package transfer.deploy.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static transfer.deploy.k8s.ManifestsTest.env;
import static transfer.deploy.k8s.ManifestsTest.kustomize;
import static transfer.deploy.k8s.ManifestsTest.named;
import static transfer.deploy.k8s.ManifestsTest.of;
import static transfer.deploy.k8s.ManifestsTest.read;
import static transfer.deploy.k8s.ManifestsTest.single;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.IPBlock;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.acl.AclBinding;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.deploy.KafkaAccess;

/**
 * The manifests of a secured deployment: Strimzi's current API, a KafkaUser per service with the
 * same ACLs the local cluster's secured mode grants ({@link KafkaAccess}), each Deployment logging
 * in as its own user and trusting the Kafka cluster's CA, KEDA logging in as a user of its own, and
 * NetworkPolicies that keep the workers off the cluster's and private networks.
 */
class SecuredManifestsTest {
  private static List<HasMetadata> prod;

  @BeforeAll
  static void render() throws Exception {
    prod = read(kustomize("k8s/overlays/prod"));
  }

  @Test
  void strimziResourcesUseTheCurrentApi() {
    assertThat(of(prod, Crds.KafkaTopic.class)).isNotEmpty();
    assertThat(of(prod, Crds.KafkaUser.class)).isNotEmpty();
    // the typed models refuse any other apiVersion (Crds.Resource)
  }

  @Test
  void eachServicesKafkaUserHasTheAclsOfTheLocalClusterAndNoMore() {
    for (String user : List.of(KafkaAccess.API_USER, KafkaAccess.WORKER_USER)) {
      Crds.KafkaUser u = named(prod, Crds.KafkaUser.class, user);
      assertThat(u.spec().authentication().type()).isEqualTo("scram-sha-512");
      assertThat(u.spec().authorization().type()).isEqualTo("simple");
      assertThat(u.getMetadata().getLabels()).containsEntry("strimzi.io/cluster", "transfer-kafka");
      Set<String> granted = new HashSet<>();
      for (Crds.Acl acl : u.spec().authorization().acls()) {
        for (String op : acl.operations()) {
          granted.add(
              acl.resource().type()
                  + " "
                  + acl.resource().name()
                  + " "
                  + ("prefix".equals(acl.resource().patternType()) ? "prefixed" : "literal")
                  + " "
                  + op.toLowerCase(Locale.ROOT));
        }
      }
      Set<String> local =
          KafkaAccess.acls().stream()
              .filter(b -> b.entry().principal().equals("User:" + user))
              .map(SecuredManifestsTest::describe)
              .collect(Collectors.toSet());
      assertThat(granted).as(user).isEqualTo(local);
    }
  }

  @Test
  void eachDeploymentLogsInAsItsOwnUserAndTrustsTheClustersCa() {
    ConfigMap config = single(prod, ConfigMap.class);
    assertThat(config.getData())
        .containsEntry("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        .containsEntry("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        .containsEntry("KAFKA_SSL_TRUSTSTORE_TYPE", "PEM");
    Path truststore = Path.of(config.getData().get("KAFKA_SSL_TRUSTSTORE_LOCATION"));
    Map<String, String> userOf =
        Map.of("transfer-api", KafkaAccess.API_USER, "transfer-worker", KafkaAccess.WORKER_USER);
    SoftAssertions soft = new SoftAssertions();
    for (Deployment d : of(prod, Deployment.class)) {
      PodSpec pod = d.getSpec().getTemplate().getSpec();
      Container c = pod.getContainers().get(0);
      String user = userOf.get(d.getMetadata().getName());
      soft.assertThat(c.getEnv())
          .filteredOn(e -> e.getName().equals("KAFKA_SASL_JAAS_CONFIG"))
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.getValueFrom().getSecretKeyRef().getName()).isEqualTo(user);
                assertThat(e.getValueFrom().getSecretKeyRef().getKey())
                    .isEqualTo("sasl.jaas.config");
              });
      soft.assertThat(c.getVolumeMounts())
          .as("%s mounts the CA where the trust store points", d.getMetadata().getName())
          .anySatisfy(
              m -> {
                assertThat(truststore.startsWith(m.getMountPath())).isTrue();
                Volume v =
                    pod.getVolumes().stream()
                        .filter(x -> x.getName().equals(m.getName()))
                        .findFirst()
                        .orElseThrow();
                assertThat(v.getSecret().getSecretName())
                    .isEqualTo("transfer-kafka-cluster-ca-cert");
                assertThat(v.getSecret().getItems())
                    .anySatisfy(
                        i ->
                            assertThat(Path.of(m.getMountPath(), i.getPath()))
                                .isEqualTo(truststore));
              });
      soft.assertThat(env(c, "KAFKA_BOOTSTRAP_SERVERS")).isEmpty(); // the ConfigMap's, port 9093
    }
    soft.assertThat(config.getData().get("KAFKA_BOOTSTRAP_SERVERS")).endsWith(":9093");
    soft.assertAll();
  }

  @Test
  void kedaLogsInAsAUserThatMayOnlyDescribe() {
    Crds.ScaledObject scaler = single(prod, Crds.ScaledObject.class);
    Crds.Trigger kafka =
        scaler.spec().triggers().stream()
            .filter(t -> t.type().equals("kafka"))
            .findFirst()
            .orElseThrow();
    Crds.TriggerAuthentication auth =
        named(prod, Crds.TriggerAuthentication.class, kafka.authenticationRef().name());
    Map<String, Crds.SecretTarget> byParameter =
        auth.spec().secretTargetRef().stream()
            .collect(Collectors.toMap(Crds.SecretTarget::parameter, t -> t));
    assertThat(byParameter).containsKeys("sasl", "tls", "username", "password", "ca");
    assertThat(byParameter.get("ca").name()).isEqualTo("transfer-kafka-cluster-ca-cert");
    Crds.KafkaUser keda = named(prod, Crds.KafkaUser.class, byParameter.get("password").name());
    assertThat(keda.spec().authorization().acls())
        .allSatisfy(a -> assertThat(a.operations()).containsExactly("Describe"));
    assertThat(kafka.metadata().get("bootstrapServers"))
        .isEqualTo(single(prod, ConfigMap.class).getData().get("KAFKA_BOOTSTRAP_SERVERS"));
  }

  @Test
  void kedaCountsTransfersInTheLedgerAsTheScalerRoleInTheOverlaysNamespace() {
    Crds.ScaledObject scaler = single(prod, Crds.ScaledObject.class);
    Crds.Trigger ledger =
        scaler.spec().triggers().stream()
            .filter(t -> t.type().equals("postgresql"))
            .findFirst()
            .orElseThrow();
    // The role afterMigrate.sql grants the read of tasks' states only (transfer.db.scaler-role).
    assertThat(ledger.metadata())
        .containsEntry("userName", "transfer_scaler")
        .containsEntry("dbName", "transfer")
        .containsEntry("targetQueryValue", "16");
    String namespace = scaler.getMetadata().getNamespace();
    assertThat(ledger.metadata().get("host"))
        .as("KEDA's operator resolves the service from its own namespace")
        .isEqualTo("transfer-postgres." + namespace + ".svc.cluster.local");
    assertThat(single(prod, ConfigMap.class).getData().get("QUARKUS_DATASOURCE_JDBC_URL"))
        .contains("//transfer-postgres:5432/transfer");
    assertThat(ledger.metadata().get("query"))
        .contains("state in ('queued', 'running')")
        .contains("limit " + 16 * scaler.spec().maxReplicaCount());
    Crds.TriggerAuthentication auth =
        named(prod, Crds.TriggerAuthentication.class, ledger.authenticationRef().name());
    assertThat(auth.spec().secretTargetRef())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.parameter()).isEqualTo("password");
              assertThat(t.name()).isEqualTo("transfer-secrets");
            });
  }

  @Test
  void networkPoliciesCoverEveryPodAndKeepWorkersOffPrivateNetworks() {
    List<NetworkPolicy> policies = of(prod, NetworkPolicy.class);
    for (Deployment d : of(prod, Deployment.class)) {
      Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
      assertThat(policies)
          .as("%s: a policy for its ingress and egress", d.getMetadata().getName())
          .anySatisfy(
              p -> {
                assertThat(labels)
                    .containsAllEntriesOf(p.getSpec().getPodSelector().getMatchLabels());
                assertThat(p.getSpec().getPolicyTypes()).contains("Ingress", "Egress");
                // every ingress rule names who may come in: none admits everyone
                assertThat(p.getSpec().getIngress())
                    .allSatisfy(r -> assertThat(r.getFrom()).isNotEmpty());
              });
    }
    NetworkPolicy worker = named(prod, NetworkPolicy.class, "transfer-worker");
    List<IPBlock> blocks =
        worker.getSpec().getEgress().stream()
            .flatMap(r -> r.getTo().stream())
            .map(NetworkPolicyPeer::getIpBlock)
            .filter(b -> b != null)
            .toList();
    assertThat(blocks)
        .anySatisfy(
            b -> {
              assertThat(b.getCidr()).isEqualTo("0.0.0.0/0");
              assertThat(b.getExcept())
                  .contains(
                      "10.0.0.0/8",
                      "172.16.0.0/12",
                      "192.168.0.0/16",
                      "169.254.0.0/16",
                      "100.64.0.0/10",
                      "127.0.0.0/8");
            });
    assertThat(blocks)
        .allSatisfy(
            b -> assertThat(b.getExcept()).as("no open block %s", b.getCidr()).isNotEmpty());
    // The API reaches the bucket: HTTPS to public addresses only.
    NetworkPolicy api = named(prod, NetworkPolicy.class, "transfer-api");
    assertThat(api.getSpec().getEgress())
        .filteredOn(r -> r.getTo().stream().anyMatch(p -> p.getIpBlock() != null))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getPorts())
                  .singleElement()
                  .satisfies(p -> assertThat(p.getPort().getIntVal()).isEqualTo(443));
              assertThat(r.getTo())
                  .allSatisfy(p -> assertThat(p.getIpBlock().getExcept()).isNotEmpty());
            });
    NetworkPolicy postgres = named(prod, NetworkPolicy.class, "transfer-postgres");
    assertThat(postgres.getSpec().getIngress())
        .singleElement()
        .satisfies(
            r -> {
              // The two services, and KEDA's operator (its PostgreSQL trigger), by namespace.
              assertThat(r.getFrom()).hasSize(3);
              assertThat(r.getFrom())
                  .filteredOn(f -> f.getNamespaceSelector() != null)
                  .singleElement()
                  .satisfies(
                      f ->
                          assertThat(f.getNamespaceSelector().getMatchLabels())
                              .containsEntry("kubernetes.io/metadata.name", "keda"));
              assertThat(r.getPorts())
                  .singleElement()
                  .satisfies(p -> assertThat(p.getPort().getIntVal()).isEqualTo(5432));
            });
  }

  @Test
  void workersUseTheirOwnDatabaseRoleAndDoNotMigrate() {
    ConfigMap config = single(prod, ConfigMap.class);
    Container worker =
        named(prod, Deployment.class, "transfer-worker")
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0);
    Container api =
        named(prod, Deployment.class, "transfer-api")
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0);
    assertThat(env(worker, "QUARKUS_DATASOURCE_USERNAME"))
        .isEqualTo("transfer_worker") // the role afterMigrate.sql grants (transfer.db.worker-role)
        .isNotEqualTo(config.getData().get("QUARKUS_DATASOURCE_USERNAME"));
    assertThat(env(worker, "QUARKUS_FLYWAY_MIGRATE_AT_START")).isEqualTo("false");
    assertThat(env(api, "QUARKUS_DATASOURCE_USERNAME")).isEmpty(); // the ConfigMap's: the owner
    assertThat(worker.getEnv())
        .filteredOn(e -> e.getName().equals("QUARKUS_DATASOURCE_PASSWORD"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.getValueFrom().getSecretKeyRef().getKey())
                    .isEqualTo("db-worker-password"));
  }

  /** A local ACL as "type name pattern operation", the manifests' spelling. */
  private static String describe(AclBinding b) {
    return b.pattern().resourceType().name().toLowerCase(Locale.ROOT)
        + " "
        + b.pattern().name()
        + " "
        + b.pattern().patternType().name().toLowerCase(Locale.ROOT)
        + " "
        + b.entry().operation().name().toLowerCase(Locale.ROOT).replace("_", "");
  }
}
