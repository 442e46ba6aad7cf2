package transfer.deploy.k8s;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.List;
import java.util.Map;

/**
 * Typed models of the custom resources in k8s/ (Strimzi's KafkaTopic and KafkaUser, KEDA's
 * ScaledObject and TriggerAuthentication), with just the fields these manifests may use: read with
 * FAIL_ON_UNKNOWN_PROPERTIES, a misspelt or misplaced field fails. (fabric8 has no models for
 * them.)
 */
final class Crds {
  private Crds() {}

  /** Resources whose metadata (fabric8's ObjectMeta) {@link ManifestsTest} checks as well. */
  interface Checked {
    ObjectMeta metadata();
  }

  abstract static class Resource implements HasMetadata, Checked {
    private final String apiVersion;
    private final String kind;
    private ObjectMeta metadata;

    Resource(String apiVersion, String kind, ObjectMeta metadata, String expectedApiVersion) {
      if (!expectedApiVersion.equals(apiVersion)) {
        throw new IllegalArgumentException(
            kind + ": apiVersion " + apiVersion + ", expected " + expectedApiVersion);
      }
      this.apiVersion = apiVersion;
      this.kind = kind;
      this.metadata = metadata;
    }

    @Override
    public ObjectMeta getMetadata() {
      return metadata;
    }

    @Override
    public ObjectMeta metadata() {
      return metadata;
    }

    @Override
    public void setMetadata(ObjectMeta metadata) {
      this.metadata = metadata;
    }

    @Override
    public String getApiVersion() {
      return apiVersion;
    }

    @Override
    public void setApiVersion(String version) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String getKind() {
      return kind;
    }
  }

  static final class KafkaTopic extends Resource {
    private final TopicSpec spec;

    KafkaTopic(
        @JsonProperty(value = "apiVersion", required = true) String apiVersion,
        @JsonProperty(value = "kind", required = true) String kind,
        @JsonProperty(value = "metadata", required = true) ObjectMeta metadata,
        @JsonProperty(value = "spec", required = true) TopicSpec spec) {
      super(apiVersion, kind, metadata, "kafka.strimzi.io/v1");
      this.spec = spec;
    }

    TopicSpec spec() {
      return spec;
    }
  }

  record TopicSpec(String topicName, int partitions, int replicas, Map<String, Object> config) {}

  static final class ScaledObject extends Resource {
    private final ScaledSpec spec;

    ScaledObject(
        @JsonProperty(value = "apiVersion", required = true) String apiVersion,
        @JsonProperty(value = "kind", required = true) String kind,
        @JsonProperty(value = "metadata", required = true) ObjectMeta metadata,
        @JsonProperty(value = "spec", required = true) ScaledSpec spec) {
      super(apiVersion, kind, metadata, "keda.sh/v1alpha1");
      this.spec = spec;
    }

    ScaledSpec spec() {
      return spec;
    }
  }

  record ScaledSpec(
      TargetRef scaleTargetRef,
      int minReplicaCount,
      int maxReplicaCount,
      int pollingInterval,
      int cooldownPeriod,
      Fallback fallback,
      List<Trigger> triggers) {}

  record TargetRef(String name) {}

  record Fallback(int failureThreshold, int replicas) {}

  record Trigger(
      String type, String metricType, Map<String, String> metadata, AuthRef authenticationRef) {}

  record AuthRef(String name) {}

  static final class KafkaUser extends Resource {
    private final UserSpec spec;

    KafkaUser(
        @JsonProperty(value = "apiVersion", required = true) String apiVersion,
        @JsonProperty(value = "kind", required = true) String kind,
        @JsonProperty(value = "metadata", required = true) ObjectMeta metadata,
        @JsonProperty(value = "spec", required = true) UserSpec spec) {
      super(apiVersion, kind, metadata, "kafka.strimzi.io/v1");
      this.spec = spec;
    }

    UserSpec spec() {
      return spec;
    }
  }

  record UserSpec(Authentication authentication, Authorization authorization) {}

  record Authentication(String type) {}

  record Authorization(String type, List<Acl> acls) {}

  record Acl(AclResource resource, List<String> operations, String host) {}

  record AclResource(String type, String name, String patternType) {}

  static final class TriggerAuthentication extends Resource {
    private final TriggerAuthSpec spec;

    TriggerAuthentication(
        @JsonProperty(value = "apiVersion", required = true) String apiVersion,
        @JsonProperty(value = "kind", required = true) String kind,
        @JsonProperty(value = "metadata", required = true) ObjectMeta metadata,
        @JsonProperty(value = "spec", required = true) TriggerAuthSpec spec) {
      super(apiVersion, kind, metadata, "keda.sh/v1alpha1");
      this.spec = spec;
    }

    TriggerAuthSpec spec() {
      return spec;
    }
  }

  record TriggerAuthSpec(List<SecretTarget> secretTargetRef) {}

  record SecretTarget(String parameter, String name, String key) {}
}
