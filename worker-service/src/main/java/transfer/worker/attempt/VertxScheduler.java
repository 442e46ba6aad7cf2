package transfer.worker.attempt;

import io.smallrye.common.vertx.VertxContext;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.Callable;

/**
 * An attempt's own Vert.x context: a duplicated context, which keeps the event loop of the context
 * it comes from and gives the attempt its own local data, where Quarkus keeps the MDC of the code
 * that runs on it (the task's ids on every log line about it, {@link AttemptTelemetry#logf}).
 * Timers and blocking calls are made from code running on it, so they answer on it.
 */
final class VertxScheduler implements Scheduler {
  private final Vertx vertx;
  private final Context context;

  VertxScheduler(Vertx vertx) {
    this.vertx = vertx;
    this.context = VertxContext.getOrCreateDuplicatedContext(vertx.getOrCreateContext());
  }

  @Override
  public void run(Runnable task) {
    context.runOnContext(v -> task.run());
  }

  @Override
  public long every(long millis, Runnable task) {
    return vertx.setPeriodic(millis, id -> task.run());
  }

  @Override
  public long after(long millis, Runnable task) {
    return vertx.setTimer(millis, id -> task.run());
  }

  @Override
  public void cancel(long timer) {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  @Override
  public <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }
}
