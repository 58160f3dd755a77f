package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Races between a turn, the sync and close() around the pin threads (a review; each failed before its fix). */
class PinRacesTest {
  private static final long T0 = 1_700_000_000_000L;

  /** Writes from the pin threads stall {@code stallMillis} (after counting down {@code entered}); the sync's do not. */
  static final class Store extends MapPinStore {
    volatile long stallMillis;
    volatile CountDownLatch entered;

    @Override
    public Pin pinIfAbsent(String session, String upstream, Duration ttl) throws Exception {
      if (Thread.currentThread().getName().startsWith("routewise-pins")) {
        CountDownLatch e = entered;
        if (e != null) {
          e.countDown();
        }
        Thread.sleep(stallMillis);
      }
      return super.pinIfAbsent(session, upstream, ttl);
    }
  }

  /**
   * A turn's offer of a pin made while the store was down times out; meanwhile the sync's offer took
   * the store's pin (another replica's). The turn's fallback then puts its stale, unshared pin back
   * over the shared one, and the next turns (within OFFER_RETRY_MILLIS, and until the next sync) go
   * to the upstream this replica already knew was not the session's.
   */
  @Test
  void aTimedOutTurnOfferDoesNotUndoTheSyncsAnswer() throws Exception {
    ManualClock clock = new ManualClock(T0);
    Store store = new Store();
    AtomicBoolean up = new AtomicBoolean(false);
    try (SessionPins a = new SessionPins(Duration.ofHours(1), 100, store, up::get, Duration.ofMillis(300),
        StateListener.NONE, clock)) {
      assertEquals("strong", a.pin("s", "strong"), "store down: local pin");
      store.pins.put(SessionPins.key("s"), "weak"); // another replica pinned it in the store
      up.set(true);
      store.stallMillis = 2_000; // the pin threads are stalled (Redis slow as it comes back)
      store.entered = new CountDownLatch(1);
      String[] turn = new String[1];
      Thread t = Thread.ofPlatform().start(() -> turn[0] = a.pinned("s")); // offers strong, times out at 300 ms
      store.entered.await();
      a.offerUnshared(); // the sync (its own connection, not stalled): takes "weak"
      assertEquals("weak", a.pinned("s"), "the sync's offer took the stored pin");
      t.join();
      assertEquals("weak", turn[0], "that turn timed out, and takes what the sync took meanwhile");
      assertEquals("weak", a.pinned("s"), "the next turn still goes where the store says");
    }
  }

  /** close() while a pin thread is in a store call that answers interrupts (here Thread.sleep). */
  @Test
  void closeEndsThePinThreadsEvenDuringAStoreCall() throws Exception {
    Store store = new Store();
    store.stallMillis = 1_000;
    store.entered = new CountDownLatch(2);
    java.util.Set<Thread> before = Thread.getAllStackTraces().keySet();
    SessionPins pins = new SessionPins(Duration.ofHours(1), 100, store, () -> true, Duration.ofMillis(10),
        StateListener.NONE, System::currentTimeMillis);
    pins.pin("a", "strong");
    pins.pin("b", "strong");
    store.entered.await(); // both pin threads in the store
    List<Thread> threads = Thread.getAllStackTraces().keySet().stream()
        .filter(th -> th.getName().startsWith("routewise-pins") && !before.contains(th)).toList();
    pins.close();
    for (Thread th : threads) {
      th.join(3_000);
    }
    assertFalse(threads.stream().anyMatch(Thread::isAlive),
        "pin threads still alive after close: " + threads.stream().filter(Thread::isAlive).map(Thread::getName).toList());
  }
}
