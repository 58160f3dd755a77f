package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What the sync tells the session pins about the store: a lost state, evictions, pins it has not taken. */
class StateSyncPinsTest {
  private static final long T0 = 1_700_000_000_000L;

  /** A store whose incarnation and eviction count the test sets before each sync. */
  private static final class Store extends MapPinStore {
    volatile String incarnation = "key/node-a";
    volatile long evicted;
    volatile boolean evictedTimesOut;
    volatile boolean takesPins = true;
    /** Bulk offers by the sync (a lost state offers every pin held in one here), and the turns' pin calls. */
    final AtomicInteger bulkOffers = new AtomicInteger();
    final AtomicInteger turnCalls = new AtomicInteger();

    @Override
    public Pin pin(String session) throws Exception {
      turnCalls.incrementAndGet();
      return super.pin(session);
    }

    /** From the pin threads: the turns' writes, one per session; from the sync thread: one bulk offer. */
    @Override
    public Map<String, Pin> pinAllIfAbsent(Map<String, Pin> offers) throws Exception {
      if (Thread.currentThread().getName().startsWith("routewise-pins")) {
        turnCalls.addAndGet(offers.size());
      } else {
        bulkOffers.incrementAndGet();
      }
      return super.pinAllIfAbsent(offers);
    }

    @Override
    public String incarnation() {
      return incarnation;
    }

    @Override
    public long evictedKeys() throws Exception {
      if (evictedTimesOut) {
        throw new java.net.SocketTimeoutException("Read timed out");
      }
      return evicted;
    }

    @Override
    public boolean takesPins() {
      return takesPins;
    }
  }

  private static SessionPins pins(Store store, StateSync sync, java.util.function.LongSupplier clock) {
    SessionPins pins = new SessionPins(Duration.ofHours(1), 100, store, sync::storeUp, Duration.ofSeconds(5),
        StateListener.NONE, clock);
    sync.shareWith(pins);
    return pins;
  }

  /**
   * An endpoint whose INFO answers from one of two nodes in turn (a proxy in front of a cluster) names
   * two run_ids: the second is news once, not at every sync. Each change counted as a lost state, so
   * every replica offered its whole cache of pins to Redis every second (a review).
   */
  @Test
  void onlyAnIncarnationNeverSeenIsALostState() {
    Store store = new Store();
    AtomicInteger lost = store.bulkOffers;
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = pins(store, sync, System::currentTimeMillis)) {
      sync.runOnce();
      assertEquals("strong", pins.pin("conversation", "strong"));
      assertEquals(0, lost.get(), "the first seen is no loss");
      store.incarnation = "key/node-b";
      sync.runOnce();
      assertEquals(1, lost.get(), "a run_id never seen: a restarted Redis, as far as this replica can tell");
      for (int i = 0; i < 10; i++) {
        store.incarnation = i % 2 == 0 ? "key/node-a" : "key/node-b";
        sync.runOnce();
      }
      assertEquals(1, lost.get(), "the two nodes in turn are not news");
      store.incarnation = "key/node-a-restarted";
      sync.runOnce();
      assertEquals(2, lost.get());
      store.incarnation = "flushed-key/node-a-restarted";
      sync.runOnce();
      assertEquals(3, lost.get(), "a flush: the incarnation key is new");
      store.incarnation = null;
      sync.runOnce();
      assertEquals(3, lost.get(), "a store that cannot tell");
    }
  }

  /**
   * The incarnations kept are the most recently seen: a node seen at every sync is never forgotten
   * however many others come and go. The set kept first sights, so after enough restarts of other
   * nodes it dropped one in use, which was then news at every sync (a review).
   */
  @Test
  void theIncarnationsKeptAreTheMostRecentlySeen() {
    Store store = new Store();
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = pins(store, sync, System::currentTimeMillis)) {
      store.incarnation = "key/node-a";
      sync.runOnce();
      pins.pin("s", "strong");
      for (int i = 0; i < StateSync.INCARNATIONS_KEPT + 10; i++) {
        store.incarnation = "key/node-b-restart-" + i; // node b restarts again and again
        sync.runOnce();
        store.incarnation = "key/node-a"; // node a answers in between
        sync.runOnce();
      }
      assertEquals(StateSync.INCARNATIONS_KEPT + 10, store.bulkOffers.get(), "each of b's restarts, never a");
    }
  }

  /**
   * A sync that saw a new incarnation and then failed (its INFO stats timed out) had taken it as seen:
   * the next sync did not offer the lost pins, kept as shared for their whole life (a review).
   */
  @Test
  void aLostStateSeenByASyncThatThenFailedIsActedOnByTheNext() {
    Store store = new Store();
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = pins(store, sync, System::currentTimeMillis)) {
      sync.runOnce();
      pins.pin("s", "strong");
      store.pins.clear(); // Redis restarted empty
      store.incarnation = "key/node-a-restarted";
      store.evictedTimesOut = true;
      sync.runOnce();
      store.evictedTimesOut = false;
      sync.runOnce();
      sync.runOnce();
      assertEquals(1, store.bulkOffers.get(), "the lost pins offered once, by the sync that worked");
      assertEquals("strong", store.pins.get(SessionPins.key("s")));
    }
  }

  /**
   * Evictions are counted per node: behind a proxy INFO comes from each in turn (evicted_keys 100, 0,
   * 100...), which is no eviction. Taken as one, every pin was re-checked at every turn (a review).
   */
  @Test
  void evictionsAreCountedPerIncarnation() {
    Store store = new Store();
    ManualClock clock = new ManualClock(T0);
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = pins(store, sync, clock)) {
      store.evicted = 100;
      sync.runOnce();
      for (int i = 0; i < 10; i++) {
        pins.pin("s" + i, "strong");
      }
      int before = store.turnCalls.get();
      for (int round = 0; round < 10; round++) {
        store.incarnation = round % 2 == 0 ? "key/node-b" : "key/node-a";
        store.evicted = round % 2 == 0 ? 0 : 100;
        sync.runOnce();
        clock.advance(1000);
        for (int i = 0; i < 10; i++) {
          assertEquals("strong", pins.pinned("s" + i));
        }
      }
      assertEquals(0, store.turnCalls.get() - before, "turns answered from the cache");
      store.incarnation = "key/node-a";
      store.evicted = 101; // node a evicted one key: any pin may be it
      sync.runOnce();
      for (int i = 0; i < 10; i++) {
        assertEquals("strong", pins.pinned("s" + i));
      }
      assertEquals(10, store.turnCalls.get() - before, "each pin offered again at its next turn");
      for (int i = 0; i < 10; i++) {
        pins.pinned("s" + i);
      }
      assertEquals(10, store.turnCalls.get() - before, "once");
    }
  }

  /**
   * A Redis before 7.0 cannot hold pins (no SET NX GET): each replica keeps its own, and none is
   * offered or looked up there. After the offers were retried, every turn asked again each second and
   * every sync sent a failing batch and logged it (a review).
   */
  @Test
  void aStoreThatCannotHoldPinsIsNeverAskedForThem() {
    Store store = new Store();
    store.takesPins = false;
    ManualClock clock = new ManualClock(T0);
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = pins(store, sync, clock)) {
      sync.runOnce();
      assertEquals(null, pins.pinned("s"));
      assertEquals("strong", pins.pin("s", "strong"));
      for (int i = 0; i < 5; i++) {
        store.incarnation = "key/node-" + i; // even a lost state
        sync.runOnce();
        clock.advance(1000);
        assertEquals("strong", pins.pinned("s"));
      }
      assertEquals(0, store.turnCalls.get());
      assertEquals(0, store.bulkOffers.get());
    }
  }
}
