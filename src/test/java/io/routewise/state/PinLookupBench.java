package io.routewise.state;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.SessionPins;
import io.routewise.routing.StateListener;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;

/**
 * What a session pin costs a request with Redis on loopback: a first turn (not in the local cache:
 * a lookup, then "set if absent") and a later turn on the other replica (one lookup), each timed on
 * the request's thread, hand-off to the pin threads included. Numbers for README / BENCHMARKS.
 *
 * <pre>java -cp target/test-classes:target/classes:$(cat cp.txt) io.routewise.state.PinLookupBench</pre>
 */
public final class PinLookupBench {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    try (RedisServer redis = RedisServer.start()) {
      StateConfig cfg = new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1), Duration.ofMillis(250),
          Duration.ofMillis(50), "bench");
      try (RedisStateStore storeA = new RedisStateStore(cfg); RedisStateStore storeB = new RedisStateStore(cfg);
          SessionPins a = new SessionPins(Duration.ofHours(1), 1_000_000, storeA, () -> true, cfg.pinTimeout(),
              StateListener.NONE, System::currentTimeMillis);
          SessionPins b = new SessionPins(Duration.ofHours(1), 1_000_000, storeB, () -> true, cfg.pinTimeout(),
              StateListener.NONE, System::currentTimeMillis)) {
        for (int round = 0; round < 2; round++) { // the first round warms the JIT up
          long[] first = new long[n];
          long[] other = new long[n];
          long[] local = new long[n];
          for (int i = 0; i < n; i++) {
            String s = "round" + round + "-session-" + i;
            long t0 = System.nanoTime();
            if (a.pinned(s) == null) {
              a.pin(s, "weak");
            }
            long t1 = System.nanoTime();
            b.pinned(s);
            long t2 = System.nanoTime();
            b.pinned(s);
            long t3 = System.nanoTime();
            first[i] = t1 - t0;
            other[i] = t2 - t1;
            local[i] = t3 - t2;
          }
          if (round == 1) {
            System.out.println(line("first turn (lookup + set if absent)", first));
            System.out.println(line("a later turn on the other replica (lookup)", other));
            System.out.println(line("a later turn on the same replica (local cache)", local));
          }
        }
      }
    }
    System.exit(0);
  }

  private static String line(String what, long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    return String.format(Locale.ROOT, "%-48s p50 %6.1f us  p99 %6.1f us  max %7.1f us  (n=%d)", what,
        s[s.length / 2] / 1e3, s[(int) (s.length * 0.99)] / 1e3, s[s.length - 1] / 1e3, s.length);
  }
}
