package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.StateStore;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * A background response's awaited usage in Redis: its keys apart from the sessions' pins (a client
 * names a session, never one of these), their lifetimes in milliseconds, a claim made once.
 */
class RedisUsageKeysTest {
  private static RedisStateStore store(RedisServer redis) {
    return new RedisStateStore(new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1), Duration.ofMillis(500),
        Duration.ofMillis(10), "routewise"));
  }

  @Test
  void usageKeysHaveTheirNamesLifetimesAndOneClaim() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis);
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
   * What each replica's requests under way hold: one key a replica, rewritten whole, expiring as its
   * window does (3 s here), so a replica that stops holds nothing soon after; the others' summed by
   * client, lines no replica writes left out.
   */
  @Test
  void holdsAreOneKeyAReplicaThatExpires() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis);
        Jedis j = redis.client()) {
      assertEquals(StateStore.OthersHolds.NONE, s.shareHolds("r1-a", Map.of("batch", new StateStore.Held(0.5, 2))));
      assertEquals(new StateStore.OthersHolds(1, Map.of("batch", new StateStore.Held(0.5, 2))),
          s.shareHolds("r2-b", Map.of("search", new StateStore.Held(0.1, 1))));
      assertEquals(new StateStore.OthersHolds(1, Map.of("search", new StateStore.Held(0.1, 1))),
          s.shareHolds("r1-a", Map.of()));
      assertEquals(new StateStore.OthersHolds(1, Map.of()), s.shareHolds("r2-b", Map.of()),
          "a replica holding nothing is one that shares the budget still");
      s.shareHolds("r1-a", Map.of("batch", new StateStore.Held(0.5, 2)));
      j.set("routewise:held:r3-c", "batch 0.25 1\njunk\nbatch -1 1\nsearch x 1\n");
      j.sadd("routewise:held-replicas", "r3-c");
      StateStore.OthersHolds others = s.shareHolds("r2-b", Map.of());
      assertEquals(2, others.replicas());
      assertEquals(0.75, others.byClient().get("batch").usd(), 1e-12);
      assertEquals(3, others.byClient().get("batch").inFlight());
      assertEquals(null, others.byClient().get("search"), "r2-b's own, now none");
      assertTrue(Math.abs(j.pttl("routewise:held:r2-b") - 3_000) < 1_000, "as a window: " + j.pttl("routewise:held:r2-b"));
      j.del("routewise:held:r1-a", "routewise:held:r3-c"); // expired
      assertEquals(StateStore.OthersHolds.NONE, s.shareHolds("r2-b", Map.of()));
      assertEquals(java.util.Set.of("r2-b"), j.smembers("routewise:held-replicas"), "gone ones leave the set");
    }
  }

  /**
   * A named client's spend in one budget period: one hash field per replica, written whole (so a
   * write done twice counts once), read back by replica; a value no replica writes is left out.
   */
  @Test
  void clientSpendIsOneFieldPerReplicaSummed() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis);
        Jedis j = redis.client()) {
      String key = "batch:1796083200";
      assertEquals(Map.of(key, Map.of("r1-a", 0.25)), s.shareSpend("r1-a", Map.of(key, spend(0.25))));
      assertEquals(Map.of("r1-a", 0.25, "r2-b", 0.5), s.shareSpend("r2-b", Map.of(key, spend(0.5))).get(key));
      assertEquals(Map.of("r1-a", 0.25, "r2-b", 0.5), s.shareSpend("r2-b", Map.of(key, spend(0.5))).get(key),
          "again: the same");
      j.hset("routewise:spend:" + key, "rogue", "-5");
      j.hset("routewise:spend:" + key, "junk", "lots");
      Map<String, Map<String, Double>> both = s.shareSpend("r1-a", Map.of(key, spend(0.35), "search:1796083200", spend(0.1)));
      assertEquals(Map.of("r1-a", 0.35, "r2-b", 0.5), both.get(key), "what no replica writes is left out");
      assertEquals(Map.of("r1-a", 0.1), both.get("search:1796083200"), "every client in one call");
      assertTrue(Math.abs(j.pttl("routewise:spend:" + key) - 90_000_000L) < 5_000);
      assertEquals("0.35", j.hget("routewise:spend:" + key, "r1-a"));
    }
  }

  /**
   * A Redis that refuses writes (full, a read-only replica) throws, so the sync marks it down: its
   * writes were not read, and a spend never written looked shared (review). A key of another type
   * is left out, the store still up for the rest.
   */
  @Test
  void aRedisRefusingWritesThrowsAndAKeyOfAnotherTypeIsLeftOut() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis);
        Jedis j = redis.client()) {
      j.set("routewise:spend:old:1796083200", "0.3");
      Map<String, Map<String, Double>> sums = s.shareSpend("r1-a", Map.of("old:1796083200", spend(0.1), "batch:1796083200", spend(0.2)));
      assertEquals(Map.of("batch:1796083200", Map.of("r1-a", 0.2)), sums);
      j.configSet("maxmemory", "1");
      try {
        org.junit.jupiter.api.Assertions.assertThrows(redis.clients.jedis.exceptions.JedisDataException.class,
            () -> s.shareSpend("r1-a", Map.of("batch:1796083200", spend(0.4))));
      } finally {
        j.configSet("maxmemory", "0");
      }
    }
  }

  private static StateStore.Spend spend(double usd) {
    return new StateStore.Spend(usd, Duration.ofHours(25));
  }

  /**
   * A Redis restarted empty mid-period forgets no client's spend: each replica writes its whole spend
   * again at its next exchange (a total added to would have started again from what came since).
   */
  @Test
  void aRedisRestartedEmptyForgetsNoSpend() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis)) {
      io.routewise.routing.ClientBudgets a = new io.routewise.routing.ClientBudgets(
          Map.of("batch", new io.routewise.config.ClientKey.Budget(1.0, io.routewise.config.ClientKey.Period.DAY)),
          System::currentTimeMillis);
      a.spent("batch", 1.0, 0, 100);
      a.exchange(s);
      redis.restart();
      try {
        a.exchange(s);
      } catch (Exception reconnecting) {
        a.exchange(s);
      }
      assertTrue(a.exhaustedFor("batch") > 0);
      try (Jedis j = redis.client()) {
        assertEquals(1, j.keys("routewise:spend:batch:*").size(), "written again");
      }
    }
  }

  /**
   * What a Redis restarted empty lost of a replica stopped earlier in the period stays spent while the
   * live replicas spend more: before, a replica kept only the higher of the two sums, so once another
   * live replica's new spend passed what was lost, the lost spend was forgotten and the client spent it
   * again (here 1.1 of a 1.0 budget spent, while the replica read 0.7 and let requests through).
   */
  @Test
  void spendARedisRestartedEmptyLostStaysSpentWhileOthersSpendMore() throws Exception {
    try (RedisServer redis = RedisServer.start();
        RedisStateStore s = store(redis)) {
      java.util.function.Supplier<io.routewise.routing.ClientBudgets> replica = () -> new io.routewise.routing.ClientBudgets(
          Map.of("batch", new io.routewise.config.ClientKey.Budget(1.0, io.routewise.config.ClientKey.Period.DAY)),
          System::currentTimeMillis);
      io.routewise.routing.ClientBudgets gone = replica.get();
      io.routewise.routing.ClientBudgets a = replica.get();
      io.routewise.routing.ClientBudgets b = replica.get();
      gone.spent("batch", 0.5, 0, 100);
      gone.exchange(s); // then it stops (a deploy replaced it)
      b.spent("batch", 0.2, 0, 100);
      b.exchange(s);
      a.exchange(s);
      assertEquals(0.7, a.spentThisPeriod("batch"), 1e-9);
      redis.restart();
      for (io.routewise.routing.ClientBudgets r : java.util.List.of(b, a)) {
        try {
          r.exchange(s);
        } catch (Exception reconnecting) {
          r.exchange(s);
        }
      }
      b.spent("batch", 0.4, 0, 100); // b has spent 0.6 now
      b.exchange(s);
      a.exchange(s);
      assertEquals(1.1, a.spentThisPeriod("batch"), 1e-9, "the stopped replica's 0.5 and b's 0.6");
      assertTrue(a.exhaustedFor("batch") > 0);
    }
  }
}
