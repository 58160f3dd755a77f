package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.routewise.config.ClientKey;
import io.routewise.config.Secret;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A named client's requests a period: a burst of that many, then one each period / requests. */
class ClientRateLimitsTest {
  static final long SECOND = 1_000_000_000L;
  final AtomicLong now = new AtomicLong(-5 * SECOND); // nanoTime may be negative: only differences count

  ClientRateLimits limits(long requests, ClientKey.RatePeriod per) {
    return new ClientRateLimits(List.of(
        new ClientKey("batch", List.of(Secret.of("sk-b")), null, new ClientKey.RateLimit(requests, per)),
        new ClientKey("ui", List.of(Secret.of("sk-u")), null, null)), now::get);
  }

  @Test
  void aBurstOfTheLimitThenOneEachIntervalAndAnIdlePeriodRefillsIt() {
    ClientRateLimits limits = limits(4, ClientKey.RatePeriod.SECOND);
    for (int i = 0; i < 4; i++) {
      assertNull(limits.take("batch"), "burst " + i);
    }
    ClientRateLimits.Refusal refused = limits.take("batch");
    assertNotNull(refused);
    assertEquals(SECOND / 4, refused.retryNanos(), "the next one frees in an interval");
    assertEquals(SECOND, refused.fullNanos(), "all four in a second");
    now.addAndGet(SECOND / 4 - 1);
    assertEquals(1, limits.take("batch").retryNanos(), "a refusal takes nothing");
    now.incrementAndGet();
    assertNull(limits.take("batch"));
    assertNotNull(limits.take("batch"));
    now.addAndGet(SECOND * 10);
    for (int i = 0; i < 4; i++) {
      assertNull(limits.take("batch"), "an idle period gives the whole burst back, no more: " + i);
    }
    assertNotNull(limits.take("batch"));
    for (int i = 0; i < 100; i++) {
      assertNull(limits.take("ui"), "no limit");
      assertNull(limits.take(null), "a key of a list has none");
    }
    assertEquals(List.of("batch"), limits.clients());
  }

  @Test
  void racingThreadsTakeExactlyTheLimit() throws Exception {
    ClientRateLimits limits = limits(1_000, ClientKey.RatePeriod.HOUR); // the clock stands still
    AtomicLong admitted = new AtomicLong();
    List<Thread> threads = new java.util.ArrayList<>();
    for (int t = 0; t < 8; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = 0; i < 500; i++) {
          if (limits.take("batch") == null) {
            admitted.incrementAndGet();
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(1_000, admitted.get());
  }

  @Test
  void waitsAreWrittenAsOpenAiWritesThem() {
    assertEquals("1ms", ProxyServer.duration(1));
    assertEquals("250ms", ProxyServer.duration(250_000_000L));
    assertEquals("1s", ProxyServer.duration(SECOND));
    assertEquals("1.5s", ProxyServer.duration(1_500_000_000L));
    assertEquals("6m0s", ProxyServer.duration(360 * SECOND));
    assertEquals("1h2m4s", ProxyServer.duration(3_723 * SECOND + 1));
  }
}
