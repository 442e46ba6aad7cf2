package transfer.worker.attempt;

import transfer.ledger.Leases;

/**
 * The progress an attempt has reported, so that each heartbeat says what is new: a progress event
 * only when bytes moved since the last one (at most one per heartbeat), carrying the bytes since
 * that one; the completion's last event carries the rest.
 */
final class Progress {
  /** Bytes reported by the last progress event; -1 before the first one. */
  private long lastEventBytes = -1;

  /** The offset this attempt resumed at, until a heartbeat or the completion announced it. */
  private Long resumedAt;

  /** A resumable upload's new resource, until a heartbeat recorded it. */
  private String uploadResource;

  /** The attempt continues stored bytes from {@code offset}: the next write announces it. */
  void resumedAt(long offset) {
    resumedAt = offset;
  }

  /** The target created this resource for the upload: the next heartbeat records it. */
  void uploadResource(String url) {
    uploadResource = url;
  }

  /** The resumption not announced yet (null: none), for the completion to announce. */
  Long unannouncedResumption() {
    return resumedAt;
  }

  /** The heartbeat that reports {@code total} bytes, with {@code checkpoint} (or null). */
  Leases.Heartbeat heartbeat(long total, Long expected, Leases.Checkpoint checkpoint) {
    boolean event = total != lastEventBytes;
    return new Leases.Heartbeat(
        total, checkpoint, expected, event, sinceLastEvent(total), resumedAt, uploadResource);
  }

  /** The ledger recorded {@code heartbeat}: its progress event, if any, is the last one now. */
  void recorded(Leases.Heartbeat heartbeat) {
    if (heartbeat.progressEvent()) {
      lastEventBytes = heartbeat.bytesTransferred();
    }
    if (heartbeat.resumedAt() != null && heartbeat.resumedAt().equals(resumedAt)) {
      resumedAt = null;
    }
    if (heartbeat.uploadResource() != null && heartbeat.uploadResource().equals(uploadResource)) {
      uploadResource = null;
    }
  }

  /** Whether a progress event has been recorded. */
  boolean reported() {
    return lastEventBytes >= 0;
  }

  /** Bytes of {@code total} that no progress event has reported yet. */
  long sinceLastEvent(long total) {
    return lastEventBytes < 0 ? total : total - lastEventBytes;
  }
}
