package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ScoringPoolTest {
  // The callers are request threads in the server: virtual threads, one per call (the common
  // pool may have a single thread, which the first blocked caller would take).
  private static final java.util.concurrent.Executor VIRTUAL = r -> Thread.ofVirtual().start(r);

  @Test
  void aRouterFailureKeepsItsKindAcrossThePool() {
    try (ScoringPool pool = new ScoringPool(1, 1, java.time.Duration.ofSeconds(30))) {
      RouterException e = assertThrows(RouterException.class, () -> pool.score(p -> {
        throw new RouterException("no_rating", "judge said nothing");
      }, Prompt.of("x")));
      assertEquals("no_rating", e.kind());
    }
  }

  @Test
  void shutdownReleasesQueuedWaitersAndReportsAThreadStillInsideARouter() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Router stuck = p -> { // like a native ONNX call: deaf to interrupts
      entered.countDown();
      while (release.getCount() > 0) {
        try {
          release.await();
        } catch (InterruptedException ignored) {
          // keep running
        }
      }
      return 0.25;
    };
    ScoringPool pool = new ScoringPool(1, 1, java.time.Duration.ofSeconds(30));
    CompletableFuture<Double> running = CompletableFuture.supplyAsync(() -> score(pool, stuck), VIRTUAL);
    assertTrue(entered.await(5, TimeUnit.SECONDS));
    CompletableFuture<Double> queued = CompletableFuture.supplyAsync(() -> score(pool, p -> 0.75), VIRTUAL);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (pool.queued() == 0) {
      assertTrue(System.nanoTime() < deadline, "the second decision should be queued");
      Thread.sleep(5);
    }

    assertFalse(pool.close(200), "a thread is still inside the router");
    ExecutionException e = assertThrows(ExecutionException.class, () -> queued.get(5, TimeUnit.SECONDS));
    assertEquals("shutting_down", ((RouterException) e.getCause()).kind());
    RouterException late = assertThrows(RouterException.class, () -> pool.score(p -> 0.5, Prompt.of("x")));
    assertEquals("shutting_down", late.kind());

    release.countDown();
    assertEquals(0.25, running.get(5, TimeUnit.SECONDS));
    assertTrue(pool.close(1_000));
  }

  @Test
  @org.junit.jupiter.api.Timeout(30) // without the deadline, the second score() would wait forever
  void pastTheDeadlineAQueuedDecisionIsWithdrawnAndARunningOneAbandoned() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger queuedRan = new java.util.concurrent.atomic.AtomicInteger();
    try (ScoringPool pool = new ScoringPool(1, 4, java.time.Duration.ofMillis(300))) {
      CompletableFuture<Double> running = CompletableFuture.supplyAsync(() -> score(pool, p -> {
        entered.countDown();
        release.await();
        return 0.25;
      }), VIRTUAL);
      assertTrue(entered.await(5, TimeUnit.SECONDS));
      long start = System.nanoTime();
      RouterException waited = assertThrows(RouterException.class, () -> pool.score(p -> {
        queuedRan.incrementAndGet();
        return 0.75;
      }, Prompt.of("x")));
      assertEquals("overloaded", waited.kind());
      assertEquals(0, pool.queued(), "the withdrawn decision gave its queue slot back at once");
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3), "it gave up near the deadline");
      ExecutionException e = assertThrows(ExecutionException.class, () -> running.get(5, TimeUnit.SECONDS));
      assertEquals("timeout", ((RouterException) e.getCause()).kind());

      // The scoring thread frees up: the withdrawn decision must not run on it, a new one does.
      release.countDown();
      assertEquals(0.5, pool.score(p -> 0.5, Prompt.of("y")));
      assertEquals(0, queuedRan.get(), "a withdrawn decision never costs a scoring thread");
    }
  }

  /**
   * Decisions that arrive together while every scoring thread is idle need no queue at all: each
   * takes a thread. Handed to the queue first and taken from it by the threads a moment later, a
   * burst as large as the threads overflowed a small routing.scoring_queue and went strong as
   * {@code overloaded} (4 idle threads, scoring_queue 1: 84 of 200 decisions), though none waited.
   */
  @Test
  @org.junit.jupiter.api.Timeout(60)
  void aBurstNoLargerThanTheIdleThreadsIsNeverOverloaded() throws Exception {
    int threads = 4;
    java.util.concurrent.atomic.AtomicInteger overloaded = new java.util.concurrent.atomic.AtomicInteger();
    try (ScoringPool pool = new ScoringPool(threads, 1, java.time.Duration.ofSeconds(10))) {
      for (int round = 0; round < 30; round++) {
        java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(threads);
        List<CompletableFuture<Void>> burst = new java.util.ArrayList<>();
        for (int i = 0; i < threads; i++) {
          burst.add(CompletableFuture.runAsync(() -> {
            try {
              together.await();
              pool.score(p -> {
                Thread.sleep(10);
                return 0.5;
              }, Prompt.of("x"));
            } catch (RouterException e) {
              overloaded.incrementAndGet();
            } catch (Exception e) {
              throw new java.util.concurrent.CompletionException(e);
            }
          }, VIRTUAL));
        }
        CompletableFuture.allOf(burst.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (pool.active() > 0) { // every thread idle again before the next burst
          assertTrue(System.nanoTime() < deadline);
          Thread.sleep(1);
        }
      }
    }
    assertEquals(0, overloaded.get(), "decisions turned away with every scoring thread idle");
  }

  /** Past the threads and the queue, a decision is still turned away: the bound holds. */
  @Test
  void aDecisionPastTheThreadsAndTheQueueIsOverloaded() throws Exception {
    CountDownLatch entered = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    try (ScoringPool pool = new ScoringPool(2, 1, java.time.Duration.ofSeconds(30))) {
      Router held = p -> {
        entered.countDown();
        release.await();
        return 0.25;
      };
      List<CompletableFuture<Double>> busy = new java.util.ArrayList<>();
      for (int i = 0; i < 2; i++) {
        busy.add(CompletableFuture.supplyAsync(() -> score(pool, held), VIRTUAL));
      }
      assertTrue(entered.await(5, TimeUnit.SECONDS));
      CompletableFuture<Double> queued = CompletableFuture.supplyAsync(() -> score(pool, p -> 0.75), VIRTUAL);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (pool.queued() == 0) {
        assertTrue(System.nanoTime() < deadline, "the third decision should be queued");
        Thread.sleep(5);
      }
      RouterException e = assertThrows(RouterException.class, () -> pool.score(p -> 0.5, Prompt.of("x")));
      assertEquals("overloaded", e.kind());
      release.countDown();
      for (var f : busy) {
        assertEquals(0.25, f.get(5, TimeUnit.SECONDS));
      }
      assertEquals(0.75, queued.get(5, TimeUnit.SECONDS));
      assertEquals(0.5, pool.score(p -> 0.5, Prompt.of("y")), "the slots came back");
    }
  }

  private static double score(ScoringPool pool, Router router) {
    try {
      return pool.score(router, Prompt.of("x"));
    } catch (Exception e) {
      throw new java.util.concurrent.CompletionException(e);
    }
  }
}
