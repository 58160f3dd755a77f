package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class StateSyncIncarnationTest {
  /** A store whose incarnation the test sets before each sync. */
  private static final class Store implements StateStore {
    volatile String incarnation;
    final AtomicInteger bulkOffers = new AtomicInteger();

    @Override
    public java.util.Map<String, Pin> pinAllIfAbsent(java.util.Map<String, Pin> offers) throws Exception {
      bulkOffers.incrementAndGet();
      return StateStore.super.pinAllIfAbsent(offers);
    }

    @Override
    public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
      return List.of();
    }

    @Override
    public void ping() {}

    @Override
    public Pin pin(String session) {
      return null;
    }

    @Override
    public Pin pinIfAbsent(String session, String upstream, Duration ttl) {
      return new Pin(upstream, ttl.toMillis());
    }

    @Override
    public String incarnation() {
      return incarnation;
    }

    @Override
    public String describe() {
      return "test store";
    }

    @Override
    public void close() {}
  }

  /**
   * An endpoint whose INFO answers from one of two nodes in turn (a proxy in front of a cluster) names
   * two run_ids: the second is news once, not at every sync. Each change counted as a lost state, so
   * every replica offered its whole cache of pins to Redis every second (a review).
   */
  @Test
  void onlyAnIncarnationNeverSeenIsALostState() {
    Store store = new Store();
    AtomicInteger lost = store.bulkOffers; // a lost state offers the store every pin held, in one call here
    try (StateSync sync = new StateSync(List.of(), store, Duration.ofHours(1), StateListener.NONE);
        SessionPins pins = new SessionPins(Duration.ofHours(1), 100, store, sync::storeUp, Duration.ofSeconds(5),
            StateListener.NONE, System::currentTimeMillis)) {
      sync.shareWith(pins);
      store.incarnation = "key/node-a";
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
}
