package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import transfer.testkit.TestInfra;

/**
 * The images deploy/images/build makes carry the standard OCI labels, so registries, scanners and
 * {@code docker inspect} say what each is, which version, and from which commit. Runs where a
 * container engine answers and has the images (CI builds them); skipped elsewhere.
 */
class ImageLabelsIT {
  private static final String VERSION =
      System.getProperty("transfer.project.version", "0.1.0-SNAPSHOT");

  @Test
  void theClustersImagesCarryTheOciLabels() {
    Assumptions.assumeTrue(
        "containers".equals(TestInfra.shared().mode()),
        "needs a container engine with the images of deploy/images/build (TestInfra is embedded)");
    List<String> images =
        List.of(
            "localhost/transfer-api-service:" + VERSION,
            "localhost/transfer-worker-service:" + VERSION,
            "localhost/transfer-kafka:4.2.1",
            "localhost/transfer-postgres:15");
    for (String image : images) {
      Assumptions.assumeTrue(
          TestInfra.imagePresent(image), image + " is missing: run deploy/images/build");
    }
    for (String image : images) {
      Map<String, String> labels =
          DockerClientFactory.instance()
              .client()
              .inspectImageCmd(image)
              .exec()
              .getConfig()
              .getLabels();
      String name = image.substring(image.lastIndexOf('/') + 1, image.lastIndexOf(':'));
      assertThat(labels)
          .as(image)
          .containsEntry("org.opencontainers.image.title", name)
          .containsEntry(
              "org.opencontainers.image.version", image.substring(image.lastIndexOf(':') + 1))
          .containsKeys(
              "org.opencontainers.image.description",
              "org.opencontainers.image.created",
              "org.opencontainers.image.revision");
      assertThat(labels.get("org.opencontainers.image.revision")).as(image).matches("[0-9a-f]{40}");
    }
  }
}
