package transfer.worker.attempt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real, small ext4 volume for storage faults: an image file mounted through a loop device (root
 * only). It fills up like a real disk ({@code ENOSPC}), and {@link #freeze} makes every write to it
 * block until {@link #thaw} ({@code fsfreeze}), as a hung network volume does. Where the kernel
 * refuses the mount (no root, no loop device), the test that asked for it is skipped with why.
 */
final class LoopVolume implements AutoCloseable {
  private final Path image;
  private final Path mountPoint;
  private volatile boolean frozen;
  private final Thread onExit;

  private LoopVolume(Path image, Path mountPoint) {
    this.image = image;
    this.mountPoint = mountPoint;
    // A JVM that dies with the volume frozen would leave every later write to it hanging.
    this.onExit = new Thread(this::closeQuietly, "loop-volume-cleanup");
    Runtime.getRuntime().addShutdownHook(onExit);
  }

  /** A fresh ext4 volume of {@code mib} MiB, mounted on a new directory. */
  static LoopVolume mount(int mib) throws Exception {
    Path dir = Files.createTempDirectory("transfer-volume-");
    Path image = dir.resolve("volume.img");
    Path mountPoint = Files.createDirectory(dir.resolve("mnt"));
    try (var f =
        java.nio.channels.FileChannel.open(
            image,
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.WRITE)) {
      f.truncate(0);
      f.write(java.nio.ByteBuffer.wrap(new byte[1]), (long) mib * 1024 * 1024 - 1);
    }
    run("mkfs.ext4", "-q", "-F", image.toString());
    String refused = tryRun("mount", "-o", "loop", image.toString(), mountPoint.toString());
    Assumptions.assumeTrue(
        refused == null,
        "cannot mount a loop volume here (root and a loop device needed): " + refused);
    return new LoopVolume(image, mountPoint);
  }

  Path root() {
    return mountPoint;
  }

  /** Every write to the volume blocks from now on, until {@link #thaw}. */
  void freeze() throws Exception {
    run("fsfreeze", "-f", mountPoint.toString());
    frozen = true;
  }

  void thaw() throws Exception {
    if (frozen) {
      run("fsfreeze", "-u", mountPoint.toString());
      frozen = false;
    }
  }

  @Override
  public void close() throws Exception {
    thaw();
    run("umount", mountPoint.toString());
    Files.deleteIfExists(image);
    Files.deleteIfExists(mountPoint);
    Files.deleteIfExists(image.getParent());
    try {
      Runtime.getRuntime().removeShutdownHook(onExit);
    } catch (IllegalStateException exiting) {
      // the hook is running
    }
  }

  private void closeQuietly() {
    try {
      thaw();
      tryRun("umount", "-l", mountPoint.toString());
    } catch (Exception e) {
      // best effort at exit
    }
  }

  private static void run(String... command) throws Exception {
    String failed = tryRun(command);
    if (failed != null) {
      throw new IOException(String.join(" ", command) + ": " + failed);
    }
  }

  /** Null when {@code command} succeeded, else its exit code and output. */
  private static String tryRun(String... command) throws Exception {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return "did not finish in 60 s";
    }
    return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + out;
  }
}
