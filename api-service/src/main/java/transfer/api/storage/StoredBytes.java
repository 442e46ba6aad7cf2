package transfer.api.storage;

import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Optional;
import transfer.ledger.Purging;

/**
 * The api-service's side of stored bytes, whichever backend {@code transfer.storage.url} chose
 * ({@link FileBytes}, {@link S3Bytes}): find what a row names, store a staged body, delete.
 */
public interface StoredBytes {
  /** The body a recorded location names, if it is one of ours and still there. */
  Optional<StoredBody> existing(String location);

  /**
   * Stores a verified body, forced to the local file {@code staged}, as a new object of the
   * session; answers its location once a crash can no longer lose it. {@code staged} is moved or
   * deleted.
   */
  String store(Path staged, String tenantId, String sessionId) throws IOException;

  /** Deletes the body of a recorded location; anything not ours is left alone. */
  void delete(String location);

  /** Deletes what a removed task's attempts left in storage (kept for its resume data). */
  void deleteLeftovers(Purging.Purged.Left task);

  /**
   * Deletes temporary objects nothing will finish or resume: untouched since {@code idleBefore},
   * and a staged object's body (its PUT's api-service died) or a download attempt's whose task no
   * longer exists ({@code existingTasks} answers which of a set of task ids do). Answers how many
   * it deleted. A backend without such files answers 0.
   */
  int sweepOrphans(
      java.time.Instant idleBefore,
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>>
          existingTasks);

  /** A link that reads the body without credentials for a while; empty where there is none. */
  Optional<URL> link(String location);
}
