package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  /** The store's part in sharing requests: each replica's last published counts, by replica id. */
  static final class Counts implements StateStore {
    final java.util.Map<String, java.util.Map<String, Requests>> published = new java.util.concurrent.ConcurrentHashMap<>();
    volatile boolean down;

    @Override
    public java.util.Map<String, java.util.Map<String, Requests>> shareRequests(String replica,
        java.util.function.Function<java.util.Map<String, java.util.Map<String, Requests>>,
            java.util.Map<String, Requests>> decide) throws Exception {
      if (down) {
        throw new java.io.IOException("down");
      }
      java.util.Map<String, java.util.Map<String, Requests>> others = new java.util.HashMap<>(published);
      others.remove(replica);
      published.put(replica, java.util.Map.copyOf(decide.apply(others)));
      return others;
    }

    @Override
    public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void ping() {}

    @Override
    public Pin pin(String session) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Pin pinIfAbsent(String session, String upstream, java.time.Duration ttl) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String describe() {
      return "counts";
    }

    @Override
    public void close() {}
  }

  private static int admitted(ClientRateLimits at, int tries) {
    int n = 0;
    for (int i = 0; i < tries; i++) {
      n += at.take("batch") == null ? 1 : 0;
    }
    return n;
  }

  /**
   * Two replicas sharing a store hold a client to one limit: bursts at both at once, a sync apart,
   * never pass it together, and get all of it within a few syncs (before, each let through the whole
   * limit on its own: twice it).
   */
  @Test
  void replicasSharingAStoreHoldAClientToOneLimit() throws Exception {
    Counts store = new Counts();
    ClientRateLimits a = limits(10, ClientKey.RatePeriod.HOUR);
    ClientRateLimits b = limits(10, ClientKey.RatePeriod.HOUR);
    a.exchange(store);
    b.exchange(store);
    int total = 0;
    for (int round = 0; round < 8; round++) {
      a.exchange(store);
      total += admitted(a, 20);
      b.exchange(store);
      total += admitted(b, 20);
      assertTrue(total <= 10, "round " + round + ": " + total);
    }
    assertEquals(10, total);
    now.addAndGet(360 * SECOND); // one interval
    for (int round = 0; round < 4; round++) {
      a.exchange(store);
      b.exchange(store);
      total += admitted(a, 3) + admitted(b, 3);
    }
    assertEquals(11, total, "one interval frees one request in all");
    assertNull(a.take("ui"), "no limit, nothing shared");
  }

  /** A burst at one replica alone gets the rest of the limit in steps, and never more. */
  @Test
  void aBurstAtOneReplicaAloneGetsTheRestInStepsAndNeverMore() throws Exception {
    Counts store = new Counts();
    ClientRateLimits a = limits(30, ClientKey.RatePeriod.HOUR);
    ClientRateLimits b = limits(30, ClientKey.RatePeriod.HOUR);
    a.syncEvery(java.time.Duration.ofSeconds(1));
    b.exchange(store);
    a.exchange(store);
    b.exchange(store);
    a.exchange(store);
    int total = 0;
    List<Integer> steps = new java.util.ArrayList<>();
    for (int i = 0; i < 12; i++) {
      int n = admitted(a, 40);
      ClientRateLimits.Refusal refusal = a.take("batch");
      if (total + n < 30) {
        assertEquals(SECOND, refusal.retryNanos(), "a spent share is given anew at the next sync");
      }
      steps.add(n);
      total += n;
      now.addAndGet(SECOND);
      a.exchange(store);
      b.exchange(store);
    }
    assertTrue(steps.get(0) >= 7, steps.toString());
    assertEquals(30, total, steps.toString());
  }

  /**
   * While the store does not answer each replica holds the limit alone (its whole burst); when it
   * answers again, what the others let through meanwhile is not charged here (their own limits held it).
   */
  @Test
  void aStoreDownLeavesEachReplicaItsWholeLimitAndItsReturnChargesNothingOld() throws Exception {
    Counts store = new Counts();
    ClientRateLimits a = limits(10, ClientKey.RatePeriod.HOUR);
    ClientRateLimits b = limits(10, ClientKey.RatePeriod.HOUR);
    for (int i = 0; i < 2; i++) {
      a.exchange(store);
      b.exchange(store);
    }
    store.down = true;
    assertThrows(java.io.IOException.class, () -> a.exchange(store));
    int atB = admitted(b, 4);
    assertTrue(atB > 0 && atB < 4, "b, not told yet, keeps its share until its own exchange fails: " + atB);
    assertThrows(java.io.IOException.class, () -> b.exchange(store));
    assertEquals(10, admitted(a, 20), "alone: the whole burst");
    assertEquals(10 - atB, admitted(b, 20));
    now.addAndGet(3_600 * SECOND);
    store.down = false;
    int total = 0;
    for (int i = 0; i < 8; i++) {
      a.exchange(store);
      b.exchange(store);
      total += admitted(a, 20) + admitted(b, 20);
    }
    assertEquals(10, total, "a full hour later: one whole limit, nothing old charged");
  }
}
