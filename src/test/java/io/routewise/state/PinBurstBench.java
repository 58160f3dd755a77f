package io.routewise.state;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.SessionPins;
import io.routewise.routing.StateListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * New sessions arriving at once: {@code threads} request threads (virtual) each start {@code perThread}
 * sessions as fast as they can on one replica (a lookup, then "set if absent"), with Redis on loopback
 * and the default pin_timeout_ms of 10. Prints sessions a second, the first turn's p50/p99 and how many
 * store calls were not answered in time. Numbers for BENCHMARKS §6.
 *
 * <pre>java -cp target/test-classes:target/classes:$(cat cp.txt) io.routewise.state.PinBurstBench [threads] [perThread]</pre>
 */
public final class PinBurstBench {
  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 64;
    int perThread = args.length > 1 ? Integer.parseInt(args[1]) : 500;
    AtomicLong timeouts = new AtomicLong();
    StateListener counting = new StateListener() {
      @Override
      public void pinLookup(String outcome) {
        if (outcome.equals("timeout")) {
          timeouts.incrementAndGet();
        }
      }
    };
    try (RedisServer redis = RedisServer.start()) {
      StateConfig cfg = new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1), Duration.ofMillis(250),
          Duration.ofMillis(10), "bench");
      try (RedisStateStore store = new RedisStateStore(cfg);
          SessionPins pins = new SessionPins(Duration.ofHours(1), 2_000_000, store, () -> true, cfg.pinTimeout(),
              counting, System::currentTimeMillis)) {
        for (int round = 0; round < 3; round++) { // the first warms the JIT up
          timeouts.set(0);
          long[][] nanos = new long[threads][perThread];
          List<Thread> ts = new ArrayList<>();
          int r = round;
          long start = System.nanoTime();
          for (int t = 0; t < threads; t++) {
            int id = t;
            ts.add(Thread.ofVirtual().start(() -> {
              for (int i = 0; i < perThread; i++) {
                String s = "r" + r + "-t" + id + "-s" + i;
                long t0 = System.nanoTime();
                if (pins.pinned(s) == null) {
                  pins.pin(s, "weak");
                }
                nanos[id][i] = System.nanoTime() - t0;
              }
            }));
          }
          for (Thread t : ts) {
            t.join();
          }
          double secs = (System.nanoTime() - start) / 1e9;
          long[] all = Arrays.stream(nanos).flatMapToLong(Arrays::stream).sorted().toArray();
          if (round > 0) {
            System.out.printf(Locale.ROOT, "%d threads x %d sessions: %.0f sessions/s, first turn p50 %.0f us p99 %.0f us,"
                + " %d store calls past 10 ms (of %d)%n", threads, perThread, all.length / secs, all[all.length / 2] / 1e3,
                all[(int) (all.length * 0.99)] / 1e3, timeouts.get(), 2L * all.length);
          }
        }
      }
    }
    System.exit(0);
  }
}
