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
}
