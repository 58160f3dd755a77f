package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class SharedUsageTest {
  /** A store whose claims take a while; every other call is unused here. */
  private static final class SlowClaims extends UsageOnlyStore {
    final java.util.Set<String> claimed = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public boolean claimUsage(String key, Duration ttl) throws Exception {
      Thread.sleep(100);
      return claimed.add(key);
    }
  }

  /** Claims queued when it closes still run (the store is closed after it), and close waits for them. */
  @Test
  void claimsQueuedAtCloseStillRunBeforeItReturns() {
    SharedUsage usage = new SharedUsage(new SlowClaims(), () -> true, Duration.ofSeconds(1));
    List<Boolean> answers = new CopyOnWriteArrayList<>();
    for (String key : new String[] {"a", "b", "a"}) {
      usage.claim(key, Duration.ofHours(25), answers::add);
    }
    usage.close();
    assertEquals(List.of(true, true, false), answers);
    usage.claim("c", Duration.ofHours(25), answers::add);
    assertEquals(4, answers.size(), "after close: answered at once, with no answer");
    assertEquals(null, answers.get(3));
  }

  /** Writes turned away by a full queue are said, once a minute at most (they were dropped silently). */
  @Test
  void writesAFullQueueTurnsAwayAreSaidOnce() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    UsageOnlyStore stuck = new UsageOnlyStore() {
      @Override
      public void putUsage(String key, String record, Duration ttl) throws Exception {
        release.await();
      }
    };
    SharedUsage usage = new SharedUsage(stuck, () -> true, Duration.ofSeconds(1));
    try (io.routewise.StderrCapture err = new io.routewise.StderrCapture()) {
      for (int i = 0; i < SharedUsage.CAPACITY + 50; i++) {
        usage.put("k" + i, "r", Duration.ofHours(1));
      }
      release.countDown();
      usage.drain();
      String text = err.text();
      assertEquals(1, text.split("awaited-usage queue is full", -1).length - 1, text);
      assertEquals(true, text.contains("writes or claims dropped"), text);
    } finally {
      usage.close();
    }
  }
}
