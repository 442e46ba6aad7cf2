package transfer.testkit;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import transfer.storage.Durability;

/**
 * A {@link Durability} that does the real {@code fsync} and records each call in order, with what
 * an observer saw at that moment (say, the task's state in the ledger): a test of "forced and
 * synced before the ledger records it" reads the record, and fails when either call is missing.
 */
public final class RecordingDurability implements Durability {
  /** What was made durable: a file's bytes or a directory's entries. */
  public enum Kind {
    FORCE,
    DIRECTORY
  }

  /**
   * One call: its kind, the file or directory, the names in a synced directory at that moment, and
   * what the observer answered just before the call returned.
   */
  public record Sync(Kind kind, Path path, List<String> entries, Object observed) {}

  private final List<Sync> syncs = new CopyOnWriteArrayList<>();
  private volatile Function<Path, Object> observer = p -> null;

  /** Asks {@code observer} at every call (on the calling thread) and keeps its answer. */
  public RecordingDurability observe(Function<Path, Object> observer) {
    this.observer = observer;
    return this;
  }

  @Override
  public void force(FileChannel channel, Path file) throws IOException {
    Durability.SYSTEM.force(channel, file);
    syncs.add(new Sync(Kind.FORCE, file, List.of(), observer.apply(file)));
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    Durability.SYSTEM.syncDirectory(dir);
    List<String> entries;
    try (var names = Files.list(dir)) {
      entries = names.map(p -> p.getFileName().toString()).sorted().toList();
    }
    syncs.add(new Sync(Kind.DIRECTORY, dir, entries, observer.apply(dir)));
  }

  /** Every call so far, in order. */
  public List<Sync> syncs() {
    return List.copyOf(syncs);
  }

  /** The calls on {@code path}, in order. */
  public List<Sync> of(Path path) {
    Path p = path.toAbsolutePath().normalize();
    return syncs.stream().filter(s -> s.path().toAbsolutePath().normalize().equals(p)).toList();
  }

  public void clear() {
    syncs.clear();
  }
}
