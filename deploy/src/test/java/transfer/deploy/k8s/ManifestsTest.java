package transfer.deploy.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import transfer.contracts.Topics;
import transfer.testkit.TestFiles;

/**
 * The Kubernetes manifests as {@code kubectl kustomize} renders them, read into typed models
 * (fabric8's for Kubernetes' own kinds, {@link Crds} for Strimzi's and KEDA's) that reject any
 * field they do not know, and checked against the services they deploy: probe paths and ports,
 * environment names that are real configuration keys, selectors, images, security settings.
 */
class ManifestsTest {
  private static final Path ROOT =
      Path.of(System.getProperty("transfer.project.root", "..")).toAbsolutePath().normalize();
  private static final ObjectMapper MAPPER =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

  /** SmallRye Health's endpoints in Quarkus (quarkus-smallrye-health, default root /q/health). */
  private static final Set<String> HEALTH_PATHS =
      Set.of("/q/health/live", "/q/health/ready", "/q/health/started");

  /** Quarkus' own keys these manifests set (the services' application.properties set the rest). */
  private static final Set<String> QUARKUS_KEYS =
      Set.of(
          "quarkus.datasource.jdbc.url",
          "quarkus.datasource.username",
          "quarkus.datasource.password");

  /** Environment for the JVM, not for the application's configuration. */
  private static final Set<String> JVM_ENV = Set.of("JAVA_TOOL_OPTIONS");

  /**
   * The OpenTelemetry SDK's own settings these manifests use, which the services read through the
   * SDK's autoconfiguration ({@code transfer.telemetry.Telemetry}), not through Quarkus: only these
   * names, and only for a service whose packaged application holds that autoconfiguration.
   */
  private static final Set<String> OTEL_ENV =
      Set.of(
          "OTEL_SERVICE_NAME",
          "OTEL_EXPORTER_OTLP_ENDPOINT",
          "OTEL_TRACES_SAMPLER",
          "OTEL_TRACES_SAMPLER_ARG");

  /** What the AWS SDK for Java v2 reads from the environment (its default chains). */
  private static final Set<String> AWS_ENV =
      Set.of(
          "AWS_REGION",
          "AWS_ENDPOINT_URL",
          "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY",
          "AWS_SESSION_TOKEN",
          "AWS_ROLE_ARN",
          "AWS_WEB_IDENTITY_TOKEN_FILE",
          "AWS_REQUEST_CHECKSUM_CALCULATION");

  private static List<HasMetadata> prod;
  private static List<HasMetadata> dev;

  @BeforeAll
  static void render() throws Exception {
    prod = read(kustomize("k8s/overlays/prod"));
    dev = read(kustomize("k8s/overlays/dev"));
  }

  @Test
  void prodRendersEveryKindTheClusterNeeds() {
    assertThat(prod.stream().map(HasMetadata::getKind).distinct())
        .containsExactlyInAnyOrder(
            "ConfigMap",
            "KafkaTopic",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "ScaledObject",
            "KafkaUser",
            "TriggerAuthentication",
            "NetworkPolicy");
    assertThat(prod)
        .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("transfer"));
    assertThat(names(prod, Deployment.class))
        .containsExactlyInAnyOrder("transfer-api", "transfer-worker");
    assertThat(dev)
        .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("transfer-dev"));
  }

  @Test
  void selectorsMatchThePodsTheyMeanAndEveryPodIsCoveredByADisruptionBudget() {
    for (List<HasMetadata> objects : List.of(prod, dev)) {
      SoftAssertions soft = new SoftAssertions();
      List<Deployment> deployments = of(objects, Deployment.class);
      for (Deployment d : deployments) {
        Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
        soft.assertThat(podLabels)
            .as("%s: its selector selects its own pods", d.getMetadata().getName())
            .containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels());
        soft.assertThat(of(objects, Service.class))
            .as("%s: a Service selects its pods", d.getMetadata().getName())
            .anySatisfy(s -> assertThat(podLabels).containsAllEntriesOf(s.getSpec().getSelector()));
        soft.assertThat(of(objects, PodDisruptionBudget.class))
            .as("%s: a PodDisruptionBudget covers its pods", d.getMetadata().getName())
            .anySatisfy(
                p ->
                    assertThat(podLabels)
                        .containsAllEntriesOf(p.getSpec().getSelector().getMatchLabels()));
      }
      for (Service s : of(objects, Service.class)) {
        Deployment target =
            deployments.stream()
                .filter(
                    d ->
                        d.getSpec()
                            .getTemplate()
                            .getMetadata()
                            .getLabels()
                            .entrySet()
                            .containsAll(s.getSpec().getSelector().entrySet()))
                .findFirst()
                .orElse(null);
        soft.assertThat(target)
            .as("service %s selects a Deployment", s.getMetadata().getName())
            .isNotNull();
        if (target != null) {
          Container c = target.getSpec().getTemplate().getSpec().getContainers().get(0);
          s.getSpec()
              .getPorts()
              .forEach(
                  p ->
                      soft.assertThat(portOf(c, p.getTargetPort()))
                          .as(
                              "service %s: target port %s exists",
                              s.getMetadata().getName(), p.getTargetPort())
                          .isNotNull());
        }
      }
      soft.assertAll();
    }
  }

  @Test
  void probesAskTheHealthEndpointsOnThePortTheServiceListensOn() throws IOException {
    SoftAssertions soft = new SoftAssertions();
    for (Deployment d : of(prod, Deployment.class)) {
      String service = serviceOf(d);
      int listens =
          Integer.parseInt(applicationProperties(service).getProperty("quarkus.http.port"));
      for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
        soft.assertThat(c.getPorts())
            .extracting(ContainerPort::getContainerPort)
            .containsExactly(listens);
        List<Probe> probes =
            Stream.of(c.getStartupProbe(), c.getLivenessProbe(), c.getReadinessProbe()).toList();
        soft.assertThat(probes)
            .as("%s: startup, liveness and readiness probes", service)
            .doesNotContainNull();
        for (Probe probe : probes) {
          if (probe == null) {
            continue;
          }
          soft.assertThat(HEALTH_PATHS).contains(probe.getHttpGet().getPath());
          soft.assertThat(portOf(c, probe.getHttpGet().getPort()))
              .as("%s: probe port %s", service, probe.getHttpGet().getPort())
              .isEqualTo(listens);
        }
        soft.assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/q/health/live");
        soft.assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/q/health/ready");
      }
    }
    soft.assertAll();
  }

  @Test
  void everyEnvironmentNameIsAConfigurationKeyOfTheServiceItIsGivenTo() throws Exception {
    ConfigMap config = single(prod, ConfigMap.class);
    SoftAssertions soft = new SoftAssertions();
    for (Deployment d : of(prod, Deployment.class)) {
      String service = serviceOf(d);
      Set<String> known = environmentNames(service);
      for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
        List<String> names = new ArrayList<>();
        c.getEnv().stream().map(EnvVar::getName).forEach(names::add);
        for (EnvFromSource from : c.getEnvFrom()) {
          soft.assertThat(from.getConfigMapRef().getName())
              .isEqualTo(config.getMetadata().getName());
          names.addAll(config.getData().keySet());
        }
        for (String name : names) {
          soft.assertThat(JVM_ENV.contains(name) || known.contains(name))
              .as(
                  "%s: %s is a configuration key of the %s",
                  d.getMetadata().getName(), name, service)
              .isTrue();
        }
      }
    }
    // The check is not vacuous: a misspelt key is caught, and so is an OTEL_* name outside the
    // list.
    assertThat(environmentNames("worker-service"))
        .contains("TRANSFER_WORKER_SLOTS", "OTEL_SERVICE_NAME", "KAFKA_SASL_JAAS_CONFIG")
        .doesNotContain(
            "TRANSFER_WORKERS_SLOTS",
            "OTEL_SERVICE_NAMES",
            "OTEL_ANYTHING",
            "KAFKA_SASL_JASS_CONFIG");
    soft.assertAll();
  }

  @Test
  void imagesAreTheOnesDeployImagesBuildMakes() throws IOException {
    String version = projectVersion();
    String build = Files.readString(ROOT.resolve("deploy/images/build"));
    assertThat(build)
        .contains("prefix=\"${IMAGE_PREFIX:-localhost/transfer-}\"")
        .contains("version=\"$(project_version)\"")
        .contains("\"${prefix}$service:$version\"");
    for (Deployment d : of(prod, Deployment.class)) {
      assertThat(d.getSpec().getTemplate().getSpec().getContainers())
          .extracting(Container::getImage)
          .containsExactly("localhost/transfer-" + serviceOf(d) + ":" + version);
    }
  }

  @Test
  void podsRunAsNonRootOnAReadOnlyRootWithRequestsAndLimits() {
    SoftAssertions soft = new SoftAssertions();
    for (List<HasMetadata> objects : List.of(prod, dev)) {
      for (Deployment d : of(objects, Deployment.class)) {
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        String name = d.getMetadata().getName();
        soft.assertThat(pod.getSecurityContext().getRunAsNonRoot()).as(name).isTrue();
        soft.assertThat(pod.getSecurityContext().getRunAsUser()).as(name).isEqualTo(10001L);
        for (Container c : pod.getContainers()) {
          soft.assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).as(name).isTrue();
          soft.assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).as(name).isFalse();
          soft.assertThat(c.getSecurityContext().getCapabilities().getDrop())
              .as(name)
              .containsExactly("ALL");
          soft.assertThat(c.getResources().getRequests()).as(name).containsKeys("cpu", "memory");
          soft.assertThat(c.getResources().getLimits()).as(name).containsKeys("cpu", "memory");
          soft.assertThat(c.getVolumeMounts())
              .as("%s: writable /tmp and /data (scratch); the Kafka CA read-only", name)
              .extracting(m -> m.getMountPath())
              .containsExactlyInAnyOrder("/tmp", "/data", "/etc/kafka-ca");
          soft.assertThat(c.getVolumeMounts())
              .filteredOn(m -> m.getMountPath().equals("/etc/kafka-ca"))
              .allSatisfy(m -> assertThat(m.getReadOnly()).isTrue());
        }
        soft.assertThat(pod.getVolumes())
            .as("%s: /data is scratch, no shared claim (the bytes are in the bucket)", name)
            .allSatisfy(v -> assertThat(v.getPersistentVolumeClaim()).isNull())
            .anySatisfy(
                v -> {
                  assertThat(v.getName()).isEqualTo("objects");
                  assertThat(v.getEmptyDir()).isNotNull();
                });
      }
      soft.assertThat(of(objects, PersistentVolumeClaim.class)).isEmpty();
      soft.assertThat(single(objects, ConfigMap.class).getData().get("TRANSFER_STORAGE_URL"))
          .startsWith("s3://");
    }
    soft.assertAll();
  }

  @Test
  void theSharedVolumeComponentPutsTheBytesOnAReadWriteManyClaimInBothServices() throws Exception {
    Path overlay = Files.createTempDirectory(ROOT.resolve("k8s/overlays"), ".shared-volume-test-");
    try {
      Files.writeString(
          overlay.resolve("kustomization.yaml"),
          "resources: [../../base]\ncomponents: [../../components/shared-volume]\n");
      List<HasMetadata> objects = read(kustomize(ROOT.relativize(overlay).toString()));
      PersistentVolumeClaim claim = single(objects, PersistentVolumeClaim.class);
      assertThat(claim.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
      assertThat(single(objects, ConfigMap.class).getData().get("TRANSFER_STORAGE_URL"))
          .isEqualTo("file:///data/objects");
      for (Deployment d : of(objects, Deployment.class)) {
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        assertThat(pod.getVolumes())
            .as(d.getMetadata().getName())
            .filteredOn(v -> v.getName().equals("objects"))
            .singleElement()
            .satisfies(
                v ->
                    assertThat(v.getPersistentVolumeClaim().getClaimName())
                        .isEqualTo(claim.getMetadata().getName()));
        assertThat(pod.getContainers().get(0).getVolumeMounts())
            .filteredOn(m -> m.getName().equals("objects"))
            .singleElement()
            .satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/data"));
      }
    } finally {
      Files.deleteIfExists(overlay.resolve("kustomization.yaml"));
      Files.deleteIfExists(overlay);
    }
  }

  @Test
  void workersHaveTimeToHandTheirTasksBackAndTheSmallHeapSettings() throws IOException {
    Deployment worker = named(prod, Deployment.class, "transfer-worker");
    PodSpec pod = worker.getSpec().getTemplate().getSpec();
    Container c = pod.getContainers().get(0);
    long shutdown =
        seconds(applicationProperties("worker-service").getProperty("quarkus.shutdown.timeout"));
    List<String> preStop = c.getLifecycle().getPreStop().getExec().getCommand();
    assertThat(preStop.get(0)).isEqualTo("sleep");
    long preStopSeconds = Long.parseLong(preStop.get(1));
    // preStop, then SIGTERM and the hand-back, then the JVM's exit: all inside the grace period.
    assertThat(pod.getTerminationGracePeriodSeconds())
        .isGreaterThanOrEqualTo(preStopSeconds + shutdown + 10);
    assertThat(env(c, "JAVA_TOOL_OPTIONS")).contains("-Xmn32m").contains("-XX:+UseSerialGC");
    assertThat(c.getEnv())
        .filteredOn(e -> e.getName().equals("TRANSFER_WORKER_ID"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.getValueFrom().getFieldRef().getFieldPath())
                    .isEqualTo("metadata.name"));
  }

  @Test
  void prodTopicsAreReplicatedAndTheScalerWatchesTheWorkersGroup() {
    SoftAssertions soft = new SoftAssertions();
    List<Crds.KafkaTopic> topics = of(prod, Crds.KafkaTopic.class);
    soft.assertThat(topics)
        .extracting(t -> t.spec().topicName())
        .containsExactlyInAnyOrder(Topics.TASKS, Topics.EVENTS, Topics.DEAD_LETTERS);
    for (Crds.KafkaTopic t : topics) {
      soft.assertThat(t.spec().replicas()).as(t.spec().topicName()).isEqualTo(3);
      soft.assertThat(t.spec().config())
          .as(t.spec().topicName())
          .containsEntry("min.insync.replicas", 2);
      soft.assertThat(t.getMetadata().getLabels())
          .containsEntry("strimzi.io/cluster", "transfer-kafka");
    }
    Crds.ScaledObject scaler = single(prod, Crds.ScaledObject.class);
    soft.assertThat(scaler.spec().scaleTargetRef().name()).isEqualTo("transfer-worker");
    Crds.Trigger kafka =
        scaler.spec().triggers().stream()
            .filter(t -> t.type().equals("kafka"))
            .findFirst()
            .orElseThrow();
    soft.assertThat(kafka.metadata())
        .containsEntry("consumerGroup", Topics.WORKER_GROUP)
        .containsEntry("topic", Topics.TASKS)
        .containsEntry(
            "bootstrapServers",
            single(prod, ConfigMap.class).getData().get("KAFKA_BOOTSTRAP_SERVERS"));
    int partitions =
        topics.stream()
            .filter(t -> t.spec().topicName().equals(Topics.TASKS))
            .findFirst()
            .orElseThrow()
            .spec()
            .partitions();
    soft.assertThat(scaler.spec().maxReplicaCount())
        .as("no more workers than partitions")
        .isLessThanOrEqualTo(partitions);
    soft.assertThat(scaler.spec().fallback().replicas())
        .isGreaterThanOrEqualTo(scaler.spec().minReplicaCount());
    // KEDA refuses a fallback beside a CPU or memory trigger.
    soft.assertThat(scaler.spec().triggers())
        .extracting(Crds.Trigger::type)
        .doesNotContain("cpu", "memory");
    // The autoscaler owns the workers' count: a replicas field would reset it at every apply.
    soft.assertThat(named(prod, Deployment.class, "transfer-worker").getSpec().getReplicas())
        .isNull();
    soft.assertAll();
  }

  @Test
  void theHpaComponentReplacesKedaWhereThereIsNone() throws Exception {
    Path overlay = Files.createTempDirectory(ROOT.resolve("k8s/overlays"), ".hpa-test-");
    try {
      Files.writeString(
          overlay.resolve("kustomization.yaml"),
          "resources: [../../base]\ncomponents: [../../components/hpa]\n");
      List<HasMetadata> objects = read(kustomize(ROOT.relativize(overlay).toString()));
      assertThat(of(objects, Crds.ScaledObject.class)).isEmpty();
      HorizontalPodAutoscaler hpa = single(objects, HorizontalPodAutoscaler.class);
      assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo("transfer-worker");
      assertThat(names(objects, Deployment.class))
          .contains(hpa.getSpec().getScaleTargetRef().getName());
    } finally {
      Files.deleteIfExists(overlay.resolve("kustomization.yaml"));
      Files.deleteIfExists(overlay);
    }
  }

  // ------------------------------------------------------------------ rendering and reading

  static String kustomize(String dir) throws Exception {
    // kubectl is on the machines this project is built on, and CI must run this test; elsewhere a
    // missing kubectl skips it with a reason rather than failing the build.
    boolean ci = "true".equals(System.getenv("CI"));
    if (!ci) {
      Assumptions.assumeTrue(
          TestFiles.onPath("kubectl"), "kubectl is not on the PATH (it renders k8s/)");
    }
    Process p =
        new ProcessBuilder("kubectl", "kustomize", ROOT.resolve(dir).toString())
            .redirectError(ProcessBuilder.Redirect.PIPE)
            .start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kubectl kustomize %s finished", dir).isTrue();
    assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, err).isZero();
    return new String(out, StandardCharsets.UTF_8);
  }

  private static final Map<String, Class<? extends HasMetadata>> KINDS =
      Map.ofEntries(
          Map.entry("ConfigMap", ConfigMap.class),
          Map.entry("PersistentVolumeClaim", PersistentVolumeClaim.class),
          Map.entry("Deployment", Deployment.class),
          Map.entry("Service", Service.class),
          Map.entry("PodDisruptionBudget", PodDisruptionBudget.class),
          Map.entry("HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
          Map.entry("KafkaTopic", Crds.KafkaTopic.class),
          Map.entry("ScaledObject", Crds.ScaledObject.class),
          Map.entry("KafkaUser", Crds.KafkaUser.class),
          Map.entry("TriggerAuthentication", Crds.TriggerAuthentication.class),
          Map.entry("NetworkPolicy", NetworkPolicy.class));

  static List<HasMetadata> read(String yaml) throws IOException {
    List<HasMetadata> objects = new ArrayList<>();
    ObjectMapper yamlMapper = new ObjectMapper(new YAMLFactory());
    try (var parser = yamlMapper.getFactory().createParser(yaml)) {
      for (JsonNode doc : (Iterable<JsonNode>) () -> readAll(yamlMapper, parser)) {
        String kind = doc.path("kind").asText();
        Class<? extends HasMetadata> type = KINDS.get(kind);
        assertThat(type).as("a typed model for kind %s", kind).isNotNull();
        HasMetadata object = MAPPER.treeToValue(doc, type);
        assertThat(unknownFields(object, ""))
            .as("%s %s: fields its model does not know", kind, object.getMetadata().getName())
            .isEmpty();
        objects.add(object);
      }
    }
    assertThat(objects).isNotEmpty();
    return objects;
  }

  private static java.util.Iterator<JsonNode> readAll(
      ObjectMapper mapper, com.fasterxml.jackson.core.JsonParser parser) {
    try {
      return mapper.readValues(parser, JsonNode.class);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * fabric8's models keep fields they do not know in {@code additionalProperties} instead of
   * failing; an unknown (misspelt, misplaced) field is found there.
   */
  static List<String> unknownFields(Object o, String path) {
    List<String> found = new ArrayList<>();
    if (o == null || !o.getClass().getName().startsWith("io.fabric8.")) {
      if (o instanceof Collection<?> c) {
        int i = 0;
        for (Object e : c) {
          found.addAll(unknownFields(e, path + "[" + i++ + "]"));
        }
      } else if (o instanceof Map<?, ?> m) {
        m.forEach((k, v) -> found.addAll(unknownFields(v, path + "." + k)));
      } else if (o instanceof Crds.Checked checked) {
        found.addAll(unknownFields(checked.metadata(), path + ".metadata"));
      }
      return found;
    }
    for (Method m : o.getClass().getMethods()) {
      if (m.getParameterCount() != 0
          || Modifier.isStatic(m.getModifiers())
          || !m.getName().startsWith("get")
          || m.getName().equals("getClass")) {
        continue;
      }
      Object value;
      try {
        value = m.invoke(o);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
      if (m.getName().equals("getAdditionalProperties")) {
        if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
          extra.keySet().forEach(k -> found.add(path + "." + k));
        }
      } else if (!(value instanceof String)
          && !(value instanceof Number)
          && !(value instanceof Boolean)) {
        found.addAll(unknownFields(value, path + "." + m.getName().substring(3)));
      }
    }
    return found;
  }

  // ------------------------------------------------------------------ the services' configuration

  /** The environment spellings of every configuration key the service reads. */
  static Set<String> environmentNames(String service) throws IOException {
    Set<String> keys = new HashSet<>(QUARKUS_KEYS);
    applicationProperties(service)
        .stringPropertyNames()
        .forEach(k -> keys.add(k.replaceFirst("^%[^.]+\\.", "")));
    for (Map.Entry<String, Class<?>> root : configMappings(service).entrySet()) {
      mappingKeys(root.getKey(), root.getValue(), keys);
    }
    // Every Kafka client of the services takes the standard client properties as kafka.<property>
    // (transfer.contracts.KafkaClientProperties): KAFKA_SECURITY_PROTOCOL and the like.
    Stream.of(
            ProducerConfig.configNames(),
            ConsumerConfig.configNames(),
            AdminClientConfig.configNames())
        .flatMap(Set::stream)
        .forEach(k -> keys.add("kafka." + k));
    Set<String> otel = new HashSet<>(otelSdkReads(service) ? OTEL_ENV : Set.of());
    // The AWS SDK's own settings, read by both services' S3 client (transfer.storage.s3).
    otel.addAll(AWS_ENV);
    // @ConfigProperty(name = "...") injections in the service's own sources.
    Pattern property = Pattern.compile("@ConfigProperty\\(\\s*name\\s*=\\s*\"([^\"]+)\"");
    try (Stream<Path> sources = Files.walk(ROOT.resolve(service).resolve("src/main/java"))) {
      for (Path source : sources.filter(p -> p.toString().endsWith(".java")).toList()) {
        Matcher m = property.matcher(Files.readString(source));
        while (m.find()) {
          keys.add(m.group(1));
        }
      }
    }
    Set<String> names = new HashSet<>(otel);
    for (String key : keys) {
      names.add(key.replaceAll("[^A-Za-z0-9]", "_").toUpperCase(Locale.ROOT));
    }
    return names;
  }

  /** Whether the service's packaged application holds the SDK's autoconfiguration (OTEL_*). */
  private static boolean otelSdkReads(String service) throws IOException {
    try (Stream<Path> jars = Files.walk(ROOT.resolve(service).resolve("target/quarkus-app/lib"))) {
      return jars.anyMatch(
          p ->
              p.getFileName()
                  .toString()
                  .startsWith("io.opentelemetry.opentelemetry-sdk-extension-autoconfigure-"));
    }
  }

  /**
   * The service's {@code @ConfigMapping} interfaces and their prefixes, found in its packaged
   * application ({@code target/quarkus-app}, with its dependencies, so that every type and
   * annotation of a mapping loads).
   */
  private static Map<String, Class<?>> configMappings(String service) throws IOException {
    Path app = ROOT.resolve(service).resolve("target/quarkus-app");
    List<URL> urls = new ArrayList<>();
    Path appJar;
    try (Stream<Path> jars = Files.walk(app)) {
      for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).toList()) {
        urls.add(jar.toUri().toURL());
      }
    }
    try (Stream<Path> own = Files.list(app.resolve("app"))) {
      appJar = own.filter(p -> p.toString().endsWith(".jar")).findFirst().orElseThrow();
    }
    Map<String, Class<?>> roots = new LinkedHashMap<>();
    // Not closed: the classes must stay usable after this method returns (a test JVM's lifetime).
    URLClassLoader loader =
        new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    try (JarFile jar = new JarFile(appJar.toFile())) {
      for (JarEntry entry : jar.stream().toList()) {
        String name = entry.getName();
        if (!name.startsWith("transfer/") || !name.endsWith(".class")) {
          continue;
        }
        Class<?> type;
        try {
          type = Class.forName(name.replace('/', '.').replace(".class", ""), false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
          continue;
        }
        for (Annotation a : type.getAnnotations()) {
          if (a.annotationType().getName().equals("io.smallrye.config.ConfigMapping")) {
            roots.put((String) annotationValue(a, "prefix"), type);
          }
        }
      }
    }
    assertThat(roots).as("%s has configuration mappings", service).isNotEmpty();
    return roots;
  }

  private static Object annotationValue(Annotation a, String element) {
    try {
      return a.annotationType().getMethod(element).invoke(a);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * SmallRye's mapping names: method {@code leaseTtl} of group {@code worker} -> worker.lease-ttl,
   * or the name of its {@code @WithName}.
   */
  private static void mappingKeys(String prefix, Class<?> type, Set<String> keys) {
    for (Method m : type.getMethods()) {
      if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.isDefault()) {
        continue;
      }
      String name = m.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
      for (Annotation a : m.getAnnotations()) {
        if (a.annotationType().getName().equals("io.smallrye.config.WithName")) {
          name = (String) annotationValue(a, "value");
        }
      }
      String key = prefix + "." + name;
      Class<?> returns = m.getReturnType();
      if (returns.isInterface() && returns.getName().startsWith("transfer.")) {
        mappingKeys(key, returns, keys);
      } else {
        keys.add(key);
      }
    }
  }

  private static Properties applicationProperties(String service) throws IOException {
    Properties p = new Properties();
    try (var in =
        Files.newBufferedReader(
            ROOT.resolve(service).resolve("src/main/resources/application.properties"))) {
      p.load(in);
    }
    return p;
  }

  private static String projectVersion() throws IOException {
    Matcher m =
        Pattern.compile("<artifactId>transfer-cluster</artifactId>\\s*<version>([^<]+)</version>")
            .matcher(Files.readString(ROOT.resolve("pom.xml")));
    assertThat(m.find()).isTrue();
    return m.group(1);
  }

  // ------------------------------------------------------------------ helpers

  private static String serviceOf(Deployment d) {
    return switch (d.getMetadata().getName()) {
      case "transfer-api" -> "api-service";
      case "transfer-worker" -> "worker-service";
      default -> throw new AssertionError("unexpected Deployment " + d.getMetadata().getName());
    };
  }

  private static Integer portOf(Container c, IntOrString port) {
    if (port.getIntVal() != null) {
      return c.getPorts().stream()
          .map(ContainerPort::getContainerPort)
          .filter(port.getIntVal()::equals)
          .findFirst()
          .orElse(null);
    }
    return c.getPorts().stream()
        .filter(p -> port.getStrVal().equals(p.getName()))
        .map(ContainerPort::getContainerPort)
        .findFirst()
        .orElse(null);
  }

  static String env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .filter(Objects::nonNull)
        .findFirst()
        .orElse("");
  }

  private static long seconds(String duration) {
    assertThat(duration).matches("\\d+s");
    return Long.parseLong(duration.substring(0, duration.length() - 1));
  }

  static <T> List<T> of(List<HasMetadata> objects, Class<T> type) {
    return objects.stream().filter(type::isInstance).map(type::cast).toList();
  }

  static <T extends HasMetadata> T single(List<HasMetadata> objects, Class<T> type) {
    List<T> found = of(objects, type);
    assertThat(found).as("one %s", type.getSimpleName()).hasSize(1);
    return found.get(0);
  }

  static <T extends HasMetadata> T named(List<HasMetadata> objects, Class<T> type, String name) {
    return of(objects, type).stream()
        .filter(o -> o.getMetadata().getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private static List<String> names(List<HasMetadata> objects, Class<? extends HasMetadata> type) {
    return of(objects, type).stream().map(o -> o.getMetadata().getName()).toList();
  }
}
