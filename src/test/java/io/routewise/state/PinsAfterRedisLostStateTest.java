package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.SessionPins;
import io.routewise.routing.StateListener;
import io.routewise.routing.StateSync;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Redis restarted empty between two syncs: the connections are replaced within one call, so no
 * outage is seen. A replica held its pins as shared and never asked again, while one that had not
 * seen the session pinned it afresh there: each answered it from another upstream for the rest of
 * the pin's life (a helper's trial, ten sessions of ten). Now the sync notices the store's new
 * incarnation and the pins held are offered to it again.
 */
class PinsAfterRedisLostStateTest {
  private static RedisServer redis;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    redis.close();
  }

  /** One replica's store, sync (pins only: no target) and pins. */
  private record Replica(RedisStateStore store, StateSync sync, SessionPins pins) implements AutoCloseable {
    static Replica start() {
      RedisStateStore store = new RedisStateStore(new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1),
          Duration.ofMillis(500), Duration.ofMillis(500), "routewise"));
      StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE); // synced by hand
      SessionPins pins = new SessionPins(Duration.ofMinutes(10), 10_000, store, sync::storeUp, Duration.ofMillis(500),
          StateListener.NONE, System::currentTimeMillis);
      sync.shareWith(pins);
      sync.runOnce();
      return new Replica(store, sync, pins);
    }

    @Override
    public void close() {
      pins.close();
      sync.close();
      store.close();
    }
  }

  @Test
  void pinsHeldWhenRedisRestartedEmptyEndOnTheSamePinAsTheOtherReplicas() throws Exception {
    try (Replica a = Replica.start(); Replica b = Replica.start()) {
      assertTrue(a.sync().storeUp() && b.sync().storeUp());
      String before = a.store().incarnation();
      assertEquals(before, b.store().incarnation(), "one Redis, one incarnation");
      assertNull(a.pins().pinned("conv"));
      assertEquals("strong", a.pins().pin("conv", "strong"));

      redis.kill();
      redis.restart();
      // B never saw the session: the empty Redis has no pin, so B decides afresh and pins it there.
      assertNull(b.pins().pinned("conv"));
      assertEquals("weak", b.pins().pin("conv", "weak"));
      assertEquals("strong", a.pins().pinned("conv"), "A has not synced since: its own pin");

      a.sync().runOnce();
      assertNotEquals(before, a.store().incarnation());
      assertEquals("weak", a.pins().pinned("conv"), "offered to the store again, A takes the pin there");
      b.sync().runOnce();
      assertEquals("weak", b.pins().pinned("conv"));
    }
  }

  /**
   * The replica that holds the pins offers them all at the sync that notices the loss: a replica that
   * never saw a session then finds its pin in Redis. Before, pins were offered only at their
   * sessions' next turns there, so a turn reaching another replica first was routed afresh (a
   * helper's trial: 39 to 53 sessions of 100 moved upstream).
   */
  @Test
  void aReplicaThatNeverSawASessionFindsItsPinOnceTheHolderHasSynced() throws Exception {
    try (Replica a = Replica.start(); Replica b = Replica.start()) {
      int sessions = 2_500; // more than one pipelined batch
      for (int i = 0; i < sessions; i++) {
        a.pins().pin("conv-" + i, i % 3 == 0 ? "strong" : "weak");
      }
      redis.kill();
      redis.restart();
      a.sync().runOnce();
      for (int i = 0; i < sessions; i++) {
        assertEquals(i % 3 == 0 ? "strong" : "weak", b.pins().pinned("conv-" + i), "conv-" + i);
      }
    } finally {
      try (var j = redis.client()) {
        j.flushAll();
      }
    }
  }

  /**
   * Redis at its maxmemory evicts pins, and nothing told the replica holding them: it kept answering
   * from its cache while one that never saw the session routed it afresh, for the pin's whole life
   * (a helper's trial: 22 sessions of 40 split). The sync now sees evicted_keys grow and the holder
   * offers each pin again at its session's next turn.
   */
  @Test
  void pinsEvictedByRedisAreOfferedAgainAtTheNextTurn() throws Exception {
    try (Replica a = Replica.start(); Replica b = Replica.start(); var j = redis.client()) {
      int sessions = 40;
      for (int i = 0; i < sessions; i++) {
        a.pins().pin("evicted-" + i, i % 2 == 0 ? "strong" : "weak");
      }
      long used = Long.parseLong(RedisStateStore.infoField(j.info("memory"), "used_memory"));
      j.configSet("maxmemory-policy", "volatile-lru");
      j.configSet("maxmemory", Long.toString(used + 300_000));
      String filler = "x".repeat(1_000);
      for (int i = 0; i < 2_000; i++) {
        j.psetex("filler-" + i, 3_600_000, filler); // other keys with a TTL: the eviction reaches the pins
      }
      j.configSet("maxmemory", "0");
      int gone = sessions - j.keys("routewise:pin:*").size();
      assertTrue(gone > 0, "no pin was evicted; the test proves nothing");
      a.sync().runOnce(); // sees evicted_keys grow
      for (int i = 0; i < sessions; i++) {
        String mine = a.pins().pinned("evicted-" + i); // the turn offers the pin again
        assertEquals(mine, b.pins().pinned("evicted-" + i), "evicted-" + i + " (" + gone + " pins evicted)");
      }
    } finally {
      try (var j = redis.client()) {
        j.configSet("maxmemory", "0");
        j.flushAll();
      }
    }
  }

  /** Restarted from a snapshot taken before the pin: the incarnation key came back, the pin did not. */
  @Test
  void pinsWrittenAfterTheSnapshotARedisRestartedFromAreOfferedAgain() throws Exception {
    try (Replica a = Replica.start(); Replica b = Replica.start()) {
      try (var j = redis.client()) {
        j.save();
      }
      assertEquals("strong", a.pins().pin("conv", "strong"));
      redis.restart(); // loads the snapshot: the incarnation key, no pin
      try (var j = redis.client()) {
        assertTrue(j.exists("routewise:incarnation"), "restored from the snapshot");
      }
      assertNull(b.pins().pinned("conv"));
      assertEquals("weak", b.pins().pin("conv", "weak"));
      a.sync().runOnce();
      assertEquals("weak", a.pins().pinned("conv"), "offered to the restarted store, A takes the pin there");
    } finally {
      try (var j = redis.client()) {
        j.flushAll();
        j.save(); // no snapshot with keys for the other tests' restarts
      }
    }
  }

  @Test
  void theIncarnationHoldsWhileRedisKeepsItsKeys() throws Exception {
    try (RedisStateStore s = new RedisStateStore(new StateConfig(Secret.of(redis.url()), Duration.ofSeconds(1),
        Duration.ofMillis(500), Duration.ofMillis(500), "routewise"))) {
      String first = s.incarnation();
      assertEquals(first, s.incarnation());
      try (var j = redis.client()) {
        j.flushAll();
      }
      assertNotEquals(first, s.incarnation(), "a flushed Redis lost the pins too");
    }
  }
}
