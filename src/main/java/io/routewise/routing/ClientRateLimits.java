package io.routewise.routing;

import io.routewise.config.ClientKey;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The named clients' request rate limits ({@code rate_limit: {requests: N, per: minute}}), each held
 * by the generic cell rate algorithm: a burst of N, then one request each period / N. One
 * compare-and-set a request, no lock and no timer; the clients are the config's, so nothing grows.
 *
 * <p>With a {@link StateStore} the replicas hold each client to one limit: at every sync each one
 * publishes how many of the client's requests it let through since it started and reads the others'
 * counts ({@link #exchange}); what they let through since the last look takes its place in this
 * replica's cell, as if it had come here. Between syncs each replica lets through, besides the steady
 * rate, at most its share of the burst left at its last one: what the others told they may let
 * through before they tell again is set aside, and it takes its part of the rest (all of it where the
 * client asked here alone lately, an N-th where at N; where it did not ask, an N-th for N live
 * replicas, rounded down), so a burst spread over them at once is held to one limit too. While the store does not answer, each replica holds the limit alone.
 */
public final class ClientRateLimits {
  /** A refusal: the client may try again in {@code retryNanos}; its limit is full again in {@code fullNanos}. */
  public record Refusal(ClientKey.RateLimit limit, long retryNanos, long fullNanos) {}

  private final Map<String, Cell> cells;
  private final LongSupplier nanoTime;
  /** This replica's name among those that publish their counts (a restart is another). */
  private final String replica = ClientBudgets.newReplicaId();
  /** Each other replica's count of each client's requests at the last look (sync thread only), by replica, then client. */
  private final Map<String, Map<String, Long>> seen = new HashMap<>();
  /** How many syncs back a client's request at a replica counts as asking there lately. */
  static final int ASKED_LATELY_SYNCS = 10;
  /** The time between exchanges (state.sync_ms), nanoseconds: a share spent is given anew at the next. */
  private volatile long syncNanos;
  /**
   * How far apart the last two exchanges came (sync thread writes): a sync starts state.sync_ms after
   * the last one ended, so they come further apart than that (a slow Redis, well under its timeout,
   * more so), and a share spent is given anew no sooner. MIN_VALUE before two.
   */
  private volatile long lastSpacing = Long.MIN_VALUE;
  private long lastDecided = Long.MIN_VALUE;

  /** The time to expect between two exchanges: as the last two came, at least state.sync_ms, at most three. */
  private long syncSpacing() {
    long sync = syncNanos;
    long last = lastSpacing;
    return last == Long.MIN_VALUE || sync <= 0 ? sync : Math.max(sync, Math.min(3 * sync, last));
  }

  /** Whether the next exchange only takes the others' counts as they are: the first, and the first after a failure. */
  private boolean baselineNext = true;

  public ClientRateLimits(List<ClientKey> clients, LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    long now = nanoTime.getAsLong();
    Map<String, Cell> out = new HashMap<>();
    for (ClientKey c : clients) {
      if (c.name() != null && c.rateLimit() != null) {
        out.put(c.name(), new Cell(c.rateLimit(), now));
      }
    }
    cells = Map.copyOf(out);
  }

  public boolean any() {
    return !cells.isEmpty();
  }

  public List<String> clients() {
    return cells.keySet().stream().sorted().toList();
  }

  /** The exchange runs every {@code period} ({@code state.sync_ms}). */
  public void syncEvery(java.time.Duration period) {
    syncNanos = period.toNanos();
  }

  /** Takes one of {@code client}'s requests: null when its limit allows it (or it has none), else why not. */
  public Refusal take(String client) {
    Cell cell = client == null ? null : cells.get(client);
    return cell == null ? null : cell.take(nanoTime.getAsLong(), syncSpacing());
  }

  /** How much of a client's limit is left at this replica now, for its answers' headers. */
  public record Standing(ClientKey.RateLimit limit, long remaining, long fullNanos) {}

  /** {@code client}'s standing, or null when it has no limit. */
  public Standing standing(String client) {
    Cell cell = client == null ? null : cells.get(client);
    return cell == null ? null : cell.standing(nanoTime.getAsLong());
  }

  /**
   * Publishes this replica's counts and takes in what the other live replicas let through since the
   * last exchange (sync thread only). A replica seen for the first time, or again after this one held
   * the limit alone ({@link #forgetOthers}), is only looked at: its count so far was held by its own
   * limit, not this one's.
   */
  public void exchange(StateStore store) throws Exception {
    if (syncNanos > 0 && dropped()) {
      // paused past its line's life (SIGSTOP, a long GC pause): the others held the limit without it
      // meanwhile, so what they let through is not charged here, as after an outage
      alone();
    }
    Map<String, Map<String, StateStore.Requests>> others;
    try {
      others = store.shareRequests(replica, this::decide);
    } catch (Exception | Error e) {
      forgetOthers();
      throw e;
    }
    if (others == null) { // a store that cannot share them: each replica holds its own
      alone();
    } else {
      lastExchanged = nanoTime.getAsLong();
    }
  }

  /** Takes in the others' requests and answers this replica's, with the share it grants itself until the next exchange. */
  private Map<String, StateStore.Requests> decide(Map<String, Map<String, StateStore.Requests>> others) {
    Map<String, Long> came = new HashMap<>();
    Map<String, Long> granted = new HashMap<>();
    Map<String, Integer> asking = new HashMap<>();
    Map<String, Long> spent = new HashMap<>(); // how far ahead the limit stood spent at those first seen
    for (Map.Entry<String, Map<String, StateStore.Requests>> other : others.entrySet()) {
      Map<String, Long> before = seen.get(other.getKey());
      other.getValue().forEach((client, r) -> {
        if (before == null || baselineNext) { // what it let through before is not counted: what it left is known
          spent.merge(client, r.aheadNanos(), Math::max);
        }
        // what it may let through before it tells again is not this replica's to give
        granted.merge(client, r.granted(), Long::sum);
        if (r.asked()) {
          asking.merge(client, 1, Integer::sum);
        }
        long since = before == null || baselineNext ? 0 : r.let() - before.getOrDefault(client, 0L);
        if (since > 0) {
          came.merge(client, since, Long::sum);
        }
      });
    }
    seen.keySet().retainAll(others.keySet()); // a replica gone for good is forgotten
    others.forEach((id, counts) -> {
      Map<String, Long> lets = new HashMap<>();
      counts.forEach((client, r) -> lets.put(client, r.let()));
      seen.put(id, lets);
    });
    baselineNext = false;
    long now = nanoTime.getAsLong();
    if (lastDecided != Long.MIN_VALUE) {
      lastSpacing = now - lastDecided;
    }
    lastDecided = now;
    Map<String, StateStore.Requests> mine = new LinkedHashMap<>();
    cells.forEach((client, cell) -> {
      // lately: a client taking turns among the replicas asks at each only now and then
      boolean asked = now - cell.asked < ASKED_LATELY_SYNCS * Math.max(syncNanos, 100_000_000L);
      long granting = cell.exchanged(came.getOrDefault(client, 0L), spent.getOrDefault(client, 0L),
          granted.getOrDefault(client, 0L), others.size(), asking.getOrDefault(client, 0), asked, syncNanos, now);
      mine.put(client, new StateStore.Requests(cell.let.get(), granting, asked, Math.max(0, cell.due.get() - now)));
    });
    return mine;
  }

  /**
   * After an exchange that failed: a blip (the store slow for a sync or two) changes nothing, its
   * shares and counts go on; once the others have dropped this replica's line too (no exchange for
   * three syncs, at least 2 s, as the store keeps it), each replica holds the limit alone until one
   * works again. Dropped at the first failure, a single slow reply (a loaded box at a burst) let the
   * whole burst through at that replica beside the others' shares.
   */
  public void forgetOthers() {
    if (lastExchanged == Long.MIN_VALUE || dropped()) {
      alone();
    }
  }

  /** Whether the others no longer count this replica: no exchange for three syncs, at least 2 s, as the store keeps its line. */
  private boolean dropped() {
    return lastExchanged != Long.MIN_VALUE
        && nanoTime.getAsLong() - lastExchanged >= Math.max(2_000_000_000L, 3 * syncNanos);
  }

  private void alone() {
    baselineNext = true;
    lastDecided = Long.MIN_VALUE;
    lastSpacing = Long.MIN_VALUE;
    cells.values().forEach(c -> c.share = null);
  }

  /** When the last exchange that worked ended (nanoTime; sync thread only), or MIN_VALUE before one. */
  private long lastExchanged = Long.MIN_VALUE;

  /**
   * What this replica may let through between two exchanges, beyond the steady rate: {@code burst}
   * requests from {@code since}, plus one each interval after it.
   */
  private record Share(long since, long burst, AtomicLong let) {}

  /**
   * One client's limit. {@code due} is the theoretical arrival time of the next request: each one
   * taken here, or let through at another replica, moves it on by an interval, and a request is allowed
   * while that leaves {@code due} at most one period ahead of now (so a client idle for a period has
   * its whole burst again).
   */
  private static final class Cell {
    private final ClientKey.RateLimit limit;
    private final long interval;
    private final long period;
    private final AtomicLong due;
    /** Every request this replica let through since it started (what it publishes). */
    final AtomicLong let = new AtomicLong();
    /** This replica's share of the burst until the next exchange, or null when it holds the limit alone. */
    volatile Share share;
    /** When the client last asked here (nanoTime); at first long ago. */
    volatile long asked;

    Cell(ClientKey.RateLimit limit, long now) {
      this.limit = limit;
      this.period = limit.per().nanos();
      this.interval = Math.max(1, period / limit.requests());
      this.due = new AtomicLong(now);
      this.asked = now - Long.MAX_VALUE / 2; // never: nanoTime compared by difference only
    }

    /** @param syncNanos the time between exchanges, or 0 when not known */
    Refusal take(long now, long syncNanos) {
      asked = now;
      Share s = share;
      if (s != null) {
        long n = s.let().incrementAndGet();
        long burst = s.burst();
        if (n > burst + Math.max(0, now - s.since()) / interval) {
          s.let().decrementAndGet();
          // free again when the steady rate gives this replica one more, or at the next exchange's new share
          long retry = s.since() + (n - burst) * interval - now;
          if (syncNanos > 0) {
            long untilSync = s.since() + syncNanos - now;
            retry = Math.min(retry, untilSync > 0 ? untilSync : syncNanos);
          }
          long ahead = Math.max(0, due.get() - now);
          // unless the limit itself is spent for longer
          return new Refusal(limit, Math.max(Math.max(1, retry), ahead + interval - period), ahead);
        }
      }
      while (true) {
        long was = due.get();
        long next = (was - now > 0 ? was : now) + interval; // nanoTime: compared by difference only
        long ahead = next - now;
        if (ahead > period) {
          if (s != null) {
            s.let().decrementAndGet();
          }
          return new Refusal(limit, ahead - period, was - now);
        }
        if (due.compareAndSet(was, next)) {
          let.incrementAndGet();
          return null;
        }
      }
    }

    Standing standing(long now) {
      long ahead = Math.max(0, due.get() - now);
      long remaining = Math.max(0, (period - ahead) / interval);
      Share s = share;
      if (s != null) { // this replica's share, until the next exchange
        remaining = Math.min(remaining, Math.max(0, s.burst() + Math.max(0, now - s.since()) / interval - s.let().get()));
      }
      return new Standing(limit, remaining, ahead);
    }

    /**
     * Takes in {@code came} requests let through at other replicas since the last exchange, and the
     * limit spent {@code spentNanos} ahead at least (where another is seen for the first time, what it
     * let through before is not counted, but how far its own limit stood spent is), and sets
     * and answers this replica's share of what is left of the burst, once what the others may let
     * through before they tell again ({@code othersGranted}) is set aside: where the client asked, the
     * rest shared with the others where it asked lately ({@code othersAsking}), else an equal part of
     * it among all live replicas ({@code others} and this one), rounded down, so a burst at one replica
     * is not held back long by the others' idle shares. The due is kept at most two periods and a
     * sync's worth at each other replica ahead: the replicas together may have passed the limit by the
     * steady rate between two syncs at each, and are held back that long at most (not less: requests
     * dropped here are let through again, as with a per-second limit, a sync a second and three replicas).
     */
    long exchanged(long came, long spentNanos, long othersGranted, int others, int othersAsking, boolean asked,
        long syncNanos, long now) {
      long most = now + 2 * period + others * syncNanos;
      while (came > 0) {
        long was = due.get();
        long from = was - now > 0 ? was : now;
        if (from - most >= 0) {
          break;
        }
        long room = (most - from) / interval;
        if (due.compareAndSet(was, came > room ? most : from + came * interval)) {
          break;
        }
      }
      if (spentNanos > 0) { // after the others' requests: it may have counted them too
        long spentTo = now + Math.min(spentNanos, most - now);
        due.accumulateAndGet(spentTo, (was, to) -> to - was > 0 ? to : was);
      }
      long left = Math.max(0, (period - Math.max(0, due.get() - now)) / interval);
      if (others == 0) {
        share = null;
        return left;
      }
      long free = Math.max(0, left - othersGranted);
      long burst = asked ? (free + othersAsking) / (othersAsking + 1) : free / (others + 1);
      // one at least where the client has not asked lately and the limit has room: a share rounded to
      // none (a few an hour, three replicas) refused a client well under it at each replica it came to
      share = new Share(now, asked ? burst : Math.max(burst, Math.min(1, left)), new AtomicLong());
      return burst;
    }
  }
}
