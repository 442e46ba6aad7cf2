package transfer.worker.storage;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.TreeMap;
import transfer.storage.s3.S3Checkpoint;

/**
 * The parts of one multipart upload that S3 has ({@link S3PartWriter}), and the checkpoints they
 * make. Parts may finish out of order when several upload at once: the body is durable up to the
 * end of the parts S3 has without a gap, and only there, at the end of a part whose digest state
 * was saved, is a checkpoint. Used on the writer's context only.
 */
final class UploadedParts {
  private static final int STATES_KEPT = 16;

  private final String key;
  private final long partSize;

  /** The ETags of the parts S3 has, in order without a gap. */
  private final List<String> etags;

  /** Parts S3 has that come after a gap (a part still uploading), by part number. */
  private final TreeMap<Integer, Uploaded> afterGap = new TreeMap<>();

  /** Checkpoint states by the durable byte count they describe (the last few). */
  private final LinkedHashMap<Long, String> states = new LinkedHashMap<>();

  private long durable;

  private record Uploaded(SpooledPart part, String etag) {}

  /**
   * @param etags the parts an upload being continued has, before {@code from}
   * @param from the bytes those parts hold
   */
  UploadedParts(String key, long partSize, List<String> etags, long from) {
    this.key = key;
    this.partSize = partSize;
    this.etags = new ArrayList<>(etags);
    this.durable = from;
  }

  /** The ETags without a gap, in part order: what completes the upload. */
  List<String> etags() {
    return etags;
  }

  boolean none() {
    return etags.isEmpty() && afterGap.isEmpty();
  }

  /** Whether no uploaded part waits behind a gap. */
  boolean settled() {
    return afterGap.isEmpty();
  }

  /** Bytes in S3 up to the last whole part whose digest state was saved. */
  long durable() {
    return durable;
  }

  /** The checkpoint state that goes with {@code bytes} durable; null when there is none. */
  String state(long bytes) {
    return states.get(bytes);
  }

  void continues(long bytes, String state) {
    states.put(bytes, state);
  }

  /**
   * Records that S3 has part {@code p} of upload {@code uploadId}.
   *
   * @return the parts that now follow the others without a gap, done with
   */
  List<SpooledPart> add(SpooledPart p, String etag, String uploadId) {
    afterGap.put(p.number, new Uploaded(p, etag));
    List<SpooledPart> joined = new ArrayList<>();
    Uploaded next;
    while ((next = afterGap.remove(etags.size() + 1)) != null) {
      etags.add(next.etag());
      SpooledPart q = next.part();
      joined.add(q);
      if (!q.last && q.digestState != null) {
        durable = q.start + q.size();
        states.put(
            durable,
            new S3Checkpoint(key, uploadId, partSize, etags.size(), q.digestState).encode());
        while (states.size() > STATES_KEPT) {
          states.remove(states.keySet().iterator().next());
        }
      }
    }
    return joined;
  }
}
