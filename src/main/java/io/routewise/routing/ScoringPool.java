package io.routewise.routing;

import io.routewise.upstream.ClientProbe;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * and is counted) rather than piling up behind a backlog nobody will wait for. A decision also has a
 * deadline: past {@code timeout}, one still queued is withdrawn ({@code overloaded}: it never costs
 * a thread after its request has moved on) and one being scored is abandoned ({@code timeout}).
 */
public final class ScoringPool implements AutoCloseable {
  private final ThreadPoolExecutor executor;
  private final int threads;
  private final int queue;
  /** Decisions queued or being scored (an abandoned one until its scoring ends): at most threads + queue. */
  private final AtomicInteger held = new AtomicInteger();
  private final long timeoutNanos;
  /** The decisions whose requests wait now, queued or scoring: {@link #cancelWaiting} ends their waits. */
  private final java.util.Set<Runnable> waiting = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile boolean waitsCancelled;

  public ScoringPool(int threads, int queue, java.time.Duration timeout) {
    // A queue of at least one: a SynchronousQueue hand-off fails whenever the free thread has not
    // yet looped back to take(), which would report "overloaded" with a thread about to be idle.
    if (threads < 1 || queue < 1 || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("threads >= 1, queue >= 1 and a positive timeout required");
    }
    AtomicInteger n = new AtomicInteger();
    this.threads = threads;
    this.queue = queue;
    this.timeoutNanos = timeout.toNanos();
    this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(threads + queue), // all admitted ones, until the idle threads take theirs
        r -> {
          Thread t = new Thread(r, "routewise-scoring-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    executor.prestartAllCoreThreads();
  }

  /**
   * A decision that has waited this long starts watching its client: a wait this long means a
   * backlog, and under a backlog clients give up (their own timeouts) and retry. Scoring their
   * abandoned decisions would spend the scoring threads on nobody while live requests queue.
   * Shorter waits never pay for the watch.
   */
  static final long WATCH_CLIENT_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  /** Scores on a pool thread and waits (parking, not holding a carrier) for the result. */
  double score(Router router, Prompt prompt) throws Exception {
    return score(router, prompt, null);
  }

  /**
   * As {@link #score(Router, Prompt)}, withdrawing the decision if {@code client} (may be null)
   * disconnects while it waits.
   *
   * @throws ClientGoneException when the client left and the decision was withdrawn
   */
  double score(Router router, Prompt prompt, ClientProbe client) throws Exception {
    return run(() -> router.strongWinRate(prompt), client);
  }

  /** As {@link #score(Router, Prompt, ClientProbe)}, for {@link Router#topWinRates} (more than two upstreams). */
  double[] score(Router router, Prompt prompt, Ladder ladder, ClientProbe client) throws Exception {
    return run(() -> router.topWinRates(prompt, ladder), client);
  }

  private <T> T run(java.util.concurrent.Callable<T> scoring, ClientProbe client) throws Exception {
    // Admitted while fewer than threads + queue are held: a decision that finds a thread idle takes it,
    // though the idle threads have not yet taken the decisions handed to them a moment before (the
    // executor's queue alone turned a burst the threads could take away as overloaded).
    if (held.incrementAndGet() > threads + queue) {
      held.decrementAndGet();
      throw refused();
    }
    // Claimed by the scoring thread as it starts, or by a withdrawal first: whichever claims it frees its place.
    AtomicBoolean claimed = new AtomicBoolean();
    Future<T> result;
    try {
      result = executor.submit(() -> {
        if (!claimed.compareAndSet(false, true)) {
          return null; // withdrawn as a thread took it
        }
        try {
          return scoring.call();
        } finally {
          held.decrementAndGet();
        }
      });
    } catch (RejectedExecutionException e) {
      held.decrementAndGet();
      throw refused();
    }
    long deadline = System.nanoTime() + timeoutNanos;
    AtomicBoolean gone = new AtomicBoolean();
    boolean watching = false;
    Runnable withdrawal = () -> withdraw(result, claimed, false);
    waiting.add(withdrawal);
    try {
      if (waitsCancelled) {
        withdrawal.run(); // cancelWaiting() ran between the submit and the add
      }
      if (client != null && timeoutNanos > WATCH_CLIENT_AFTER_NANOS) {
        try {
          return result.get(WATCH_CLIENT_AFTER_NANOS, TimeUnit.NANOSECONDS);
        } catch (TimeoutException stillWaiting) {
          client.arm(() -> { // on another thread; a decision already scoring ends too, its scoring finishes for nobody
            gone.set(true);
            withdrawal.run();
          });
          watching = true;
        }
      }
      return result.get(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      boolean neverScored = withdraw(result, claimed, false);
      long ms = TimeUnit.NANOSECONDS.toMillis(timeoutNanos);
      throw neverScored
          ? new RouterException("overloaded", "waited " + ms + " ms for a scoring thread (routing.scoring_timeout_ms)")
          : new RouterException("timeout", "scoring took over " + ms + " ms (routing.scoring_timeout_ms)");
    } catch (java.util.concurrent.CancellationException e) {
      if (gone.get()) {
        throw new ClientGoneException();
      }
      throw new RouterException("shutting_down", "routewise is shutting down");
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
      // Only shutdown interrupts request threads; keep the flag so the rest of the request stops too.
      withdraw(result, claimed, true);
      Thread.currentThread().interrupt();
      throw new RouterException("interrupted", "interrupted while waiting for a scoring thread");
    } finally {
      waiting.remove(withdrawal);
      if (watching) {
        client.disarm(); // before the upstream call, which watches the client on its own
      }
    }
  }

  private RouterException refused() {
    if (executor.isShutdown()) {
      return new RouterException("shutting_down", "routewise is shutting down");
    }
    return new RouterException("overloaded", "all " + threads + " scoring threads busy and "
        + queue + " decisions queued (routing.scoring_threads, routing.scoring_queue)");
  }

  /**
   * Ends a decision's wait: one not yet scoring never runs and frees its place at once (a cancelled
   * task that has not started never runs: FutureTask checks before calling); one scoring finishes for
   * nobody and frees its place when it does.
   *
   * @return whether it was withdrawn before it began scoring
   */
  private boolean withdraw(Future<?> f, AtomicBoolean claimed, boolean interrupt) {
    f.cancel(interrupt);
    executor.remove((Runnable) f); // free its queue slot now, not when a thread reaches it
    if (claimed.compareAndSet(false, true)) {
      held.decrementAndGet();
      return true;
    }
    return false;
  }

  /**
   * The shutdown's grace ran out: takes no more decisions, and every request waiting on one, queued or
   * being scored, stops waiting now ({@code shutting_down}, so it ends as the shutdown's 503) rather
   * than at {@code routing.scoring_timeout_ms}, after the server has stopped and closed its connection.
   * A decision being scored finishes for nobody; the threads are not interrupted ({@link #close} waits
   * for them).
   */
  public void cancelWaiting() {
    waitsCancelled = true;
    executor.shutdown();
    for (Runnable withdrawal : waiting) {
      withdrawal.run();
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

  /**
   * Stops taking decisions, lets running and queued ones finish for up to 5 s, then cancels what is
   * still queued (its waiters route strong) and waits for the running ones.
   *
   * @return whether every scoring thread has stopped; if not, a thread may still be inside a
   *     router (native code ignores interrupts), and the routers must not be closed under it
   */
  public boolean close(long waitMillis) {
    executor.shutdown();
    try {
      if (!executor.awaitTermination(waitMillis, TimeUnit.MILLISECONDS)) {
        for (Runnable queued : executor.shutdownNow()) {
          ((Future<?>) queued).cancel(false);
        }
        return executor.awaitTermination(waitMillis, TimeUnit.MILLISECONDS);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return executor.isTerminated();
    }
  }

  @Override
  public void close() {
    close(5_000);
  }
}
