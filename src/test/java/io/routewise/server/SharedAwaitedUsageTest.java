package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.SharedUsage;
import io.routewise.routing.StateStore;
import io.routewise.routing.WindowSnapshot;
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
  private final MemoryStore store = new MemoryStore();
  private final SharedUsage usage = new SharedUsage(store, () -> true, Duration.ofSeconds(2));
  private final List<String> counted = new ArrayList<>();
  private final List<String> lost = new ArrayList<>();
  private final StoredResponses a = replica("a");
  private final StoredResponses b = replica("b");

  /** Keys with expiry times on the test's clock; the usage calls only. */
  private final class MemoryStore implements StateStore {
    final Map<String, String> values = new HashMap<>();
    final Map<String, Long> expiries = new HashMap<>();
    int lookups;

    private synchronized String live(String key) {
      Long until = expiries.get(key);
      if (until != null && until <= nanos.get()) {
        values.remove(key);
        expiries.remove(key);
      }
      return values.get(key);
    }

    @Override
    public synchronized void putUsage(String key, String record, Duration ttl) {
      values.put("usage:" + key, record);
      expiries.put("usage:" + key, nanos.get() + ttl.toNanos());
    }

    @Override
    public synchronized String usage(String key) {
      lookups++;
      return live("usage:" + key);
    }

    @Override
    public synchronized void keepUsage(String key, Duration ttl) {
      if (live("usage:" + key) != null) {
        expiries.put("usage:" + key, nanos.get() + ttl.toNanos());
      }
    }

    @Override
    public synchronized boolean claimUsage(String key, Duration ttl) {
      if (live("claim:" + key) != null) {
        return false;
      }
      values.put("claim:" + key, "1");
      expiries.put("claim:" + key, nanos.get() + ttl.toNanos());
      return true;
    }

    @Override
    public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void ping() {}

    @Override
    public Pin pin(String session) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Pin pinIfAbsent(String session, String upstream, Duration ttl) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String describe() {
      return "memory";
    }

    @Override
    public void close() {}
  }

  private StoredResponses replica(String name) {
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
    }, () -> usage, nanos::get);
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
}
