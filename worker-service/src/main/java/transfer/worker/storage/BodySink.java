package transfer.worker.storage;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;

/**
 * Where a download's body goes as it arrives, with back-pressure: a temporary file ({@link
 * ObjectWriter}) or the parts of an S3 multipart upload ({@link S3PartWriter}). Methods run on the
 * transfer's context.
 */
public interface BodySink {
  /** Called once, on the context, with the first storage error; the sink stops. */
  BodySink exceptionHandler(Handler<Throwable> handler);

  /** Called once when {@link #write} answered false and there is room again. */
  BodySink drainHandler(Handler<Void> handler);

  /**
   * Appends {@code data} (copied: the caller may drop it); false when the caller should stop until
   * the drain handler runs (the bytes are taken all the same).
   */
  boolean write(Buffer data);

  /** True while the sink wants no more bytes: our own storage is what the transfer waits for. */
  boolean full();

  /** Bytes accepted so far. */
  long position();

  /**
   * Makes what can be made durable so, and completes with the number of bytes a checkpoint may
   * claim now.
   */
  Future<Long> flush();

  /** The body is complete: completes once every byte is stored (not yet published) and hashed. */
  Future<Void> finish();

  /** Stops at once; what is stored stays for a later attempt to continue from its checkpoint. */
  void abort();

  /** Hands the bytes of {@code data} to {@code append} as NIO buffers, without copying them. */
  static void eachNioBuffer(Buffer data, java.util.function.Consumer<java.nio.ByteBuffer> append) {
    io.netty.buffer.ByteBuf bb = data.getByteBuf();
    if (bb.nioBufferCount() == 1) {
      append.accept(bb.nioBuffer());
    } else {
      for (java.nio.ByteBuffer b : bb.nioBuffers()) {
        append.accept(b);
      }
    }
  }
}
