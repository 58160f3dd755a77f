package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.StateStore;
import io.routewise.routing.WindowSnapshot;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** The Redis store against a real redis-server on loopback. */
class RedisStateStoreTest {
  private static RedisServer redis;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    redis.close();
  }

  @BeforeEach
  void empty() {
    try (Jedis j = redis.client()) {
      j.flushAll();
    }
  }

  private static StateConfig config(String url, long syncMs) {
    return new StateConfig(Secret.of(url), Duration.ofMillis(syncMs), Duration.ofMillis(500), Duration.ofMillis(10),
        "routewise");
  }

  private static WindowSnapshot window(String replica, double alpha, long strong) {
    return new WindowSnapshot(replica, 1_000L, alpha, 5_000, "strong_share=0.3", List.of(
        new WindowSnapshot.Slice(41, strong, 7, 0.25, 0.01, strong, 7, new int[] {3, 700}, new long[] {2, strong}),
        new WindowSnapshot.Slice(42, 0, 1, 0, 0, 0, 0, new int[0], new long[0])));
  }

  @Test
  void eachReplicaGetsTheOthersWindowsButNotItsOwn() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000))) {
      assertEquals(List.of(), a.exchange("mf", window("ra", 0.4, 5)));
      List<WindowSnapshot> seenByB = b.exchange("mf", window("rb", 0.6, 9));
      assertEquals(1, seenByB.size());
      WindowSnapshot fromA = seenByB.get(0);
      assertEquals("ra", fromA.replica());
      assertEquals(0.4, fromA.alpha());
      assertEquals(2, fromA.slices().size());
      assertEquals(5, fromA.slices().get(0).strong());
      assertArrayEquals(new int[] {3, 700}, fromA.slices().get(0).bins());
      assertArrayEquals(new long[] {2, 5}, fromA.slices().get(0).counts());
      assertEquals(0.25, fromA.slices().get(0).spendStrong());
      assertEquals("rb", a.exchange("mf", window("ra", 0.4, 5)).get(0).replica());
      assertEquals(List.of(), a.exchange("bert", window("ra", 0.4, 5)), "windows are per router");
    }
  }

  /**
   * A Redis that answers but refuses writes (maxmemory reached; a read-only replica after a
   * failover) fails the exchange and the check, as one that is gone does, so the sync marks it down
   * and says so. Its write errors were not read: it counted as up while no replica saw the others.
   */
  @Test
  void aRedisThatRefusesWritesFailsTheExchange() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000)); Jedis admin = redis.client()) {
      a.exchange("mf", window("ra", 0.4, 5));
      a.ping();
      String before = admin.configGet("maxmemory").get("maxmemory");
      admin.configSet("maxmemory", "1");
      try {
        Exception e = assertThrows(Exception.class, () -> a.exchange("mf", window("ra", 0.4, 5)));
        assertTrue(e.getMessage().startsWith("OOM"), e.getMessage());
        assertThrows(Exception.class, a::ping);
      } finally {
        admin.configSet("maxmemory", before);
      }
      a.exchange("mf", window("ra", 0.4, 5));
      a.ping();
    }
  }

  /** A Redis user not allowed INFO (managed Redis may limit it) still shares state: the version is only a warning's. */
  @Test
  void aUserWithoutInfoStillSharesState() throws Exception {
    try (Jedis admin = redis.client()) {
      admin.aclSetUser("noinfo", "on", ">pw", "~*", "+@all", "-info");
    }
    String url = redis.url().replace("redis://", "redis://noinfo:pw@");
    try (RedisStateStore s = new RedisStateStore(config(url, 1000))) {
      s.ping();
      assertEquals("weak", s.pinIfAbsent("sess", "weak", Duration.ofMinutes(1)).upstream());
      s.ping();
    } finally {
      try (Jedis admin = redis.client()) {
        admin.aclDelUser("noinfo");
      }
    }
  }

  @Test
  void theServersVersionIsReadFromInfo() throws Exception {
    assertEquals("6.2.14", RedisStateStore.serverVersion("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"));
    assertEquals(6, RedisStateStore.major("6.2.14"));
    assertNull(RedisStateStore.serverVersion("# Server\r\n"));
    try (Jedis j = redis.client()) {
      String version = RedisStateStore.serverVersion(j.info("server"));
      assertTrue(RedisStateStore.major(version) >= 7, "the tests' redis-server (pins need 7.0): " + version);
    }
  }

  @Test
  void aReplicaThatStopsPublishingDropsOutOfTheMergeAndTheSet() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 100));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 100))) {
      a.exchange("mf", window("ra", 0.4, 5));
      assertEquals(1, b.exchange("mf", window("rb", 0.6, 9)).size());
      Thread.sleep(RedisStateStore.windowTtl(Duration.ofMillis(100)).toMillis() + 300); // a is gone
      assertEquals(List.of(), b.exchange("mf", window("rb", 0.6, 9)));
      try (Jedis j = redis.client()) {
        assertEquals(java.util.Set.of("rb"), j.smembers("routewise:replicas:mf"));
      }
    }
  }

  /** A window this build cannot read (another version's) is left out of the merge, and said once. */
  @Test
  void anUnreadableWindowIsLeftOutAndSaidOnce() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000)); Jedis j = redis.client();
        io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      j.sadd("routewise:replicas:sw", "r-next");
      j.set("routewise:window:sw:r-next", "rw2 r-next 1000 0.5 5000 strong_share=0.3 extra");
      for (int i = 0; i < 3; i++) {
        assertEquals(List.of(), a.exchange("sw", window("ra", 0.4, 5)));
      }
      String text = log.text();
      assertTrue(text.contains("replica r-next's window for router-sw-auto is not one this build reads"), text);
      assertEquals(text.indexOf("r-next's window"), text.lastIndexOf("r-next's window"), "said once: " + text);
    }
  }

  @Test
  void aSessionIsPinnedOnceAndThePinCarriesItsRemainingLife() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000))) {
      assertNull(a.pin("abc"));
      StateStore.Pin first = a.pinIfAbsent("abc", "weak", Duration.ofMinutes(5));
      assertEquals("weak", first.upstream());
      StateStore.Pin second = b.pinIfAbsent("abc", "strong", Duration.ofMinutes(5));
      assertEquals("weak", second.upstream(), "set if absent: the first pin holds");
      StateStore.Pin read = b.pin("abc");
      assertEquals("weak", read.upstream());
      assertTrue(read.remainingMillis() > 0 && read.remainingMillis() <= Duration.ofMinutes(5).toMillis());
      try (Jedis j = redis.client()) {
        assertEquals("weak", j.get("routewise:pin:abc"));
      }
    }
  }

  @Test
  void theDatabaseAndPrefixInTheConfigAreTheOnesWrittenTo() throws Exception {
    StateConfig cfg = new StateConfig(Secret.of("redis://127.0.0.1:" + redis.port() + "/3"), Duration.ofSeconds(1),
        Duration.ofMillis(500), Duration.ofMillis(10), "team-a");
    try (RedisStateStore s = new RedisStateStore(cfg); Jedis j = redis.client()) {
      s.pinIfAbsent("x", "strong", Duration.ofMinutes(1));
      assertNull(j.get("team-a:pin:x"), "not in database 0");
      j.select(3);
      assertEquals("strong", j.get("team-a:pin:x"));
    }
  }

  @Test
  void aKilledRedisFailsFastAndTheSameStoreWorksAgainOnceItIsBack() throws Exception {
    try (RedisStateStore s = new RedisStateStore(config(redis.url(), 1000))) {
      s.exchange("mf", window("ra", 0.4, 5));
      redis.kill();
      long start = System.nanoTime();
      assertThrows(Exception.class, () -> s.exchange("mf", window("ra", 0.4, 5)));
      assertThrows(Exception.class, s::ping);
      assertThrows(Exception.class, () -> s.pin("abc"));
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertTrue(ms < 3 * 500 + 1_000, "three calls to a dead Redis took " + ms + " ms (timeout 500 ms each)");
      redis.restart();
      s.ping();
      assertEquals(List.of(), s.exchange("mf", window("ra", 0.4, 5)));
    }
  }

  @Test
  void aConnectionLeftIdleAcrossARedisRestartIsReplacedWithoutFailingTheCall() throws Exception {
    try (RedisStateStore s = new RedisStateStore(config(redis.url(), 1000))) {
      assertEquals("strong", s.pinIfAbsent("abc", "strong", Duration.ofMinutes(1)).upstream());
      redis.kill();
      redis.restart(); // nothing called meanwhile: this thread's connection still looks open
      assertNull(s.pin("abc"), "the restarted Redis has no pins; the broken connection is not an error");
      assertEquals("weak", s.pinIfAbsent("abc", "weak", Duration.ofMinutes(1)).upstream());
      assertEquals("weak", s.pin("abc").upstream());
    }
  }
}
