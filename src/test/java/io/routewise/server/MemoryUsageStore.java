package io.routewise.server;

import io.routewise.routing.StateStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The store's usage calls in memory, as Redis keeps them: keys with expiry times on a test's hand
 * clock (nanoseconds), a claim set if absent; lookups counted, and made slow or failing on demand.
 * Each replica's client spend and holds are kept as Redis keeps them too (no expiry), for replicas'
 * {@link io.routewise.routing.ClientBudgets} exchanged through it.
 */
final class MemoryUsageStore extends io.routewise.routing.UsageOnlyStore {
  private final LongSupplier nanos;
  final Map<String, String> values = new HashMap<>();
  final Map<String, Long> expiries = new HashMap<>();
  int lookups;
  /** A GET that times out or errors. */
  volatile boolean failLookups;
  /** A slow one (still within the store's timeout). */
  volatile long lookupMillis;

  MemoryUsageStore(LongSupplier nanos) {
    this.nanos = nanos;
  }

  /** {@code key}'s value at {@code now}: each call reads the clock once, as Redis applies one command at one time. */
  private synchronized String live(String key, long now) {
    Long until = expiries.get(key);
    if (until != null && until <= now) {
      values.remove(key);
      expiries.remove(key);
    }
    return values.get(key);
  }

  @Override
  public synchronized void putUsage(String key, String record, Duration ttl) {
    values.put("usage:" + key, record);
    expiries.put("usage:" + key, nanos.getAsLong() + ttl.toNanos());
  }

  @Override
  public synchronized String usage(String key) throws Exception {
    lookups++;
    if (lookupMillis > 0) {
      Thread.sleep(lookupMillis);
    }
    if (failLookups) {
      throw new java.net.SocketTimeoutException("Read timed out");
    }
    long now = nanos.getAsLong();
    return live("claim:" + key, now) != null ? StateStore.USAGE_CLAIMED : live("usage:" + key, now);
  }

  @Override
  public synchronized void keepUsage(String key, Duration ttl) {
    long now = nanos.getAsLong();
    if (live("usage:" + key, now) != null) {
      expiries.put("usage:" + key, now + ttl.toNanos());
    }
  }

  @Override
  public synchronized boolean claimUsage(String key, Duration ttl) {
    long now = nanos.getAsLong();
    if (live("claim:" + key, now) != null) {
      return false;
    }
    values.put("claim:" + key, "1");
    expiries.put("claim:" + key, now + ttl.toNanos());
    return true;
  }

  /** By key, each replica's spend; by replica, its holds. */
  private final Map<String, Map<String, Double>> spend = new HashMap<>();
  private final Map<String, Map<String, Held>> holds = new HashMap<>();

  @Override
  public synchronized Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) {
    Map<String, Map<String, Double>> fields = new HashMap<>();
    mine.forEach((key, spent) -> {
      Map<String, Double> all = spend.computeIfAbsent(key, k -> new HashMap<>());
      all.put(replica, spent.usd());
      fields.put(key, new HashMap<>(all));
    });
    return fields;
  }

  @Override
  public synchronized OthersHolds shareHolds(String replica, Map<String, Held> mine) {
    holds.put(replica, Map.copyOf(mine));
    Map<String, Held> others = new HashMap<>();
    holds.forEach((r, held) -> {
      if (!r.equals(replica)) {
        held.forEach((client, h) -> others.merge(client, h,
            (x, y) -> new Held(x.usd() + y.usd(), x.inFlight() + y.inFlight())));
      }
    });
    return new OthersHolds(holds.size() - 1, others);
  }
}
