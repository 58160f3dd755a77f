package io.routewise.upstream;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import okhttp3.internal.concurrent.LockableKt;
import okhttp3.internal.concurrent.TaskRunner;

/**
 * The task runner behind the upstream connection pool: it runs OkHttp's pool cleanup (idle
 * eviction, the max-idle limit) on a one-second cadence instead of waking a thread every time a
 * connection goes back to the pool.
 *
 * <p>Why: OkHttp reschedules its cleanup task for "now" on every released connection, which
 * signals the runner's coordinator thread once per request. Under load that was ~0.8 context
 * switches per proxied request (measured per thread, BENCHMARKS.md), on a path that otherwise
 * costs ~2. Cleanup lagging by up to a second is harmless: an idle connection lives a second
 * longer or the pool briefly holds more idle connections than its cap.
 *
 * <p>Only the pool uses this runner; HTTP/2 connections keep OkHttp's default one, whose tasks
 * (window updates, pings) must run at once. {@code okhttp3.internal} is not OkHttp's public API:
 * the OkHttp version is pinned in the pom and {@code HttpClientsTest} checks idle eviction still works.
 */
final class PoolCleanup implements TaskRunner.Backend {
  /** How late a cleanup may run; also the longest the coordinator sleeps between checks. */
  static final long MAX_LAG_NANOS = TimeUnit.SECONDS.toNanos(1);

  static final TaskRunner RUNNER = new TaskRunner(new PoolCleanup(), Logger.getLogger(TaskRunner.class.getName()));

  private final ThreadPoolExecutor executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "routewise-pool-cleanup");
        t.setDaemon(true);
        return t;
      });

  private PoolCleanup() {}

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  /** Deliberately no wake-up: the coordinator looks again within {@link #MAX_LAG_NANOS}. */
  @Override
  public void coordinatorNotify(TaskRunner taskRunner) {}

  @Override
  public void coordinatorWait(TaskRunner taskRunner, long nanos) {
    // Called holding the runner's monitor, like OkHttp's own backend.
    LockableKt.awaitNanos(taskRunner, Math.min(nanos, MAX_LAG_NANOS));
  }

  @Override
  public <T> BlockingQueue<T> decorate(BlockingQueue<T> queue) {
    return queue;
  }

  @Override
  public void execute(TaskRunner taskRunner, Runnable runnable) {
    executor.execute(runnable);
  }
}
