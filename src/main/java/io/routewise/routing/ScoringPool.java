package io.routewise.routing;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A few platform threads that run CPU-bound scoring ({@link Router#cpuBound()}: ONNX inference,
 * similarity sweeps) off the request threads.
 *
 * <p>Why: requests run on virtual threads, which share a handful of carrier threads (one per core).
 * A native ONNX call, or milliseconds of arithmetic, holds its carrier the whole time; with as many
 * such calls as cores, every other request on the server (stream chunks, health checks, new
 * connections) waits for them. Handing the scoring to these threads parks the virtual thread and
 * frees its carrier, and the kernel interleaves the short I/O work with the long scoring work.
 *
 * <p>Bounded both ways: {@code threads} run at once, {@code queue} more wait; beyond that a
 * decision fails as {@code overloaded} (so the request routes strong, as any router failure does,
 * and is counted) rather than piling up behind a backlog nobody will wait for.
 */
public final class ScoringPool implements AutoCloseable {
  private final ThreadPoolExecutor executor;
  private final int queue;

  public ScoringPool(int threads, int queue) {
    if (threads < 1 || queue < 0) {
      throw new IllegalArgumentException("threads >= 1 and queue >= 0 required");
    }
    AtomicInteger n = new AtomicInteger();
    this.queue = queue;
    this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
        queue == 0 ? new java.util.concurrent.SynchronousQueue<>() : new ArrayBlockingQueue<>(queue),
        r -> {
          Thread t = new Thread(r, "routewise-scoring-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    executor.prestartAllCoreThreads();
  }

  /** Scores on a pool thread and waits (parking, not holding a carrier) for the result. */
  double score(Router router, Prompt prompt) throws Exception {
    Future<Double> result;
    try {
      result = executor.submit(() -> router.strongWinRate(prompt));
    } catch (RejectedExecutionException e) {
      throw new RouterException("overloaded", executor.isShutdown() ? "shutting down"
          : "all " + executor.getMaximumPoolSize() + " scoring threads busy and " + queue
              + " decisions queued (routing.scoring_threads, routing.scoring_queue)");
    }
    try {
      return result.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception ex) {
        throw ex;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw e;
    } catch (InterruptedException e) {
      result.cancel(true);
      Thread.currentThread().interrupt();
      throw new RouterException("interrupted", "interrupted while waiting for a scoring thread");
    }
  }

  /** Decisions waiting for a scoring thread now. */
  public int queued() {
    return executor.getQueue().size();
  }

  /** Decisions being scored now. */
  public int active() {
    return executor.getActiveCount();
  }

  @Override
  public void close() {
    executor.shutdown();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }
}
