package transfer.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.jboss.logging.Logger;

/**
 * The stored bytes of both services, on the {@link StorageLayout}: temporary objects, the move of a
 * complete body to its final name, and deletion. A body becomes content in two durable steps, each
 * finished before the ledger records the file: its bytes are forced ({@link #force}, by whoever
 * wrote them), then it is moved to its final name and that name's directory is synced ({@link
 * #publish}). After a machine crash a file the ledger names is therefore there, whole; one it does
 * not name may be left over, and is never served.
 */
public final class StoredFiles {
  private static final Logger LOG = Logger.getLogger(StoredFiles.class);

  private final StorageLayout layout;
  private final Durability durability;

  public StoredFiles(StorageLayout layout, Durability durability) {
    this.layout = layout;
    this.durability = durability;
  }

  public StoredFiles(Path root) {
    this(new StorageLayout(root), Durability.SYSTEM);
  }

  public StorageLayout layout() {
    return layout;
  }

  public Durability durability() {
    return durability;
  }

  /**
   * The temporary object of attempt {@code epoch} of download {@code taskId}, its directory
   * created.
   */
  public Path temporary(String taskId, long epoch) throws IOException {
    ensureDirectory(layout.partialDirectory());
    return layout.temporary(taskId, epoch);
  }

  /** A fresh temporary file for a staged object's body, its directory created. */
  public Path newStagingFile() throws IOException {
    ensureDirectory(layout.partialDirectory());
    return layout.newStagingFile();
  }

  /** Forces a written body to the device: the first step of making it content. */
  public void force(FileChannel channel, Path file) throws IOException {
    durability.force(channel, file);
  }

  /** Publishes a verified, forced download as the final file of its task and attempt. */
  public Path publishDownload(
      Path temporary, String tenantId, String sessionId, String taskId, long epoch)
      throws IOException {
    return publish(temporary, layout.download(tenantId, sessionId, taskId, epoch));
  }

  /**
   * Moves a verified, forced download to the final name of its task and attempt, without syncing
   * the name: the caller syncs {@link Moved#directories()} ({@link #syncDirectory}) before the
   * ledger records it, so that the downloads of one group commit share each directory's sync.
   */
  public Moved moveDownload(
      Path temporary, String tenantId, String sessionId, String taskId, long epoch)
      throws IOException {
    return move(temporary, layout.download(tenantId, sessionId, taskId, epoch));
  }

  /**
   * Moves a verified, forced download to the destination its task named, replacing the file there;
   * the caller syncs the directories as {@link #moveDownload}'s.
   */
  public Moved moveNamed(Path temporary, String tenantId, String key) throws IOException {
    return move(temporary, layout.named(tenantId, key));
  }

  /** Publishes a verified, forced body as a staged object under a fresh name. */
  public Path publishObject(Path staged, String tenantId, String sessionId) throws IOException {
    return publish(staged, layout.newObject(tenantId, sessionId));
  }

  /**
   * A body moved to its final name, and the directories to sync, deepest first, before the name
   * survives a crash: the file's own, then the parent of each directory the move had to create.
   */
  public record Moved(Path file, List<Path> directories) {
    /** The location the ledger records for the file. */
    public String location() {
      return StorageLayout.location(file);
    }

    /** As the ledger writer takes it. */
    public Stored stored() {
      return new Stored(location(), directories);
    }
  }

  /**
   * Moves {@code from} (already forced) to {@code target} atomically, so that the name never shows
   * a partial file, and syncs the target's directory, and the parent of every directory this had to
   * create, so that the name survives a crash. Answers {@code target}.
   */
  Path publish(Path from, Path target) throws IOException {
    Moved moved = move(from, target);
    for (Path d : moved.directories()) {
      syncDirectory(d);
    }
    return target;
  }

  /** Moves {@code from} to {@code target} atomically; the directories to sync are the answer's. */
  private Moved move(Path from, Path target) throws IOException {
    Path dir = target.getParent();
    List<Path> created = new ArrayList<>();
    for (Path d = dir; d != null && !Files.isDirectory(d); d = d.getParent()) {
      created.add(d);
    }
    if (!created.isEmpty()) {
      Files.createDirectories(dir);
    }
    Files.move(from, target, StandardCopyOption.ATOMIC_MOVE);
    List<Path> toSync = new ArrayList<>();
    toSync.add(dir);
    // Deepest first: each new directory's own entry lives in its parent.
    for (Path d : created) {
      toSync.add(d.getParent());
    }
    return new Moved(target, List.copyOf(toSync));
  }

  /**
   * Creates {@code dir} and its parents unless it is a directory already. Not {@link
   * Files#createDirectories} alone: for a directory that exists it throws and catches an exception,
   * with its stack trace: twice per download, about 1 % of the services' CPU in a profile of
   * bench/small-files.
   */
  private static void ensureDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
    }
  }

  /** Makes the names moved into {@code dir} durable: the second step of making a body content. */
  public void syncDirectory(Path dir) throws IOException {
    durability.syncDirectory(dir);
  }

  /** The file of a recorded location, if it is one of ours and still exists. */
  public Optional<Path> existing(String location) {
    return layout.resolve(location).filter(Files::isRegularFile);
  }

  /**
   * Deletes the file of a recorded location; anything outside the root is left alone. False when it
   * could not be deleted (said in the log).
   */
  public boolean delete(String location) {
    return layout.resolve(location).map(StoredFiles::deleteQuietly).orElse(true);
  }

  /**
   * Attempts up to which {@link #deleteTemporaries} deletes by name (one unlink per earlier
   * attempt, which costs nothing for a first attempt) rather than by listing the directory of
   * temporary objects, whose length grows with everything in flight.
   */
  static final long DELETE_BY_NAME_UP_TO = 64;

  /**
   * Deletes the temporary objects of {@code taskId} of attempts before {@code beforeEpoch} (all of
   * them with {@code Long.MAX_VALUE}). Epochs start at 1, so a worker's first attempt has none to
   * delete; up to {@link #DELETE_BY_NAME_UP_TO} they are deleted by name, beyond by a listing.
   * Orphans left by a failure here are harmless: a temporary object never becomes content but by a
   * move.
   */
  public void deleteTemporaries(String taskId, long beforeEpoch) {
    if (beforeEpoch <= DELETE_BY_NAME_UP_TO) {
      for (long epoch = 1; epoch < beforeEpoch; epoch++) {
        deleteQuietly(layout.temporary(taskId, epoch));
      }
      return;
    }
    Path dir = layout.partialDirectory();
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> all = Files.newDirectoryStream(dir, layout.temporaryGlob(taskId))) {
      for (Path p : all) {
        OptionalLong epoch = layout.temporaryEpoch(taskId, p);
        if (epoch.isPresent() && epoch.getAsLong() < beforeEpoch) {
          deleteQuietly(p);
        }
      }
    } catch (IOException e) {
      LOG.debugf("cannot list the temporary objects of task %s: %s", taskId, e.getMessage());
    }
  }

  /**
   * Deletes the temporary objects that nothing will finish or resume: those not modified since
   * {@code idleBefore} that are a staged object's body (the api-service that received it stopped
   * mid-body) or a download attempt's whose task {@code existingTasks} does not know (it answers
   * which of a set of task ids exist). A task's that still exists is kept: it may resume from it,
   * and retention deletes it with the task. Answers how many it deleted.
   */
  public int sweepOrphans(
      java.time.Instant idleBefore,
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>>
          existingTasks) {
    Path dir = layout.partialDirectory();
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    java.util.List<Path> objects = new java.util.ArrayList<>();
    java.util.Map<String, java.util.List<Path>> byTask = new java.util.HashMap<>();
    try (DirectoryStream<Path> all = Files.newDirectoryStream(dir)) {
      for (Path p : all) {
        if (!Files.isRegularFile(p)
            || !Files.getLastModifiedTime(p).toInstant().isBefore(idleBefore)) {
          continue;
        }
        StorageLayout.Temporary kind = layout.temporaryKind(p).orElse(null);
        if (kind instanceof StorageLayout.Temporary.Staging) {
          objects.add(p);
        } else if (kind instanceof StorageLayout.Temporary.OfTask t) {
          byTask.computeIfAbsent(t.taskId(), k -> new java.util.ArrayList<>()).add(p);
        }
      }
    } catch (IOException e) {
      LOG.warnf("cannot list the temporary objects in %s: %s; the next pass tries again", dir, e);
      return 0;
    }
    java.util.Set<String> live =
        byTask.isEmpty() ? java.util.Set.of() : existingTasks.apply(byTask.keySet());
    int deleted = 0;
    for (Path p : objects) {
      deleted += deleteQuietly(p) ? 1 : 0;
    }
    for (java.util.Map.Entry<String, java.util.List<Path>> e : byTask.entrySet()) {
      if (!live.contains(e.getKey())) {
        for (Path p : e.getValue()) {
          deleted += deleteQuietly(p) ? 1 : 0;
        }
      }
    }
    return deleted;
  }

  /**
   * Deletes {@code file} if it exists; false (and a warning) when it cannot. A file left behind is
   * never served, and retention may remove it.
   */
  public static boolean deleteQuietly(Path file) {
    if (file == null) {
      return true;
    }
    try {
      Files.deleteIfExists(file);
      return true;
    } catch (IOException e) {
      LOG.warnf(
          "could not delete %s (%s); it is never served, and retention may remove it", file, e);
      return false;
    }
  }
}
