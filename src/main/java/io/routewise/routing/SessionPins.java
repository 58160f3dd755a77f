package io.routewise.routing;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session pins: which upstream each session's first turn went to (by name), so its later turns go
 * there too, for {@code ttl} after that first turn.
 *
 * <p>Every replica keeps the pins it has seen in a bounded LRU cache ({@code maxEntries}, expired
 * pins dropped when met). With a {@link StateStore}, pins also live there, so any replica honours
 * them: a pin this replica has not seen is looked up in the store, and a first turn's pin is written
 * there with "set if absent" (when two replicas race on a session's first turn, both end up with
 * the one that got there first). Those two calls run on the pin threads, never on the request
 * thread, and the request waits for each at most {@code lookupTimeout}; while the store is known to
 * be down ({@code storeUp} false) it is not asked at all. A lookup that times out, or is skipped,
 * routes the request as a first turn and pins it locally; a pin the store has not taken is offered
 * to it at the session's next turn and at the next sync that reaches it ({@link StateSync#shareWith}),
 * and both end on the pin stored first.
 *
 * <p>Session keys are hashed (SHA-256, 128 bits kept) before they are stored anywhere, so the
 * cache's memory per pin is fixed and Redis never holds a user's id in the clear.
 */
public final class SessionPins implements AutoCloseable {
  private static final HexFormat HEX = HexFormat.of();
  private static final Logger LOG = LoggerFactory.getLogger(SessionPins.class);

  private final long ttlMillis;
  private final int maxEntries;
  private final StateStore store;
  private final BooleanSupplier storeUp;
  private final long lookupTimeoutNanos;
  private final StateListener listener;
  private final LongSupplier clock;
  private final ReentrantLock lock = new ReentrantLock();
  private final LinkedHashMap<String, Pinned> local;
  /**
   * Keys of pins the store has not taken (made while it was down or silent, or held when it lost its
   * state), offered to it together at the next sync that reaches it ({@link #offerUnshared}); guarded
   * by {@code lock}, at most {@code maxEntries}, the oldest dropped first (still offered at a turn).
   */
  private final java.util.LinkedHashSet<String> unoffered = new java.util.LinkedHashSet<>();
  private long lastOfferFailure; // when an offer's failure was last logged (sync thread only)
  private final PinCalls calls;
  private final SharedUsage usage;

  /**
   * {@code shared}: the store has it; false for a pin made while the store was down or silent, or held
   * when it lost its state, offered to it at the session's next turn from {@code offerAfter} on.
   */
  private record Pinned(String upstream, long expiresAt, boolean shared, long offerAfter) {
    Pinned(String upstream, long expiresAt, boolean shared) {
      this(upstream, expiresAt, shared, Long.MIN_VALUE); // offered at once, whatever the clock's origin (not 0)
    }
  }

  /**
   * A pin whose offer the store did not answer in time is offered again at a turn this much later:
   * not at every turn of a stalled store, and not never, which left two replicas on different pins
   * for the pin's life after a short stall (a helper's trial: 18 to 21 sessions of 40).
   */
  static final long OFFER_RETRY_MILLIS = 1_000;

  /** Pins offered per call when the store lost its state: a call stays well within the store's timeout. */
  static final int OFFER_BATCH = 1_000;

  /**
   * @param store where pins are shared, or null for this replica's cache only
   * @param storeUp whether the store answered at the last sync (asked before every store call)
   * @param clock milliseconds from any origin: only differences are used (the store is given time left)
   */
  public SessionPins(Duration ttl, int maxEntries, StateStore store, BooleanSupplier storeUp, Duration lookupTimeout,
      StateListener listener, LongSupplier clock) {
    this.ttlMillis = ttl.toMillis();
    this.maxEntries = maxEntries;
    this.store = store;
    this.storeUp = storeUp;
    this.lookupTimeoutNanos = lookupTimeout.toNanos();
    this.listener = listener;
    this.clock = clock;
    this.local = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Pinned> eldest) {
        return size() > SessionPins.this.maxEntries;
      }
    };
    this.calls = store == null ? null : new PinCalls(store);
    this.usage = store == null ? null : new SharedUsage(store, storeUp, lookupTimeout);
  }

  /** Background responses' awaited usage in the same store, or null without one. */
  SharedUsage sharedUsage() {
    return usage;
  }

  /**
   * The store lost its state (a Redis restarted empty, from an old snapshot, flushed): every live pin
   * held here is offered to it again now, so that a replica that never saw a session finds its pin
   * there rather than routing it afresh, and where another replica got there first with another pin,
   * this one takes that. Sync thread.
   */
  public void storeLostState() {
    lock.lock();
    try {
      local.replaceAll((key, p) -> p.shared() ? new Pinned(p.upstream(), p.expiresAt(), false) : p);
      unoffered.clear();
      unoffered.addAll(local.keySet());
    } finally {
      lock.unlock();
    }
    offer(true);
    if (usage != null) {
      usage.storeLost(); // and the background responses' awaited usage this replica routed
    }
  }

  /**
   * The store evicted keys (its {@code maxmemory} reached): some pins may be gone, which ones it does
   * not say. Each pin held here is offered again at its session's next turn, one call each, rather
   * than all at once into a store short of memory. Sync thread.
   */
  public void storeEvicted() {
    lock.lock();
    try {
      local.replaceAll((key, p) -> p.shared() ? new Pinned(p.upstream(), p.expiresAt(), false) : p);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Offers the store the pins it has not taken yet: made while it was down or silent (sessions that
   * began in an outage, or a stall), together, at the first sync that reaches it. Before, each waited
   * for its session's next turn on this replica, and a turn reaching another replica first was routed
   * afresh (a helper's trial: 14 to 24 sessions of 40 moved). Sync thread, after each sync that worked.
   */
  public void offerUnshared() {
    offer(false);
  }

  private void offer(boolean lostState) {
    if (!sharing()) {
      return;
    }
    long now = clock.getAsLong();
    Map<String, StateStore.Pin> held = new LinkedHashMap<>();
    lock.lock();
    try {
      for (String key : unoffered) {
        Pinned p = local.get(key);
        if (p != null && !p.shared() && p.expiresAt() > now) {
          held.put(key, new StateStore.Pin(p.upstream(), p.expiresAt() - now));
        }
      }
      unoffered.clear();
    } finally {
      lock.unlock();
    }
    if (held.isEmpty()) {
      return;
    }
    int offered = 0;
    int moved = 0;
    Map<String, StateStore.Pin> batch = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, StateStore.Pin> e : held.entrySet()) {
        batch.put(e.getKey(), e.getValue());
        if (batch.size() == OFFER_BATCH || offered + batch.size() == held.size()) {
          Map<String, StateStore.Pin> answers = store.pinAllIfAbsent(batch);
          moved += takeAnswers(batch, answers, now);
          offered += batch.size();
          batch.clear();
        }
      }
      if (lostState || moved > 0) {
        LOG.info("shared state: offered {} {} to {}; {} of them held another replica's pin, taken here",
            offered, lostState ? "live pins again" : "pins it had not taken (made while it was down, or not answered in "
            + "time)", store.describe(), moved);
      }
    } catch (Exception e) {
      lock.lock();
      try {
        held.keySet().stream().skip(offered).forEach(this::markUnoffered);
      } finally {
        lock.unlock();
      }
      long at = System.nanoTime();
      if (lastOfferFailure == 0 || at - lastOfferFailure > TimeUnit.MINUTES.toNanos(1)) { // a store that keeps refusing
        lastOfferFailure = at;
        LOG.info("shared state: offered {} of {} pins to {} before it failed ({}); the rest are offered at their "
            + "sessions' next turns or a later sync", offered, held.size(), store.describe(),
            e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
      }
    }
  }

  /** Whether pins are shared through a store (there is one, and it can hold them): else they are this replica's alone. */
  public boolean shared() {
    return sharing();
  }

  /** Whether pins are shared through the store: there is one, and it can hold them (Redis 7 or later). */
  private boolean sharing() {
    return store != null && store.takesPins();
  }

  /** Queues a pin the store has not taken for the next sync's offer (under {@code lock}). */
  private void markUnoffered(String key) {
    if (unoffered.add(key) && unoffered.size() > maxEntries) {
      unoffered.remove(unoffered.iterator().next());
    }
  }

  /** Takes the store's answers to offered pins; returns how many sessions it holds on another upstream. */
  private int takeAnswers(Map<String, StateStore.Pin> offered, Map<String, StateStore.Pin> answers, long then) {
    int moved = 0;
    lock.lock();
    try {
      for (Map.Entry<String, StateStore.Pin> o : offered.entrySet()) {
        StateStore.Pin answer = answers.get(o.getKey());
        Pinned p = local.get(o.getKey());
        // only a pin still as offered: one replaced meanwhile (a turn's own offer, a new pin) is newer
        if (answer == null || p == null || p.shared() || !p.upstream().equals(o.getValue().upstream())) {
          continue;
        }
        if (!answer.upstream().equals(p.upstream())) {
          moved++;
        }
        local.put(o.getKey(), new Pinned(answer.upstream(), then + answer.remainingMillis(), true));
      }
    } finally {
      lock.unlock();
    }
    return moved;
  }

  /** Pins held in this replica's cache (expired ones included until they are met or evicted). */
  public int size() {
    lock.lock();
    try {
      return local.size();
    } finally {
      lock.unlock();
    }
  }

  /** The upstream {@code session} is pinned to, or null when it has no live pin (a first turn). */
  public String pinned(String session) {
    String key = key(session);
    long now = clock.getAsLong();
    Pinned cached = cached(key, now);
    if (cached != null && !cached.shared() && now >= cached.offerAfter() && sharing() && storeUp.getAsBoolean()) {
      // Pinned here while the store was down: another replica may have pinned the same session
      // meanwhile. Offered to the store once it is back, so both end on the pin that gets there first.
      StateStore.Pin pin = ask(new PinCalls.Call(key, cached.upstream(), cached.expiresAt() - now));
      if (pin != null && pin != NO_ANSWER) {
        listener.pinLookup("shared");
        remember(key, pin.upstream(), now + pin.remainingMillis(), true);
        return pin.upstream();
      }
      // offered again in a second, unless the sync (or another turn) took the store's pin meanwhile
      return rememberIfStill(key, cached, new Pinned(cached.upstream(), cached.expiresAt(), false, now + OFFER_RETRY_MILLIS));
    }
    if (cached != null) {
      listener.pinLookup("local");
      return cached.upstream();
    }
    if (!sharing()) {
      listener.pinLookup("none");
      return null;
    }
    if (!storeUp.getAsBoolean()) {
      listener.pinLookup("skipped");
      return null;
    }
    StateStore.Pin pin = ask(new PinCalls.Call(key, null, 0));
    if (pin == NO_ANSWER) {
      return null;
    }
    if (pin == null) {
      listener.pinLookup("none");
      return null;
    }
    listener.pinLookup("shared");
    remember(key, pin.upstream(), now + pin.remainingMillis(), true);
    return pin.upstream();
  }

  /**
   * Pins a first turn's upstream. Returns the upstream the session is pinned to: {@code upstream},
   * or the one another replica pinned it to a moment earlier.
   */
  public String pin(String session, String upstream) {
    String key = key(session);
    long now = clock.getAsLong();
    if (sharing() && storeUp.getAsBoolean()) {
      StateStore.Pin pin = ask(new PinCalls.Call(key, upstream, ttlMillis));
      if (pin != null && pin != NO_ANSWER) {
        remember(key, pin.upstream(), now + pin.remainingMillis(), true);
        return pin.upstream();
      }
    }
    // Two first turns of one session in flight at once: the first pin holds, as the store's set-if-absent does
    return rememberIfAbsent(key, upstream, now + ttlMillis, !sharing(), now);
  }

  private static final StateStore.Pin NO_ANSWER = new StateStore.Pin("", 0);

  /**
   * Hands a store call to the pin threads and waits at most the lookup timeout; NO_ANSWER if it did
   * not answer. A lookup not answered in time is dropped (its answer would come for nobody); a pin's
   * write still runs, late: stored a few milliseconds on, it is the one another replica's turn finds,
   * where dropped while queued, a session whose next turn went elsewhere in a stall could settle on
   * that turn's upstream (a trial: up to 8 sessions of 40).
   */
  private StateStore.Pin ask(PinCalls.Call call) {
    if (!calls.submit(call)) {
      listener.pinLookup("timeout"); // the pin threads are backed up: the same as no answer in time
      return NO_ANSWER;
    }
    try {
      return call.answer.get(lookupTimeoutNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      if (!call.write()) {
        call.answer.cancel(false); // still queued: skipped
      }
      listener.pinLookup("timeout");
      return NO_ANSWER;
    } catch (ExecutionException e) {
      listener.pinLookup("error"); // the store failed; the sync notices and marks it down
      return NO_ANSWER;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return NO_ANSWER;
    }
  }

  private Pinned cached(String key, long now) {
    lock.lock();
    try {
      Pinned p = local.get(key);
      if (p == null) {
        return null;
      }
      if (p.expiresAt() <= now) {
        local.remove(key);
        return null;
      }
      return p;
    } finally {
      lock.unlock();
    }
  }

  private void remember(String key, String upstream, long expiresAt, boolean shared) {
    remember(key, new Pinned(upstream, expiresAt, shared));
  }

  private void remember(String key, Pinned pinned) {
    lock.lock();
    try {
      local.put(key, pinned);
      if (!pinned.shared()) {
        markUnoffered(key);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Replaces {@code key}'s pin by {@code next} if it is still {@code was}; returns the upstream pinned now. */
  private String rememberIfStill(String key, Pinned was, Pinned next) {
    lock.lock();
    try {
      Pinned p = local.get(key);
      if (p != was) {
        return p == null ? was.upstream() : p.upstream();
      }
      local.put(key, next);
      if (!next.shared()) {
        markUnoffered(key);
      }
      return next.upstream();
    } finally {
      lock.unlock();
    }
  }

  /** Pins {@code key} unless a live pin holds it; returns the upstream pinned. */
  private String rememberIfAbsent(String key, String upstream, long expiresAt, boolean shared, long now) {
    lock.lock();
    try {
      Pinned p = local.get(key);
      if (p != null && p.expiresAt() > now) {
        return p.upstream();
      }
      local.put(key, new Pinned(upstream, expiresAt, shared));
      if (!shared) {
        markUnoffered(key);
      }
      return upstream;
    } finally {
      lock.unlock();
    }
  }

  /** The stored form of a session key: 128 bits of its SHA-256, in hex. */
  static String key(String session) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(session.getBytes(StandardCharsets.UTF_8));
      return HEX.formatHex(d, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every JDK has SHA-256
    }
  }

  @Override
  public void close() {
    if (calls != null) {
      calls.close();
    }
    if (usage != null) {
      usage.close();
    }
  }
}
