package io.routewise.server;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which upstream answered each Responses API response this replica relayed: a request that
 * continues one ({@code previous_response_id}) must go there, the only upstream that stored it.
 * Bounded, least recently used first out; ids are kept as 64-bit hashes (a few dozen bytes each),
 * never in the clear. With session pinning, each is also a pin of its own (shared through Redis when
 * {@code state.redis} is set, for the pins' time to live), asked for an id this replica did not see.
 */
final class StoredResponses {
  /** About 6 MB when full. */
  static final int MAX_ENTRIES = 100_000;

  /** Background responses whose usage is awaited at once, at most (the least recently polled are given up on). */
  static final int MAX_AWAITED = 10_000;
  /** A background response not polled for this long is given up on, and counted unmetered. */
  static final java.time.Duration AWAIT_TTL = java.time.Duration.ofHours(1);

  private final ReentrantLock lock = new ReentrantLock();
  private final LinkedHashMap<Long, String> upstreams;
  /** Background responses answered before their usage existed, by id hash, least recently polled first. */
  private final LinkedHashMap<Long, Awaiting> awaited = new LinkedHashMap<>(16, 0.75f, true);
  private final java.util.function.LongSupplier clock;
  /** Where the pins are, or null for this replica's record alone. */
  private final io.routewise.routing.RoutingService pins;
  private final UsageMeter meter;

  StoredResponses(int maxEntries, io.routewise.routing.RoutingService pins, UsageMeter meter) {
    this(maxEntries, pins, meter, System::nanoTime);
  }

  StoredResponses(int maxEntries, io.routewise.routing.RoutingService pins, UsageMeter meter,
      java.util.function.LongSupplier clock) {
    this.pins = pins;
    this.meter = meter;
    this.clock = clock;
    this.upstreams = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
        return size() > maxEntries;
      }
    };
  }

  /**
   * Remembers that {@code upstream} answered (and holds) response {@code id}, before its client has it,
   * so that a continuation sent the moment it does finds it; and, with session pinning and a store
   * that shares pins, tells the other replicas, off the request's thread: that write waits on the
   * store (up to the pin timeout), which must hold up neither the answer nor its end (a stream's last
   * chunk goes only once its handler returns).
   */
  void answered(String id, String upstream) {
    remember(id, upstream);
    if (pins != null && pins.sharesPins()) {
      Thread.ofVirtual().name("routewise-response-pin").start(() -> pins.responseStored(id, upstream));
    }
  }

  /**
   * What a background response's usage is to be counted as: the upstream that answers it, whether
   * that upstream was the router's choice (for the savings), and the router whose target spends it
   * (an auto request's; else null).
   */
  record AwaitedUsage(String upstream, boolean routersChoice, String targetRouter) {
    /** The spec whose target spends it, or null. */
    io.routewise.routing.RouteSpec spec() {
      return targetRouter == null ? null : new io.routewise.routing.RouteSpec(targetRouter, Double.NaN, true);
    }
  }

  /** Where an awaited usage is counted (the token and cost counters, a target's spend). */
  interface UsageMeter {
    void counted(AwaitedUsage awaited, Usage usage);

    /** Finished without usage, or given up on (not polled here within the TTL). */
    void lost(AwaitedUsage awaited);
  }

  private static final class Awaiting {
    final AwaitedUsage usage;
    long touched;

    Awaiting(AwaitedUsage usage, long touched) {
      this.usage = usage;
      this.touched = touched;
    }
  }

  /**
   * Response {@code id} was answered before its usage existed (a {@code background: true} response,
   * queued or under way, or its stream broke off): a later answer about it that this replica relays
   * (a poll, its cancel) that shows it finished counts its usage then. Only this replica's: one
   * relayed by another replica is not counted there (sharing it needs a claim in the store that
   * outlives every record of it, kept apart from the sessions' pins; not built).
   */
  void awaitUsage(String id, AwaitedUsage usage) {
    java.util.List<AwaitedUsage> givenUp;
    lock.lock();
    try {
      long now = clock.getAsLong();
      awaited.put(hash(id), new Awaiting(usage, now));
      givenUp = expire(now);
    } finally {
      lock.unlock();
    }
    givenUp.forEach(meter::lost); // off the lock
  }

  /** Whether response {@code id}'s usage is still awaited here; asking is a poll, which keeps it awaited. */
  boolean awaitsUsage(String id) {
    Awaiting waiting;
    java.util.List<AwaitedUsage> givenUp;
    lock.lock();
    try {
      long now = clock.getAsLong();
      givenUp = expire(now);
      waiting = awaited.get(hash(id));
      if (waiting != null) {
        waiting.touched = now;
      }
    } finally {
      lock.unlock();
    }
    givenUp.forEach(meter::lost);
    return waiting != null;
  }

  /** Takes out those past the bound or not polled within the TTL, least recently polled first. */
  private java.util.List<AwaitedUsage> expire(long now) {
    java.util.List<AwaitedUsage> givenUp = java.util.List.of();
    var it = awaited.values().iterator();
    while (it.hasNext()) {
      Awaiting eldest = it.next();
      if (awaited.size() <= MAX_AWAITED && now - eldest.touched < AWAIT_TTL.toNanos()) {
        break;
      }
      it.remove();
      if (givenUp.isEmpty()) {
        givenUp = new java.util.ArrayList<>();
      }
      givenUp.add(eldest.usage);
    }
    return givenUp;
  }

  /**
   * Response {@code id} was seen finished, with {@code usage} (null: it has none): counted once, however
   * many polls saw it so.
   */
  void finished(String id, Usage usage) {
    Awaiting waiting;
    lock.lock();
    try {
      waiting = awaited.remove(hash(id));
    } finally {
      lock.unlock();
    }
    if (waiting != null && usage != null) {
      meter.counted(waiting.usage, usage);
    } else if (waiting != null) {
      meter.lost(waiting.usage);
    }
  }

  private void remember(String id, String upstream) {
    lock.lock();
    try {
      upstreams.put(hash(id), upstream);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The upstream that answered response {@code id}, or null when neither this replica relayed it (or
   * still remembers it) nor, with session pinning, a pin names it.
   */
  String upstreamOf(String id) {
    String at;
    lock.lock();
    try {
      at = upstreams.get(hash(id));
    } finally {
      lock.unlock();
    }
    if (at == null && pins != null) {
      at = pins.storedResponseAt(id); // another replica's (bounded by the pin lookup's timeout)
      if (at != null) {
        remember(id, at);
      }
    }
    return at;
  }

  /** FNV-1a over the id's chars: two ids of 100,000 meet with odds of about 3 in 10^10. */
  private static long hash(String id) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < id.length(); i++) {
      h = (h ^ id.charAt(i)) * 0x100000001b3L;
    }
    return h;
  }
}
