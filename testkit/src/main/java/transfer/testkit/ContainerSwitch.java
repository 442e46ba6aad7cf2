package transfer.testkit;

import com.github.dockerjava.api.DockerClient;
import java.io.IOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.testcontainers.containers.GenericContainer;

/**
 * A Testcontainers container stopped and started again as the same container: its data (the image's
 * volumes) and its host ports stay, since {@link TestInfra} binds them to fixed ports (an engine
 * may give a restarted container other ports when they were left to it).
 */
public final class ContainerSwitch implements Switchable {
  private static final int STOP_SECONDS = 30;
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);

  private final GenericContainer<?> container;
  private final String what;
  private final BooleanSupplier serves;
  private final String[] shutdownCommand;

  /**
   * @param serves whether the service answers its clients (a JDBC query, a broker's metadata), the
   *     readiness after a start
   * @param shutdownCommand run in the container to begin a clean shutdown, for a service that is
   *     not the container's first process (which alone receives the engine's stop signal); empty
   *     when it is
   */
  public ContainerSwitch(
      GenericContainer<?> container,
      String what,
      BooleanSupplier serves,
      String... shutdownCommand) {
    this.container = container;
    this.what = what;
    this.serves = serves;
    this.shutdownCommand = shutdownCommand;
  }

  /**
   * A switch for a Kafka container started by Testcontainers' {@code KafkaContainer}: its broker
   * runs under {@code sh -c}, which ignores the engine's SIGTERM, so the stop sends SIGTERM to the
   * broker's JVM itself. A broker killed after the engine's timeout could not register again for a
   * while (its old registration lives until the session timeout); one stopped cleanly can.
   */
  public static ContainerSwitch kafka(GenericContainer<?> container, BooleanSupplier serves) {
    return new ContainerSwitch(
        container,
        "the Kafka",
        serves,
        "bash",
        "-c",
        "for p in /proc/[0-9]*; do [[ \"$(readlink $p/exe)\" == */java ]]"
            + " && kill -TERM ${p#/proc/}; done; true");
  }

  private DockerClient docker() {
    return container.getDockerClient();
  }

  @Override
  public boolean isRunning() {
    Boolean running =
        docker().inspectContainerCmd(container.getContainerId()).exec().getState().getRunning();
    return Boolean.TRUE.equals(running);
  }

  @Override
  public void stop() {
    if (shutdownCommand.length > 0) {
      try {
        container.execInContainer(shutdownCommand);
        Awaitility.await(what + " container stops after its shutdown began")
            .atMost(Duration.ofSeconds(STOP_SECONDS))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> !isRunning());
      } catch (IOException | org.awaitility.core.ConditionTimeoutException e) {
        // the engine's stop below ends it, with a kill after its timeout
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    if (isRunning()) {
      docker().stopContainerCmd(container.getContainerId()).withTimeout(STOP_SECONDS).exec();
    }
  }

  @Override
  public void start() {
    if (isRunning()) {
      return;
    }
    docker().startContainerCmd(container.getContainerId()).exec();
    Awaitility.await(what + " container serves after its start")
        .atMost(READY_TIMEOUT)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(serves::getAsBoolean);
  }
}
