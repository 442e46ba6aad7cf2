package transfer.worker.storage;

import transfer.ledger.TaskRow;

/** Where downloads are stored: the backend {@code transfer.storage.url} chose. */
public interface DownloadStore {
  /** The body of attempt {@code epoch} of {@code task}. */
  DownloadBody body(TaskRow task, long epoch);
}
