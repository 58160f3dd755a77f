package io.routewise.routing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What handing a decision to the {@link ScoringPool} costs against scoring it on the request's own
 * virtual thread, for a router that does a fixed amount of CPU work (0, 10 or 50 µs, spinning):
 * per-decision latency from one caller, and decisions/s from 16 virtual-thread callers (as a
 * server's requests are). Not a test: figures go to BENCHMARKS.md (static embedding, what the
 * scoring pool still earns).
 *
 * <pre>java -cp target/test-classes:target/routewise.jar io.routewise.routing.ScoringPoolBench 2</pre>
 */
public final class ScoringPoolBench {
  public static void main(String[] args) throws Exception {
    int poolThreads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    System.out.printf("%-8s | %-6s | %12s | %12s | %14s%n", "work", "where", "1 caller p50", "1 caller p99",
        "16 callers /s");
    for (int workUs : new int[] {0, 10, 50}) {
      Router r = prompt -> {
        long end = System.nanoTime() + workUs * 1_000L;
        while (System.nanoTime() < end) {
          Thread.onSpinWait();
        }
        return 0.5;
      };
      Prompt p = Prompt.of("x");
      try (ScoringPool pool = new ScoringPool(poolThreads, 256, Duration.ofSeconds(2))) {
        for (boolean viaPool : new boolean[] {false, true}) {
          Decide d = viaPool ? () -> pool.score(r, p) : () -> r.strongWinRate(p);
          double[] us = new double[20_000];
          Thread caller = Thread.ofVirtual().start(() -> {
            try {
              for (int i = 0; i < 5_000; i++) {
                d.run();
              }
              for (int i = 0; i < us.length; i++) {
                long t0 = System.nanoTime();
                d.run();
                us[i] = (System.nanoTime() - t0) / 1e3;
              }
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
          caller.join();
          Arrays.sort(us);
          System.out.printf("%-8s | %-6s | %9.1f us | %9.1f us | %14.0f%n", workUs + " us", viaPool ? "pool" : "inline",
              us[us.length / 2], us[(int) (us.length * 0.99)], throughput(d, 16, 100_000));
        }
      }
    }
  }

  interface Decide {
    double run() throws Exception;
  }

  static double throughput(Decide d, int callers, int total) throws InterruptedException {
    AtomicInteger next = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int c = 0; c < callers; c++) {
      threads.add(Thread.ofVirtual().start(() -> {
        try {
          while (next.getAndIncrement() < total) {
            d.run();
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    return total / ((System.nanoTime() - t0) / 1e9);
  }
}
