package transfer.worker.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One part of an S3 multipart upload being written ({@link S3PartWriter}): bytes {@code start} to
 * {@code start + partSize} of the body, spooled to {@code file} on the worker's disk until S3 has
 * them. The state fields belong to the writer's context; the file is written and read on storage
 * and request threads, hence the locks.
 */
final class SpooledPart {
  final int number;
  final long start;
  private final Path file;
  int pending;
  boolean complete;
  boolean last;
  boolean sealedOrKept;
  volatile String digestState;
  private FileChannel channel;
  private long size;

  SpooledPart(int number, long start, Path file) {
    this.number = number;
    this.start = start;
    this.file = file;
  }

  Path file() {
    return file;
  }

  /** Writes {@code bytes} at {@code at} within the part. */
  synchronized void write(ByteBuffer bytes, long at) throws IOException {
    if (channel == null) {
      Files.createDirectories(file.getParent());
      channel =
          FileChannel.open(
              file,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING);
    }
    long pos = at;
    while (bytes.hasRemaining()) {
      pos += channel.write(bytes, pos);
    }
    size = Math.max(size, pos);
  }

  synchronized long size() {
    return size;
  }

  synchronized void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing more goes through it
      }
      channel = null;
    }
  }

  void delete() {
    close();
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // a spool file left behind is removed when the worker starts
    }
  }
}
