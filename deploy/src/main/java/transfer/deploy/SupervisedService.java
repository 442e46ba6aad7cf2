package transfer.deploy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One service of the local cluster (the api or a worker) that is started again when its process
 * exits while the cluster runs, on the same port and with the same settings.
 *
 * <p>A process that keeps dying (a bug, a broken configuration) is restarted at most once per
 * {@link #MIN_RESTART_INTERVAL}, so it neither burns the CPU nor floods the terminal.
 */
final class SupervisedService {

  static final Duration MIN_RESTART_INTERVAL = Duration.ofSeconds(5);

  /** Parameters of one service; {@code env} is added to the launcher's own environment. */
  record Spec(
      String name,
      Path jar,
      int httpPort,
      Map<String, String> env,
      List<String> jvmArgs,
      Path logFile,
      Duration readyTimeout,
      Duration stopGrace) {}

  private final Spec spec;
  private final ScheduledExecutorService scheduler;

  // Guarded by this.
  private ServiceProcess current;
  private long lastStartNanos;
  private boolean supervising;
  private boolean stopped;

  SupervisedService(Spec spec, ScheduledExecutorService scheduler) {
    this.spec = spec;
    this.scheduler = scheduler;
  }

  String name() {
    return spec.name();
  }

  int httpPort() {
    return spec.httpPort();
  }

  synchronized ServiceProcess current() {
    return current;
  }

  /** Starts the process; returns without waiting for it to be ready. */
  synchronized ServiceProcess start() {
    if (stopped) {
      throw new IllegalStateException(spec.name() + " is stopped");
    }
    lastStartNanos = System.nanoTime();
    ServiceProcess process =
        ServiceProcess.start(spec.name(), spec.jar(), spec.env(), spec.jvmArgs(), spec.logFile());
    current = process;
    process.onExit().thenRun(() -> exited(process));
    return process;
  }

  void awaitReady() {
    current().awaitReady(spec.httpPort(), spec.readyTimeout());
  }

  /**
   * From now on an exit of the process means a restart. Not from the first start: a service that
   * cannot come up at all is a broken build or configuration, which the launcher reports and stops
   * on rather than retrying forever.
   */
  void supervise() {
    ServiceProcess process;
    synchronized (this) {
      supervising = true;
      process = current;
    }
    if (process != null && !process.isAlive()) {
      exited(process);
    }
  }

  /** Stops the process (SIGTERM, then SIGKILL after the grace period) and restarts it no more. */
  void stop() {
    ServiceProcess process;
    synchronized (this) {
      stopped = true;
      process = current;
    }
    if (process != null) {
      process.stop(spec.stopGrace());
    }
  }

  private void exited(ServiceProcess process) {
    long delayNanos;
    synchronized (this) {
      if (stopped || !supervising || process != current) {
        return;
      }
      // Mark it handled so that supervise() and onExit cannot both restart it.
      current = null;
      delayNanos = Math.max(0, lastStartNanos + MIN_RESTART_INTERVAL.toNanos() - System.nanoTime());
    }
    String when =
        delayNanos == 0
            ? ""
            : " in %d s (it keeps exiting; see %s)"
                .formatted(
                    Math.max(1, TimeUnit.NANOSECONDS.toSeconds(delayNanos + 999_999_999)),
                    spec.logFile());
    LocalCluster.say(
        "%s (pid %d) exited with code %d; starting a new one%s",
        spec.name(), process.pid(), process.exitCode(), when);
    scheduler.schedule(this::restart, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void restart() {
    ServiceProcess process;
    synchronized (this) {
      if (stopped) {
        return;
      }
      try {
        process = start();
      } catch (RuntimeException e) {
        // For example the jar is being rebuilt right now; try again later.
        LocalCluster.say(
            "%s could not be started (%s); trying again in %d s",
            spec.name(), e.getMessage(), MIN_RESTART_INTERVAL.toSeconds());
        lastStartNanos = System.nanoTime();
        scheduler.schedule(this::restart, MIN_RESTART_INTERVAL.toNanos(), TimeUnit.NANOSECONDS);
        return;
      }
    }
    try {
      process.awaitReady(spec.httpPort(), spec.readyTimeout());
      LocalCluster.say("%s is ready again (pid %d)", spec.name(), process.pid());
    } catch (IllegalStateException e) {
      synchronized (this) {
        if (stopped) {
          return;
        }
      }
      if (process.isAlive()) {
        LocalCluster.say(
            "%s (pid %d) is not ready after %d s; see %s",
            spec.name(), process.pid(), spec.readyTimeout().toSeconds(), spec.logFile());
      }
      // If it exited, exited() has already reported it and scheduled the next attempt.
    }
  }
}
