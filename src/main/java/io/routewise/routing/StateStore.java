package io.routewise.routing;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * State shared between replicas: the targets' windows, the session pins, background responses'
 * awaited usage and named clients' spend. The routing core talks to it only through this
 * interface; {@code io.routewise.state} implements it over Redis.
 *
 * <p>Threading: only routewise's background threads call it, never a request thread. The sync
 * thread calls {@link #exchange}, {@link #ping}, {@link #incarnation}, {@link #evictedKeys},
 * {@link #shareSpend}, {@link #shareHolds}, {@link #shareRequests} and {@link #pinAllIfAbsent};
 * the pin threads call {@link #pins} and {@link #pinAllIfAbsent} (a batch of requests each),
 * concurrently with the sync thread and with each other. Every call is bounded by the store's own timeout and throws when the store is down or
 * slower than that.
 */
public interface StateStore extends AutoCloseable {

  /**
   * Publishes this replica's window of one router's target traffic (kept while this replica stays
   * alive, dropped a few sync periods after it stops) and returns the windows the other live
   * replicas published.
   */
  List<WindowSnapshot> exchange(String router, WindowSnapshot mine) throws Exception;

  /** Checks that the store answers and takes writes (when there is no window to exchange). */
  void ping() throws Exception;

  /** The upstream a session is pinned to and for how much longer, or null when it has no pin. */
  Pin pin(String session) throws Exception;

  /** {@link #pin} for many sessions at once: each one's pin, by session (no entry, or null: none). */
  default Map<String, Pin> pins(java.util.Collection<String> sessions) throws Exception {
    Map<String, Pin> found = new LinkedHashMap<>();
    for (String s : sessions) {
      found.put(s, pin(s));
    }
    return found;
  }

  /**
   * Pins a session to {@code upstream} (its name) for {@code ttl} unless it is pinned already (by
   * this replica or another, even at the same moment: one wins) and returns the pin that holds.
   */
  Pin pinIfAbsent(String session, String upstream, Duration ttl) throws Exception;

  /**
   * {@link #pinIfAbsent} for many sessions at once (session to offered pin), answering the pins that
   * hold, by session. A store that lost its state is offered every pin a replica holds this way, at
   * the sync that notices, so a replica that never saw a session finds its pin there.
   */
  default Map<String, Pin> pinAllIfAbsent(Map<String, Pin> offers) throws Exception {
    Map<String, Pin> held = new LinkedHashMap<>();
    for (Map.Entry<String, Pin> o : offers.entrySet()) {
      held.put(o.getKey(), pinIfAbsent(o.getKey(), o.getValue().upstream(), Duration.ofMillis(o.getValue().remainingMillis())));
    }
    return held;
  }

  /**
   * An id the store keeps as long as it keeps its state: another one once it lost it (restarted
   * without persistence, flushed), or null when it cannot tell. Each call may create it. The sync
   * thread asks every period, so pins a replica holds as shared are offered to a store that lost
   * them ({@link #pinAllIfAbsent}) rather than kept apart from the pins other replicas make there afresh.
   */
  default String incarnation() throws Exception {
    return null;
  }

  /**
   * How many keys the store has evicted since it started (a Redis at its {@code maxmemory}), or -1
   * when it cannot tell. The sync thread asks every period: pins may be among them.
   */
  default long evictedKeys() throws Exception {
    return -1;
  }

  /**
   * Whether the store can hold pins: false for a Redis older than 7.0 (no SET NX GET), found at its
   * first connection; each replica then keeps its own, and none is offered or looked up there.
   */
  default boolean takesPins() {
    return true;
  }

  /**
   * Keeps a background response's awaited-usage record (text, under {@code key}, a hash of its id)
   * for {@code ttl}, replacing any. Kept apart from the sessions' pins: no session key names one.
   */
  default void putUsage(String key, String record, Duration ttl) throws Exception {
    throw new UnsupportedOperationException();
  }

  /** What {@link #usage} answers once a claim on {@code key} was made (counted: awaited no more). */
  String USAGE_CLAIMED = "\u0000claimed";

  /**
   * The record {@link #putUsage} keeps under {@code key}; {@link #USAGE_CLAIMED} once a claim on it
   * was made ({@link #claimUsage}), whatever the record; null for none.
   */
  default String usage(String key) throws Exception {
    throw new UnsupportedOperationException();
  }

  /** Keeps {@code key}'s record another {@code ttl} from now, if it is still there. */
  default void keepUsage(String key, Duration ttl) throws Exception {
    throw new UnsupportedOperationException();
  }

  /**
   * Claims counting {@code key}'s usage: true for the first claim (which then holds for {@code ttl}),
   * false for every claim after it, from this replica or another.
   */
  default boolean claimUsage(String key, Duration ttl) throws Exception {
    throw new UnsupportedOperationException();
  }

  /**
   * Keeps what {@code replica} spent under each key (a named client's spend in one budget period,
   * {@link ClientBudgets}) beside what the other replicas keep there, each key for its {@code ttl}
   * from now, and returns, by key, what each replica keeps there (its own included), by replica id.
   * Writing the same again changes nothing.
   */
  default Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) throws Exception {
    throw new UnsupportedOperationException();
  }

  /** What one replica spent under one key, and how long the key is to be kept. */
  record Spend(double usd, Duration ttl) {}

  /**
   * Keeps what {@code replica}'s requests under way hold of each named client's budget ({@link
   * ClientBudgets}) until a few syncs from now, in place of what it kept before, and returns what
   * the other live replicas' requests hold, summed by client, and how many those replicas are (those
   * holding nothing too). A store that cannot share them answers none: each replica then holds its
   * own.
   */
  default OthersHolds shareHolds(String replica, Map<String, Held> mine) throws Exception {
    return OthersHolds.NONE;
  }

  /** What a client's requests under way hold of its budget, USD, and how many they are. */
  record Held(double usd, int inFlight) {}

  /**
   * The other live replicas' holds by client, and how many those replicas are.
   *
   * @param replicas the other replicas that shared their holds within the last few syncs
   * @param byClient what their requests under way hold, summed by client
   */
  record OthersHolds(int replicas, Map<String, Held> byClient) {
    public static final OthersHolds NONE = new OthersHolds(0, Map.of());

    public OthersHolds {
      byClient = Map.copyOf(byClient);
    }
  }

  /**
   * Reads the other live replicas' requests of each named client with a rate limit ({@link
   * ClientRateLimits}), by replica id, then by client; gives them to {@code decide}, and keeps what it
   * answers as {@code replica}'s until a few syncs from now, in place of what it kept before (so what
   * a replica grants itself is known to the others from its exchange on). A store that cannot share
   * them answers null without calling {@code decide}: each replica then holds the limits alone.
   */
  default Map<String, Map<String, Requests>> shareRequests(String replica,
      java.util.function.Function<Map<String, Map<String, Requests>>, Map<String, Requests>> decide) throws Exception {
    return null;
  }

  /**
   * A client's requests at one replica: how many it let through since it started, how many more it
   * may until its next exchange, whether the client asked there since the one before, and how far
   * (nanoseconds) the limit stood spent there ahead of that exchange (its whole burst back after that).
   */
  record Requests(long let, long granted, boolean asked, long aheadNanos) {
    public Requests(long let, long granted, boolean asked) {
      this(let, granted, asked, 0);
    }
  }

  /** Where the store is, for logs (never a password). */
  String describe();

  @Override
  void close();

  /** A session's pin: the upstream's name and the milliseconds it has left. */
  record Pin(String upstream, long remainingMillis) {}
}
