package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.StateStore;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * A background response's awaited usage in Redis: its keys apart from the sessions' pins (a client
 * names a session, never one of these), their lifetimes in milliseconds, a claim made once.
 */
class RedisUsageKeysTest {
  @Test
  void usageKeysHaveTheirNamesLifetimesAndOneClaim() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = new RedisStateStore(new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1),
            Duration.ofMillis(500), Duration.ofMillis(10), "routewise"));
        Jedis j = redis.client()) {
      s.putUsage("ab12", "weak\t1\t", Duration.ofHours(1));
      assertEquals("weak\t1\t", j.get("routewise:usage:ab12"));
      assertEquals("weak\t1\t", s.usage("ab12"));
      assertTrue(Math.abs(j.pttl("routewise:usage:ab12") - 3_600_000) < 5_000);
      j.pexpire("routewise:usage:ab12", 1_000);
      s.keepUsage("ab12", Duration.ofHours(1));
      assertTrue(Math.abs(j.pttl("routewise:usage:ab12") - 3_600_000) < 5_000, "kept: an hour again");
      assertTrue(s.claimUsage("ab12", Duration.ofHours(25)));
      assertEquals(false, s.claimUsage("ab12", Duration.ofHours(25)), "once");
      long claimTtl = j.pttl("routewise:usage-claim:ab12");
      assertTrue(Math.abs(claimTtl - 90_000_000L) < 5_000, "a claim lives 25 h, was " + claimTtl);
      assertEquals(StateStore.USAGE_CLAIMED, s.usage("ab12"), "claimed: awaited no more, whatever the record");
      assertEquals(null, s.usage("cd34"));
      assertEquals(0, j.keys("routewise:pin:*").size(), "none among the sessions' pins");
    }
  }

  /**
   * A named client's spend in one budget period: one hash field per replica, written whole (so a
   * write done twice counts once), summed; a value no replica writes is left out.
   */
  @Test
  void clientSpendIsOneFieldPerReplicaSummed() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = new RedisStateStore(new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1),
            Duration.ofMillis(500), Duration.ofMillis(10), "routewise"));
        Jedis j = redis.client()) {
      assertEquals(0.25, s.shareSpend("batch:1796083200", "r1-a", 0.25, Duration.ofHours(25)), 1e-12);
      assertEquals(0.75, s.shareSpend("batch:1796083200", "r2-b", 0.5, Duration.ofHours(25)), 1e-12);
      assertEquals(0.75, s.shareSpend("batch:1796083200", "r2-b", 0.5, Duration.ofHours(25)), 1e-12, "again: the same");
      j.hset("routewise:spend:batch:1796083200", "rogue", "-5");
      j.hset("routewise:spend:batch:1796083200", "junk", "lots");
      assertEquals(0.85, s.shareSpend("batch:1796083200", "r1-a", 0.35, Duration.ofHours(25)), 1e-12);
      assertTrue(Math.abs(j.pttl("routewise:spend:batch:1796083200") - 90_000_000L) < 5_000);
      assertEquals("0.35", j.hget("routewise:spend:batch:1796083200", "r1-a"));
    }
  }
}
