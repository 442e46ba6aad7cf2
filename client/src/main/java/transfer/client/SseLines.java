package transfer.client;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * An event stream's body as lines, taken one at a time with a timeout: the JDK splits the bytes
 * into lines (CR, LF or CRLF, as SSE wants), this keeps at most {@value #AHEAD} of them ahead of
 * the reader (back-pressure reaches the socket), and {@link #cancel()} ends a wait at once. No
 * thread is ever interrupted, so a listener never sees a stray interrupt.
 */
final class SseLines implements HttpResponse.BodySubscriber<SseLines> {
  private static final int AHEAD = 64;
  private static final Object END = new Object();

  private final BlockingQueue<Object> lines = new LinkedBlockingQueue<>();
  private final HttpResponse.BodySubscriber<Void> adapter;
  private volatile Flow.Subscription subscription;
  private volatile boolean canceled;

  /** The stream ended or broke. */
  private record Failure(Throwable cause) {}

  /** Nothing arrived for the timeout. */
  static final class Idle extends IOException {
    Idle(Duration d) {
      super("nothing arrived for " + d.toMillis() + " ms");
    }
  }

  SseLines() {
    this.adapter =
        HttpResponse.BodySubscribers.fromLineSubscriber(
            new Flow.Subscriber<String>() {
              @Override
              public void onSubscribe(Flow.Subscription s) {
                subscription = s;
                if (canceled) {
                  s.cancel();
                } else {
                  s.request(AHEAD);
                }
              }

              @Override
              public void onNext(String line) {
                lines.add(line);
              }

              @Override
              public void onError(Throwable t) {
                lines.add(new Failure(t));
              }

              @Override
              public void onComplete() {
                lines.add(END);
              }
            },
            s -> null,
            StandardCharsets.UTF_8,
            null);
  }

  /** The next line; null at the end of the stream. */
  String next(Duration timeout) throws IOException {
    Object o;
    try {
      o = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (o == null) {
      throw new Idle(timeout);
    }
    if (o == END) {
      lines.add(END); // stays ended
      return null;
    }
    if (o instanceof Failure f) {
      lines.add(o);
      throw f.cause() instanceof IOException io ? io : new IOException(f.cause());
    }
    Flow.Subscription s = subscription;
    if (s != null) {
      s.request(1);
    }
    return (String) o;
  }

  /** Ends the stream: the connection is released and a waiting {@link #next} returns null. */
  void cancel() {
    canceled = true;
    Flow.Subscription s = subscription;
    if (s != null) {
      s.cancel();
    }
    lines.add(END);
  }

  @Override
  public CompletionStage<SseLines> getBody() {
    return CompletableFuture.completedFuture(this);
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    adapter.onSubscribe(s);
  }

  @Override
  public void onNext(List<ByteBuffer> item) {
    adapter.onNext(item);
  }

  @Override
  public void onError(Throwable t) {
    adapter.onError(t);
  }

  @Override
  public void onComplete() {
    adapter.onComplete();
  }
}
