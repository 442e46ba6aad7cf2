package transfer.client;

/**
 * Progress of a body the client itself sends or receives (an object upload, a content download),
 * called as bytes move, on the thread that moves them; {@code total} is -1 when unknown.
 */
@FunctionalInterface
public interface ProgressListener {
  ProgressListener NONE = (done, total) -> {};

  void progress(long done, long total);
}
