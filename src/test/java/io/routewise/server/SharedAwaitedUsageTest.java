package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.SharedUsage;
import io.routewise.routing.StateStore;
import io.routewise.upstream.Usage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two replicas' records of awaited background usage over one store (in memory, on a hand-moved
 * clock): counted once whichever replica relays the poll that shows it done, given up on only when
 * no replica relayed a poll of it for the TTL.
 */
class SharedAwaitedUsageTest {
  private final AtomicLong nanos = new AtomicLong();
  private final MemoryUsageStore store = new MemoryUsageStore(nanos::get);
  private final java.util.concurrent.atomic.AtomicBoolean up = new java.util.concurrent.atomic.AtomicBoolean(true);
  private final SharedUsage usage = new SharedUsage(store, up::get, Duration.ofSeconds(2));
  private final List<String> counted = new ArrayList<>();
  private final List<String> lost = new ArrayList<>();
  private final StoredResponses a = replica("a");
  private final StoredResponses b = replica("b");

  private StoredResponses replica(String name) {
    return replica(name, usage);
  }

  private StoredResponses replica(String name, SharedUsage shared) {
    return new StoredResponses(100, null, new StoredResponses.UsageMeter() {
      @Override
      public void counted(StoredResponses.AwaitedUsage awaited, Usage u) {
        synchronized (counted) {
          counted.add(name + ":" + u.prompt());
        }
      }

      @Override
      public void lost(StoredResponses.AwaitedUsage awaited) {
        synchronized (lost) {
          lost.add(name);
        }
      }
    }, () -> shared, nanos::get);
  }

  @AfterEach
  void close() {
    usage.close();
  }

  private void routedAtA(String id) throws Exception {
    a.answered(id, "weak");
    a.awaitUsage(id, new StoredResponses.AwaitedUsage("weak", true, null));
    usage.drain();
  }

  @Test
  void countedOnceByTheReplicaThatRelaysThePollThatShowsItDone() throws Exception {
    routedAtA("resp_1");
    assertTrue(b.awaitsUsage("resp_1"), "B learns it from the record");
    b.finished("resp_1", new Usage(120, 30));
    usage.drain();
    assertTrue(a.awaitsUsage("resp_1"), "A still holds its own");
    a.finished("resp_1", new Usage(120, 30));
    usage.drain();
    assertEquals(List.of("b:120"), counted);
    assertFalse(b.awaitsUsage("resp_1"), "counted: not awaited any more");
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    a.awaitsUsage("resp_other"); // A gives its record up: counted elsewhere, so not lost
    usage.drain();
    usage.drain();
    assertEquals(List.of(), lost);
  }

  /** Polled only at B for over an hour: A gives up nothing, and B's count holds. */
  @Test
  void pollsAtAnotherReplicaKeepItAwaited() throws Exception {
    routedAtA("resp_1");
    assertTrue(b.awaitsUsage("resp_1"));
    for (int i = 0; i < 8; i++) { // a poll at B every 15 minutes, for two hours
      nanos.addAndGet(Duration.ofMinutes(15).toNanos());
      assertTrue(b.awaitsUsage("resp_1"));
      usage.drain();
      a.awaitsUsage("resp_other"); // A's own expiry runs
      usage.drain();
      usage.drain();
    }
    assertEquals(List.of(), lost, "not given up while polled elsewhere");
    b.finished("resp_1", new Usage(120, 30));
    usage.drain();
    usage.drain();
    assertEquals(List.of("b:120"), counted);
  }

  /** Polled nowhere for the TTL: given up once, by the replica that routed it. */
  @Test
  void polledNowhereForTheTtlIsGivenUpOnceByItsOwnReplica() throws Exception {
    routedAtA("resp_1");
    assertTrue(b.awaitsUsage("resp_1"));
    usage.drain(); // the poll's keep lands before the clock moves
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    a.awaitsUsage("resp_other");
    b.awaitsUsage("resp_other");
    usage.drain();
    usage.drain();
    assertEquals(List.of("a"), lost);
  }

  /** What this replica relayed and does not await costs no lookup in the store. */
  @Test
  void aResponseRelayedHereAndNotAwaitedAsksTheStoreNothing() throws Exception {
    a.answered("resp_plain", "weak");
    int before = store.lookups;
    for (int i = 0; i < 5; i++) {
      assertFalse(a.awaitsUsage("resp_plain"));
    }
    assertEquals(before, store.lookups);
  }

  /** A response passed through here, counted or not awaited, is answered here too: its polls ask no store. */
  @Test
  void aResponsePassedThroughHereAsksTheStoreNothing() throws Exception {
    a.passedThrough("resp_p", "strong");
    a.awaitUsage("resp_p", new StoredResponses.AwaitedUsage("strong", false, null, "batch", "mini-model"));
    usage.drain();
    assertTrue(a.awaitsUsage("resp_p"));
    a.finished("resp_p", new Usage(120, 30));
    usage.drain();
    a.passedThrough("resp_q", "strong");
    int before = store.lookups;
    for (int i = 0; i < 5; i++) {
      assertFalse(a.awaitsUsage("resp_p"));
      assertFalse(a.awaitsUsage("resp_q"));
    }
    assertEquals(before, store.lookups);
  }

  /**
   * One lookup that fails as the routing replica's entry expires is no answer, not "gone": the
   * response stays awaited there, and the count the polling replica makes holds (a review's case:
   * before, it was counted lost and the real count refused).
   */
  @Test
  void aFailedLookupAtTheRoutingReplicasExpiryGivesNothingUp() throws Exception {
    routedAtA("resp_1");
    for (int i = 0; i < 5; i++) { // polled at B every 15 minutes, never at A
      assertTrue(b.awaitsUsage("resp_1"));
      usage.drain();
      nanos.addAndGet(Duration.ofMinutes(15).toNanos());
    }
    store.failLookups = true;
    a.awaitUsage("resp_2", new StoredResponses.AwaitedUsage("weak", true, null)); // A's expiry runs
    usage.drain();
    usage.drain();
    store.failLookups = false;
    assertTrue(b.awaitsUsage("resp_1"));
    b.finished("resp_1", new Usage(120, 30));
    usage.drain();
    usage.drain();
    assertEquals(List.of("b:120"), counted);
    assertEquals(List.of(), lost);
  }

  /** Retrieves of a counted response, at any replica, for longer than its claim lives: counted once. */
  @Test
  void retrievesOfACountedResponseNeverCountItAgain() throws Exception {
    routedAtA("resp_1");
    assertTrue(b.awaitsUsage("resp_1"));
    b.finished("resp_1", new Usage(120, 30));
    usage.drain();
    usage.drain();
    long end = nanos.get() + StoredResponses.CLAIM_TTL.toNanos() + Duration.ofHours(2).toNanos();
    while (nanos.get() < end) { // a retrieve at each replica every 30 minutes
      nanos.addAndGet(Duration.ofMinutes(30).toNanos());
      for (StoredResponses r : new StoredResponses[] {a, b}) {
        if (r.awaitsUsage("resp_1")) {
          r.finished("resp_1", new Usage(120, 30));
        }
        usage.drain();
        usage.drain();
      }
    }
    assertEquals(List.of("b:120"), counted);
    assertEquals(List.of(), lost);
  }

  /**
   * README: a replica that cannot reach the store when the done poll comes cannot learn of the
   * response, so does not count it; its own replica counts it unmetered once no poll kept it.
   */
  @Test
  void aDonePollAtAnotherReplicaWhileTheStoreIsDownIsCountedUnmeteredByItsOwn() throws Exception {
    routedAtA("resp_1");
    up.set(false);
    assertFalse(b.awaitsUsage("resp_1"));
    up.set(true);
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    a.awaitsUsage("resp_other");
    usage.drain();
    usage.drain();
    usage.drain();
    assertEquals(List.of(), counted);
    assertEquals(List.of("a"), lost);
  }

  /**
   * Lookups that timed out on their requests are skipped, and take at most half the queue: a burst of
   * them with the store slow cannot turn a claim away (before, the claim had no answer and the usage
   * was counted a second time).
   */
  @Test
  void aBurstOfLookupsCannotTurnAClaimAway() throws Exception {
    SharedUsage atB = new SharedUsage(store, up::get, Duration.ofMillis(50));
    StoredResponses b2 = replica("b", atB);
    try {
      routedAtA("resp_1");
      assertTrue(b2.awaitsUsage("resp_1"));
      a.finished("resp_1", new Usage(120, 30));
      usage.drain();
      usage.drain();
      assertEquals(List.of("a:120"), counted);
      store.lookupMillis = 20;
      java.util.concurrent.atomic.AtomicBoolean polling = new java.util.concurrent.atomic.AtomicBoolean(true);
      List<Thread> gets = new ArrayList<>();
      for (int i = 0; i < 1200; i++) { // retrieves at B of responses another replica relayed
        int n = i;
        gets.add(Thread.ofVirtual().start(() -> {
          for (int k = 0; polling.get(); k++) {
            b2.awaitsUsage("resp_x" + n + "_" + k);
          }
        }));
      }
      Thread.sleep(300);
      b2.finished("resp_1", new Usage(120, 30)); // the client's poll at B shows it done too
      polling.set(false);
      for (Thread t : gets) {
        t.join();
      }
      store.lookupMillis = 0;
      atB.drain();
      assertEquals(List.of("a:120"), counted);
    } finally {
      store.lookupMillis = 0;
      atB.close();
    }
  }

  /** Give-up lookups at an expiry take lookups' places only: a claim still finds room (a review's case). */
  @Test
  void manyGiveUpLookupsCannotTurnAClaimAway() throws Exception {
    SharedUsage atA = new SharedUsage(store, up::get, Duration.ofSeconds(2));
    StoredResponses a2 = replica("a", atA);
    try {
      for (int i = 0; i < 1500; i++) {
        a2.awaitUsage("old_" + i, new StoredResponses.AwaitedUsage("weak", true, null));
      }
      atA.drain();
      nanos.addAndGet(Duration.ofMinutes(50).toNanos());
      a2.answered("resp_1", "weak");
      a2.awaitUsage("resp_1", new StoredResponses.AwaitedUsage("weak", true, null));
      atA.drain();
      assertTrue(b.awaitsUsage("resp_1"));
      usage.drain();
      nanos.addAndGet(Duration.ofMinutes(11).toNanos());
      store.lookupMillis = 5;
      assertTrue(a2.awaitsUsage("resp_1")); // its expiry: 1500 give-up lookups
      a2.finished("resp_1", new Usage(120, 30));
      b.finished("resp_1", new Usage(120, 30));
      usage.drain();
      store.lookupMillis = 0;
      for (int i = 0; i < 5; i++) {
        atA.drain();
      }
      usage.drain();
      assertEquals(1, counted.size(), "counted " + counted);
    } finally {
      store.lookupMillis = 0;
      atA.close();
    }
  }

  /** Pushed out by the bound while the store is down: counted unmetered here, not dropped. */
  @Test
  void pushedOutByTheBoundWithTheStoreDownIsCountedUnmetered() throws Exception {
    up.set(false);
    for (int i = 0; i <= StoredResponses.MAX_AWAITED; i++) {
      a.awaitUsage("r_" + i, new StoredResponses.AwaitedUsage("weak", true, null));
    }
    assertEquals(List.of("a"), lost);
  }

  /** While its expiry is being checked, a poll at the routing replica that shows it done counts it. */
  @Test
  void aPollDuringTheExpiryCheckStillCountsIt() throws Exception {
    routedAtA("resp_1");
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    store.lookupMillis = 1_000;
    a.awaitUsage("resp_2", new StoredResponses.AwaitedUsage("weak", true, null)); // its expiry: checked for a second
    Thread.sleep(50);
    assertTrue(a.awaitsUsage("resp_1"), "still awaited while checked");
    a.finished("resp_1", new Usage(120, 30));
    store.lookupMillis = 0;
    usage.drain();
    usage.drain();
    assertEquals(List.of("a:120"), counted);
    assertEquals(List.of(), lost, "the check's answer comes after: it finds it counted");
  }
}
