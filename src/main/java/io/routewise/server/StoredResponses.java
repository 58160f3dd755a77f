package io.routewise.server;

import io.routewise.upstream.Usage;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which upstream answered each Responses API response this replica relayed: a request that
 * continues one ({@code previous_response_id}) must go there, the only upstream that stored it.
 * Bounded, least recently used first out; ids are kept as 64-bit hashes (a few dozen bytes each),
 * never in the clear. With session pinning, each is also a pin of its own (shared through Redis when
 * {@code state.redis} is set, for the pins' time to live), asked for an id this replica did not see.
 *
 * <p>It also holds the background responses whose usage is awaited (answered before it existed),
 * counted once from the relayed answer that shows one done; with shared pins, at whichever replica
 * relays it ({@link io.routewise.routing.SharedUsage}).
 */
final class StoredResponses {
  /** About 10 MB of heap when full (a class histogram of a full map: ~100 bytes an entry). */
  static final int MAX_ENTRIES = 100_000;

  /** Background responses whose usage is awaited at once, at most (the least recently polled are given up on). */
  static final int MAX_AWAITED = 10_000;
  /** A background response not polled for this long is given up on, and counted unmetered. */
  static final java.time.Duration AWAIT_TTL = java.time.Duration.ofHours(1);

  private final ReentrantLock lock = new ReentrantLock();
  /** By id hash: the upstream, and whether this replica relayed it (else a pin told it). */
  private final LinkedHashMap<Long, Held> upstreams;
  /** Background responses answered before their usage existed, by id hash, least recently polled first. */
  private final LinkedHashMap<Long, Awaiting> awaited = new LinkedHashMap<>(16, 0.75f, true);
  /**
   * Routed here and taken out of {@link #awaited}, while the store is asked whether to give them up:
   * still awaited meanwhile (a poll that shows one done counts it, and takes what it holds). Each leaves
   * as its answer comes.
   */
  private final Map<Long, Checked> checking = new java.util.HashMap<>();

  /** One being checked: what its usage is counted as, and what its client's budget holds for it (null: nothing). */
  private record Checked(AwaitedUsage usage, io.routewise.routing.ClientBudgets.Hold hold) {}

  /**
   * Holds of responses routed here that another replica counted, let go after the exchanges of
   * client budgets that follow: that replica writes their spend at its next exchange, and until this
   * one has read it, the hold is all that counts them here (and at the other replicas, which read it
   * held). Let go at once, they were counted in neither for up to two syncs, and a burst here took a
   * share of a budget they had spent (a review). Under the lock.
   */
  private final java.util.List<LetGo> countedElsewhere = new java.util.ArrayList<>();

  /** A hold let go once {@code exchanges} more exchanges of client budgets have worked. */
  private static final class LetGo {
    final io.routewise.routing.ClientBudgets.Hold hold;
    int exchanges = 2;

    LetGo(io.routewise.routing.ClientBudgets.Hold hold) {
      this.hold = hold;
    }
  }
  /** Those of {@link #checking} seen cancelled without usage meanwhile: their holds are let go, not kept or charged. */
  private final java.util.Set<Long> releasedWhileChecked = new java.util.HashSet<>();
  private final java.util.function.LongSupplier clock;
  /** Where the pins are, or null for this replica's record alone. */
  private final io.routewise.routing.RoutingService pins;
  private final UsageMeter meter;
  /** Where awaited usage is shared with the other replicas now, or null (no shared pins). */
  private final java.util.function.Supplier<io.routewise.routing.SharedUsage> shared;

  StoredResponses(int maxEntries, io.routewise.routing.RoutingService pins, UsageMeter meter) {
    this(maxEntries, pins, meter, pins == null ? () -> null : pins::sharedUsage, System::nanoTime);
  }

  StoredResponses(int maxEntries, io.routewise.routing.RoutingService pins, UsageMeter meter,
      java.util.function.Supplier<io.routewise.routing.SharedUsage> shared, java.util.function.LongSupplier clock) {
    this.pins = pins;
    this.meter = meter;
    this.shared = shared;
    this.clock = clock;
    this.swept = clock.getAsLong() - SWEEP_NANOS;
    this.upstreams = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, Held> eldest) {
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
  /**
   * A Responses answer passed through to {@code upstream} for a model it prices: kept as relayed
   * here, so polls of it here go there and ask no store; no pin is written (passthrough's own
   * responses are found at the passthrough upstream anyway).
   */
  void passedThrough(String id, String upstream) {
    remember(id, upstream, true);
  }

  void answered(String id, String upstream) {
    remember(id, upstream, true);
    if (pins != null && pins.sharesPins()) {
      Thread.ofVirtual().name("routewise-response-pin").start(() -> pins.responseStored(id, upstream));
    }
  }

  /**
   * What a background response's usage is to be counted as: the upstream that answers it, whether
   * that upstream was the router's choice (for the savings), the router whose target spends it
   * (an auto request's; else null), the named client key it was for (else null), and for one passed
   * through, the model it named, whose price its usage is counted at (else null: the upstream's
   * price). Shared as text with the other replicas where pins are.
   */
  record AwaitedUsage(String upstream, boolean routersChoice, String targetRouter, String client, String model) {
    AwaitedUsage(String upstream, boolean routersChoice, String targetRouter) {
      this(upstream, routersChoice, targetRouter, null, null);
    }

    AwaitedUsage(String upstream, boolean routersChoice, String targetRouter, String client) {
      this(upstream, routersChoice, targetRouter, client, null);
    }

    /** As text, for the shared record: without a client or model, as a build before them wrote it and reads it. */
    String encoded() {
      String out = upstream + '\t' + (routersChoice ? '1' : '0') + '\t' + (targetRouter == null ? "" : targetRouter);
      if (model != null) {
        return out + '\t' + (client == null ? "" : client) + '\t' + model;
      }
      return client == null ? out : out + '\t' + client;
    }

    /**
     * The record {@link #encoded()} wrote, or null for anything else (a claimed one's answer, none);
     * one without its client is a build's before client names (a rolling upgrade).
     */
    static AwaitedUsage decoded(String text) {
      String[] part = text == null ? new String[0] : text.split("\t", -1);
      if (part.length < 3 || part.length > 5 || part[0].isEmpty() || !(part[1].equals("0") || part[1].equals("1"))) {
        return null;
      }
      return new AwaitedUsage(part[0], part[1].equals("1"), part[2].isEmpty() ? null : part[2],
          part.length < 4 || part[3].isEmpty() ? null : part[3], part.length < 5 || part[4].isEmpty() ? null : part[4]);
    }

    /** The spec whose target spends it, or null. */
    io.routewise.routing.RouteSpec spec() {
      return targetRouter == null ? null : new io.routewise.routing.RouteSpec(targetRouter, Double.NaN, true);
    }
  }

  /** Where an awaited usage is counted (the token and cost counters, a target's spend). */
  interface UsageMeter {
    void counted(AwaitedUsage awaited, Usage usage);

    /** Finished without usage. */
    void lost(AwaitedUsage awaited);

    /**
     * Finished without usage, with what its client's budget held for it here ({@code hold}, null:
     * nothing), which this closes: released, or charged where its client must be metered.
     */
    default void finishedWithout(AwaitedUsage awaited, io.routewise.routing.ClientBudgets.Hold hold) {
      lost(awaited);
      if (hold != null) {
        hold.close();
      }
    }

    /**
     * Given up on: not polled within the TTL (a client that never polls: it left before it had the
     * id, or reads webhooks), so its usage is never seen though the upstream billed it; what its
     * client's budget held for it ({@code hold}, null: nothing) is charged, as for a request left
     * under way.
     */
    default void givenUp(AwaitedUsage awaited, io.routewise.routing.ClientBudgets.Hold hold) {
      lost(awaited);
      if (hold != null) {
        hold.close();
      }
    }
  }

  /** One awaited here: routed here ({@code learned} false), or learned from another replica's record. */
  private static final class Awaiting {
    final AwaitedUsage usage;
    final boolean learned;
    long touched;
    /** What its client's budget holds for it until it is counted or given up here (null: nothing). */
    final io.routewise.routing.ClientBudgets.Hold hold;
    /** When it was last looked for as counted at another replica ({@link #releaseCountedElsewhere}). */
    long looked = Long.MIN_VALUE;

    Awaiting(AwaitedUsage usage, boolean learned, long touched) {
      this(usage, learned, touched, null);
    }

    Awaiting(AwaitedUsage usage, boolean learned, long touched, io.routewise.routing.ClientBudgets.Hold hold) {
      this.usage = usage;
      this.learned = learned;
      this.touched = touched;
      this.hold = hold;
    }

    /** It leaves this replica's awaited: counted, or given up here (polled elsewhere, or nowhere). */
    void left() {
      if (hold != null) {
        hold.close();
      }
    }
  }

  /** How long a claim on counting one holds: longer than any record of it lives unpolled, by a day. */
  static final java.time.Duration CLAIM_TTL = AWAIT_TTL.plus(java.time.Duration.ofDays(1));

  /**
   * Response {@code id} was answered before its usage existed (a {@code background: true} response,
   * queued or under way, or its stream broke off): a later answer about it (a poll, its cancel) that
   * shows it finished counts its usage then. With shared pins the record is shared too (for {@link
   * #AWAIT_TTL}, kept while any replica relays its polls), so the replica relaying that answer counts it.
   */
  void awaitUsage(String id, AwaitedUsage usage) {
    awaitUsage(id, usage, null);
  }

  /**
   * {@link #awaitUsage(String, AwaitedUsage)}, with what its client's budget holds for it ({@code
   * hold}, null: nothing) kept until it is counted or given up here, so background responses under
   * way count against a budget as requests under way do.
   */
  void awaitUsage(String id, AwaitedUsage usage, io.routewise.routing.ClientBudgets.Hold hold) {
    java.util.List<GivenUp> givenUp;
    long h = hash(id);
    lock.lock();
    try {
      long now = clock.getAsLong();
      Awaiting before = awaited.put(h, new Awaiting(usage, false, now, hold));
      if (before != null) {
        before.left();
      }
      givenUp = expire(now);
    } finally {
      lock.unlock();
    }
    io.routewise.routing.SharedUsage store = shared.get();
    if (store != null) {
      store.onStoreLost(() -> writeAgain(store)); // the same each time
      store.put(sharedKey(h), usage.encoded(), AWAIT_TTL);
    }
    givenUp.forEach(this::giveUp); // off the lock
  }

  /**
   * The store lost its state: the records of those routed here, still awaited, are written again, so
   * a replica relaying their polls still counts them (the store's queue takes what it has room for).
   */
  private void writeAgain(io.routewise.routing.SharedUsage store) {
    java.util.List<Map.Entry<Long, AwaitedUsage>> mine = new java.util.ArrayList<>();
    lock.lock();
    try {
      awaited.forEach((h, a) -> {
        if (!a.learned) {
          mine.add(Map.entry(h, a.usage));
        }
      });
      checking.forEach((h, c) -> mine.add(Map.entry(h, c.usage())));
    } finally {
      lock.unlock();
    }
    mine.forEach(e -> store.put(sharedKey(e.getKey()), e.getValue().encoded(), AWAIT_TTL));
  }

  /**
   * Whether response {@code id}'s usage is awaited (asking is a poll, which keeps it awaited): here,
   * or with shared pins at another replica. That costs a lookup in the store (bounded by the pin
   * lookup's timeout) for an id this replica did not relay and does not await.
   */
  boolean awaitsUsage(String id) {
    Awaiting waiting;
    boolean relayed;
    boolean checked;
    java.util.List<GivenUp> givenUp;
    long h = hash(id);
    lock.lock();
    try {
      long now = clock.getAsLong();
      givenUp = expire(now);
      waiting = awaited.get(h);
      if (waiting != null) {
        waiting.touched = now;
      }
      Held held = upstreams.get(h);
      relayed = held != null && held.relayed();
      checked = checking.containsKey(h);
    } finally {
      lock.unlock();
    }
    givenUp.forEach(this::giveUp);
    io.routewise.routing.SharedUsage store = shared.get();
    if (checked) {
      return true;
    }
    if (waiting != null) {
      if (store != null) {
        store.keep(sharedKey(h), AWAIT_TTL); // polled: still awaited, wherever the poll went
      }
      return true;
    }
    if (store == null || relayed) { // relayed here and not awaited: never was, or counted
      return false;
    }
    AwaitedUsage there = AwaitedUsage.decoded(store.get(sharedKey(h)).record()); // none, claimed, or no answer
    if (there == null) {
      return false;
    }
    lock.lock();
    try {
      awaited.putIfAbsent(h, new Awaiting(there, true, clock.getAsLong()));
    } finally {
      lock.unlock();
    }
    store.keep(sharedKey(h), AWAIT_TTL);
    return true;
  }

  /**
   * One given up here, whether for the bound (not the TTL), and what its client's budget holds for it
   * (null: nothing), charged if it is lost, kept if it is awaited again; whether it was put in {@link
   * #checking} (a poll that finishes it meanwhile takes that hold).
   */
  private record GivenUp(long hash, AwaitedUsage usage, boolean bound, io.routewise.routing.ClientBudgets.Hold hold,
      boolean checked) {
    void release() {
      if (hold != null) {
        hold.close();
      }
    }
  }

  /** How often {@link #sweep} looks, at most. */
  private static final long SWEEP_NANOS = 1_000_000_000L;
  /** When {@link #sweep} last looked (racy on purpose: two at once each take the lock, no harm). */
  private volatile long swept;

  /**
   * Gives up those not polled within the TTL, at most once a second: run before a budget's holds and
   * at each exchange of client budgets, since otherwise only a Responses request (a new background
   * one, a poll) looks, and a response no one polls (a client reading webhooks) held its client's
   * budget past its hour until one came (a review).
   */
  void sweep() {
    long now = clock.getAsLong();
    if (now - swept < SWEEP_NANOS) {
      return;
    }
    swept = now;
    java.util.List<GivenUp> givenUp;
    lock.lock();
    try {
      givenUp = expire(now);
    } finally {
      lock.unlock();
    }
    givenUp.forEach(this::giveUp);
  }

  /** Takes out those past the bound or not polled here within the TTL, least recently polled first. */
  private java.util.List<GivenUp> expire(long now) {
    java.util.List<GivenUp> givenUp = java.util.List.of();
    boolean sharing = false;
    var it = awaited.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Long, Awaiting> eldest = it.next();
      boolean bound = awaited.size() > MAX_AWAITED;
      if (!bound && now - eldest.getValue().touched < AWAIT_TTL.toNanos()) {
        break;
      }
      it.remove();
      if (eldest.getValue().learned) { // given up by the replica that routed it, which holds for it
        eldest.getValue().left();
      } else { // its hold goes to the give-up, which charges, keeps or lets go of it
        if (givenUp.isEmpty()) {
          givenUp = new java.util.ArrayList<>();
          sharing = shared.get() != null;
        }
        givenUp.add(new GivenUp(eldest.getKey(), eldest.getValue().usage, bound, eldest.getValue().hold, sharing));
        if (sharing) {
          checking.put(eldest.getKey(), new Checked(eldest.getValue().usage, eldest.getValue().hold));
        }
      }
    }
    return givenUp;
  }

  /**
   * One routed here, not polled here for the TTL (or pushed out by the bound): counted unmetered.
   * With shared pins, only once its shared record is gone (no replica relayed a poll of it for the
   * TTL) and this replica's claim holds (none counted it). Still polled elsewhere, or the store not
   * answering: awaited here again (asked at its next expiry); pushed out by the bound, it is left to
   * the replica polling it, or with no answer counted unmetered here.
   */
  private void giveUp(GivenUp given) {
    io.routewise.routing.SharedUsage store = shared.get();
    if (store == null) {
      lock.lock();
      try {
        checking.remove(given.hash()); // shared when it was taken out, not now
      } finally {
        lock.unlock();
      }
      meter.givenUp(given.usage(), given.hold());
      return;
    }
    store.get(sharedKey(given.hash()), lookup -> {
      boolean claimed = io.routewise.routing.StateStore.USAGE_CLAIMED.equals(lookup.record());
      boolean polledElsewhere = lookup.record() != null && !claimed;
      io.routewise.routing.ClientBudgets.Hold hold = given.hold();
      lock.lock();
      try {
        if (checking.remove(given.hash()) == null) {
          if (!given.checked()) { // the store came after it was taken out: no poll could take its hold
            given.release();
          }
          return; // a poll here showed it done meanwhile: finished took it, and what it holds
        }
        if (releasedWhileChecked.remove(given.hash())) { // a cancel without usage came meanwhile
          given.release();
          hold = null;
        }
        if (!given.bound() && (polledElsewhere || !lookup.answered())) {
          if (awaited.putIfAbsent(given.hash(), new Awaiting(given.usage(), false, clock.getAsLong(), hold)) != null
              && hold != null) {
            hold.close();
          }
          return; // asked again at its next expiry, still held
        }
      } finally {
        lock.unlock();
      }
      if (claimed || polledElsewhere || hold == null || !lookup.answered()) {
        if (claimed) {
          letGoAfterExchanges(hold); // counted elsewhere
        } else {
          given.release();
        }
        if (!claimed && !polledElsewhere && lookup.answered()) {
          settle(store, given.hash(), given.usage(), null, null); // gone, held for no more: unmetered, once
        } else if (!claimed && !polledElsewhere) {
          meter.lost(given.usage()); // pushed out by the bound, the store silent: counted here, held for no more
        }
        return; // counted; or, pushed out by the bound, left to the replica polling it
      }
      // gone: unmetered, if no replica counted it, and charged what it held unless it was seen cancelled
      io.routewise.routing.ClientBudgets.Hold charged = hold;
      store.get(releasedKey(given.hash()), mark -> store.claim(sharedKey(given.hash()), CLAIM_TTL, won -> {
        if (won != null && !won) {
          letGoAfterExchanges(charged); // counted elsewhere
        } else if (mark.record() != null) {
          charged.close();
          meter.lost(given.usage());
        } else {
          meter.givenUp(given.usage(), charged);
        }
      }));
    });
  }

  /** Held records looked up at most at one exchange of client budgets, and each at most once a second. */
  static final int LOOKUPS_PER_EXCHANGE = 64;

  /**
   * Stops awaiting (and holding for) those routed here that another replica counted: with shared
   * pins their polls may reach any replica, which counts them and claims the count in the store, and
   * the hold here would otherwise stand until the hour is up, held at every replica (a review). Run
   * at each exchange of client budgets, on the sync thread: a few held records at a time, each asked
   * whether its count was claimed.
   */
  void releaseCountedElsewhere() {
    java.util.List<io.routewise.routing.ClientBudgets.Hold> due = new java.util.ArrayList<>();
    lock.lock();
    try {
      countedElsewhere.removeIf(l -> --l.exchanges <= 0 && due.add(l.hold));
    } finally {
      lock.unlock();
    }
    due.forEach(io.routewise.routing.ClientBudgets.Hold::close);
    io.routewise.routing.SharedUsage store = shared.get();
    if (store == null) {
      return;
    }
    java.util.List<Long> ask;
    lock.lock();
    try {
      long now = clock.getAsLong();
      // the least recently looked first, so that every held one comes round however many there are
      java.util.List<Map.Entry<Long, Awaiting>> held = new java.util.ArrayList<>();
      for (Map.Entry<Long, Awaiting> e : awaited.entrySet()) {
        Awaiting w = e.getValue();
        if (w.hold != null && w.hold.usd() > 0 && !w.learned
            && (w.looked == Long.MIN_VALUE || now - w.looked >= 1_000_000_000L)) {
          held.add(e);
        }
      }
      held.sort(java.util.Comparator.comparingLong(e -> e.getValue().looked));
      ask = new java.util.ArrayList<>();
      for (Map.Entry<Long, Awaiting> e : held.subList(0, Math.min(held.size(), LOOKUPS_PER_EXCHANGE))) {
        e.getValue().looked = now;
        ask.add(e.getKey());
      }
    } finally {
      lock.unlock();
    }
    for (long h : ask) {
      store.get(sharedKey(h), lookup -> {
        if (io.routewise.routing.StateStore.USAGE_CLAIMED.equals(lookup.record())) {
          lock.lock();
          try {
            Awaiting w = awaited.get(h);
            if (w != null && !w.learned) { // counted elsewhere: awaited here no more
              awaited.remove(h);
              letGoAfterExchanges(w.hold);
            }
          } finally {
            lock.unlock();
          }
        } else if (lookup.record() != null) {
          store.get(releasedKey(h), mark -> {
            if (mark.record() != null) {
              lock.lock();
              try {
                releaseHeld(h);
              } finally {
                lock.unlock();
              }
            }
          });
        }
      });
    }
  }

  /**
   * Lets go of {@code hold} (null: none), of a response another replica counted, once two more
   * exchanges of client budgets have worked ({@link #countedElsewhere}): the first may read the other's
   * spend before it was written, the second, a sync later, after.
   */
  private void letGoAfterExchanges(io.routewise.routing.ClientBudgets.Hold hold) {
    if (hold == null) {
      return;
    }
    if (hold.usd() == 0) { // holds nothing: no exchange need wait for it
      hold.close();
      return;
    }
    lock.lock();
    try {
      countedElsewhere.add(new LetGo(hold));
    } finally {
      lock.unlock();
    }
  }

  /** Lets go of what one awaited here holds, the record still awaited; whether it held anything. Under the lock. */
  private boolean releaseHeld(long h) {
    Awaiting waiting = awaited.get(h);
    if (waiting == null || waiting.hold == null) {
      return false;
    }
    waiting.left();
    awaited.put(h, new Awaiting(waiting.usage, waiting.learned, waiting.touched));
    return true;
  }

  /**
   * Response {@code id} was seen cancelled without usage, which it may yet show (it stays awaited):
   * its client's budget holds nothing for it from now, or a client would wait for the hour it is
   * awaited (an operator trial).
   */
  void released(String id) {
    long h = hash(id);
    boolean mine = false;
    lock.lock();
    try {
      mine = releaseHeld(h);
      if (!mine && !awaited.containsKey(h) && checking.containsKey(h)) {
        releasedWhileChecked.add(h); // its give-up lookup under way: let go when it answers
        mine = true;
      }
    } finally {
      lock.unlock();
    }
    io.routewise.routing.SharedUsage store = shared.get();
    if (!mine && store != null) {
      // the replica that routed it holds for it: it sees this mark at its next lookups (releaseCountedElsewhere)
      store.put(releasedKey(h), "released", AWAIT_TTL);
    }
  }

  /** The shared mark of a response seen cancelled without usage at a replica that holds nothing for it. */
  private static String releasedKey(long h) {
    return sharedKey(h) + "-released";
  }

  /**
   * Response {@code id}'s client left before its answer, which names it, reached it: no one will poll
   * it, yet it goes on upstream and is billed. Its client is charged what it held now, as for a
   * request left under way (else never: given up after the hour, it counts unmetered); usage a later
   * poll shows still counts in the cost metrics, not again in the client's spend.
   */
  void abandoned(String id, io.routewise.routing.ClientBudgets budgets) {
    long h = hash(id);
    AwaitedUsage unnamed;
    lock.lock();
    try {
      Awaiting waiting = awaited.get(h);
      if (waiting == null || waiting.hold == null || waiting.usage.client() == null) {
        return;
      }
      budgets.left(waiting.hold);
      waiting.left();
      AwaitedUsage u = waiting.usage;
      unnamed = new AwaitedUsage(u.upstream(), u.routersChoice(), u.targetRouter(), null, u.model());
      awaited.put(h, new Awaiting(unnamed, waiting.learned, waiting.touched));
    } finally {
      lock.unlock();
    }
    io.routewise.routing.SharedUsage store = shared.get();
    if (store != null) {
      store.put(sharedKey(h), unnamed.encoded(), AWAIT_TTL);
    }
  }

  /**
   * Response {@code id} was seen finished, with {@code usage} (null: it has none): counted once, however
   * many polls saw it so, here or (with shared pins) at any replica.
   */
  void finished(String id, Usage usage) {
    Awaiting waiting;
    long h = hash(id);
    Checked checked = null;
    io.routewise.routing.ClientBudgets.Hold released = null;
    lock.lock();
    try {
      waiting = awaited.remove(h);
      if (waiting == null) {
        checked = checking.remove(h); // taken out as its expiry is checked: still awaited, and held
        if (releasedWhileChecked.remove(h) && checked != null) {
          released = checked.hold(); // seen cancelled without usage meanwhile: let go, not charged
          checked = new Checked(checked.usage(), null);
        }
      }
    } finally {
      lock.unlock();
    }
    if (released != null) {
      released.close();
    }
    if (waiting == null && checked == null) {
      return;
    }
    AwaitedUsage awaitedUsage = waiting != null ? waiting.usage : checked.usage();
    // what it held goes with it until it is counted: charged, where its client must be metered, if it has no usage
    io.routewise.routing.ClientBudgets.Hold hold = waiting != null ? waiting.hold : checked.hold();
    io.routewise.routing.SharedUsage store = shared.get();
    if (store == null) {
      count(awaitedUsage, usage, hold);
    } else {
      settle(store, h, awaitedUsage, usage, hold);
    }
  }

  /**
   * Counts one if this replica's claim holds (the store then answers it claimed to every lookup). A
   * claim the store did not answer (down, slower than its timeout, closing) is counted here: each
   * replica then counts what it saw, rather than none.
   */
  private void settle(io.routewise.routing.SharedUsage store, long h, AwaitedUsage awaited, Usage usage,
      io.routewise.routing.ClientBudgets.Hold hold) {
    store.claim(sharedKey(h), CLAIM_TTL, won -> {
      if (won == null || won) {
        count(awaited, usage, hold);
      } else {
        letGoAfterExchanges(hold); // counted elsewhere
      }
    });
  }

  private void count(AwaitedUsage awaited, Usage usage, io.routewise.routing.ClientBudgets.Hold hold) {
    if (usage != null) {
      meter.counted(awaited, usage); // spent before the hold lets go: a request checked between sees one or the other
      if (hold != null) {
        hold.close();
      }
    } else {
      meter.finishedWithout(awaited, hold);
    }
  }

  /** The id's hash, the name of its shared record and claim: the id itself is never stored. */
  private static String sharedKey(long h) {
    return java.util.HexFormat.of().toHexDigits(h); // 16 digits, leading zeros kept
  }

  private record Held(String upstream, boolean relayed) {}

  private void remember(String id, String upstream, boolean relayed) {
    lock.lock();
    try {
      upstreams.put(hash(id), new Held(upstream, relayed));
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
      Held held = upstreams.get(hash(id));
      at = held == null ? null : held.upstream();
    } finally {
      lock.unlock();
    }
    if (at == null && pins != null) {
      at = pins.storedResponseAt(id); // another replica's (bounded by the pin lookup's timeout)
      if (at != null) {
        remember(id, at, false);
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
