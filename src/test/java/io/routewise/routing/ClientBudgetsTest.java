package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ClientKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Named clients' budgets: spend per calendar period, held across replicas through the store. */
class ClientBudgetsTest {
  private final AtomicLong now = new AtomicLong(Instant.parse("2026-12-31T23:10:00Z").toEpochMilli());

  /**
   * A store that keeps each replica's spend per key as Redis's hash does; {@code down} makes every
   * call fail, {@code loseReply} applies the write and then fails, as a reply lost to a timeout.
   */
  static class SpendStore extends UsageOnlyStore {
    final Map<String, Map<String, Double>> spend = new ConcurrentHashMap<>();
    final Map<String, Duration> ttls = new ConcurrentHashMap<>();
    volatile boolean down;
    volatile boolean loseReply;

    @Override
    public Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) throws Exception {
      if (down) {
        throw new java.io.IOException("down");
      }
      Map<String, Map<String, Double>> fields = new java.util.HashMap<>();
      mine.forEach((key, spent) -> {
        ttls.put(key, spent.ttl());
        Map<String, Double> all = spend.computeIfAbsent(key, k -> new ConcurrentHashMap<>());
        all.put(replica, spent.usd());
        fields.put(key, Map.copyOf(all));
      });
      if (loseReply) {
        throw new java.net.SocketTimeoutException("read timed out");
      }
      return fields;
    }

    double total(String key) {
      return spend.get(key).values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** Each replica's holds, by replica, as Redis keeps them (no expiry here). */
    final Map<String, Map<String, Held>> holds = new ConcurrentHashMap<>();

    @Override
    public OthersHolds shareHolds(String replica, Map<String, Held> mine) throws Exception {
      if (down) {
        throw new java.io.IOException("down");
      }
      holds.put(replica, Map.copyOf(mine));
      Map<String, Held> others = new java.util.HashMap<>();
      holds.forEach((r, held) -> {
        if (!r.equals(replica)) {
          held.forEach((client, h) -> others.merge(client, h,
              (x, y) -> new Held(x.usd() + y.usd(), x.inFlight() + y.inFlight())));
        }
      });
      return new OthersHolds(holds.size() - 1, others);
    }
  }

  /** Exchanges a, b, then a again: each has read the other as a live replica since. */
  private static void meet(StateStore store, ClientBudgets a, ClientBudgets b) throws Exception {
    a.exchange(store);
    b.exchange(store);
    a.exchange(store);
  }

  private ClientBudgets budgets(double usd, ClientKey.Period per) {
    return new ClientBudgets(Map.of("batch", new ClientKey.Budget(usd, per)), now::get);
  }

  /**
   * A request with audio in or asking audio back holds those tokens at the audio rates, which an audio
   * model bills at 8 to 16 times text: held at text rates, an audio answer held an eighth of its cost
   * (a review), and one whose usage never came was charged that; a reprice keeps the rates.
   */
  @Test
  void audioIsHeldAtTheAudioRates() {
    ClientBudgets b = budgets(100.0, ClientKey.Period.DAY);
    io.routewise.config.Price audioModel = new io.routewise.config.Price(2.5, 10, 2.5, 2.5, 40, 80);
    try (ClientBudgets.Hold text = b.hold("batch", 1000, 500, 1, false, java.util.List.of(audioModel));
        ClientBudgets.Hold spoken = b.hold("batch", 1000, 500, 1, false, new ClientBudgets.Rates(true, true, false),
            java.util.List.of(audioModel))) {
      assertEquals((1000 * 2.5 + 500 * 10) / 1e6, text.usd(), 1e-12);
      assertEquals((1000 * 40 + 500 * 80) / 1e6, spoken.usd(), 1e-12);
      spoken.reprice(audioModel, new io.routewise.config.Price(2.5, 10));
      assertEquals((1000 * 40 + 500 * 80) / 1e6, spoken.usd(), 1e-12, "repriced at the audio rates still");
    }
  }

  /**
   * A prompt marked for the upstream's cache may be written to it, which Anthropic bills at 1.25 (5
   * minutes) to 2 (an hour) times input: held at the input rate, a long cached first turn held up to
   * half its cost.
   */
  @Test
  void aPromptMarkedForTheCacheIsHeldAtTheCacheWriteRate() {
    ClientBudgets b = budgets(100.0, ClientKey.Period.DAY);
    io.routewise.config.Price claude = new io.routewise.config.Price(3, 15, 0.3, 3.75);
    try (ClientBudgets.Hold plain = b.hold("batch", 10_000, 500, 1, false, java.util.List.of(claude));
        ClientBudgets.Hold cached = b.hold("batch", 10_000, 500, 1, false, new ClientBudgets.Rates(false, false, true),
            java.util.List.of(claude, new io.routewise.config.Price(1, 5)))) {
      assertEquals((10_000 * 3 + 500 * 15) / 1e6, plain.usd(), 1e-12);
      assertEquals((10_000 * 3.75 + 500 * 15) / 1e6, cached.usd(), 1e-12);
    }
  }

  @Test
  void aClientThatSpentItsBudgetIsRefusedUntilTheNextCalendarPeriod() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.HOUR);
    assertEquals(0, b.exhaustedFor("batch"));
    assertEquals(0, b.exhaustedFor("search"), "no budget, no limit");
    assertEquals(0, b.exhaustedFor(null), "an unnamed key");
    b.spent("batch", 0.6, 0, 100);
    b.spent("batch", Double.NaN, 0, 100); // an unpriced upstream's answer
    b.spent("search", 5, 0, 100);
    assertEquals(0, b.exhaustedFor("batch"));
    b.spent("batch", 0.4, 0, 100);
    assertEquals(Duration.ofMinutes(50).toMillis(), b.exhaustedFor("batch"), "until 00:00, the next hour");
    assertEquals(1.0, b.spentThisPeriod("batch"), 1e-12);
    now.addAndGet(Duration.ofMinutes(50).toMillis());
    assertEquals(0, b.exhaustedFor("batch"), "a new hour, a new budget");
    assertEquals(0.0, b.spentThisPeriod("batch"));
  }

  @Test
  void periodsAreCalendarPeriodsInUtc() {
    long t = Instant.parse("2026-12-31T23:10:00Z").toEpochMilli();
    assertEquals(Instant.parse("2026-12-31T23:00:00Z").toEpochMilli(), ClientKey.Period.HOUR.start(t));
    assertEquals(Instant.parse("2027-01-01T00:00:00Z").toEpochMilli(), ClientKey.Period.DAY.next(t));
    assertEquals(Instant.parse("2026-12-01T00:00:00Z").toEpochMilli(), ClientKey.Period.MONTH.start(t));
    assertEquals(Instant.parse("2027-01-01T00:00:00Z").toEpochMilli(), ClientKey.Period.MONTH.next(t));
    assertEquals(Instant.parse("2027-03-01T00:00:00Z").toEpochMilli(),
        ClientKey.Period.MONTH.next(Instant.parse("2027-02-28T12:00:00Z").toEpochMilli()));
    ClientBudgets month = budgets(10, ClientKey.Period.MONTH);
    month.spent("batch", 10, 0, 100);
    assertEquals(Duration.ofMinutes(50).toMillis(), month.exhaustedFor("batch"));
  }

  /** Two replicas, each under the budget on its own, over it together once they have exchanged. */
  @Test
  void replicasAddUpTheirSpendThroughTheStore() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    a.spent("batch", 0.6, 0, 100);
    b.spent("batch", 0.5, 0, 100);
    assertEquals(0, a.exhaustedFor("batch"));
    a.exchange(store);
    assertEquals(0.6, a.spentThisPeriod("batch"), 1e-12);
    b.exchange(store);
    assertEquals(1.1, b.spentThisPeriod("batch"), 1e-12);
    assertTrue(b.exhaustedFor("batch") > 0);
    assertEquals(0, a.exhaustedFor("batch"), "a has not heard of b's spend yet");
    a.exchange(store);
    assertTrue(a.exhaustedFor("batch") > 0);
    assertEquals(1.1, store.total("batch:" + Instant.parse("2026-12-31T00:00:00Z").getEpochSecond()), 1e-12,
        "each replica's spend counted once, whatever the exchanges");
    assertEquals(Duration.ofMinutes(50).plusDays(1), store.ttls.values().iterator().next(), "kept a day past its period");
  }

  /** A store down: spend is held here, and written once it is back; a lost reply counts nothing twice. */
  @Test
  void spendWhileTheStoreIsDownOrItsReplyIsLostIsCountedOnce() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    a.spent("batch", 0.3, 0, 100);
    a.exchange(store);
    store.down = true;
    a.spent("batch", 0.3, 0, 100);
    assertThrows(java.io.IOException.class, () -> a.exchange(store));
    assertEquals(0.6, a.spentThisPeriod("batch"), 1e-12, "what it spent, the others' as last read");
    store.down = false;
    store.loseReply = true; // written, but the answer never came: written again at the next exchange
    assertThrows(java.net.SocketTimeoutException.class, () -> a.exchange(store));
    store.loseReply = false;
    a.spent("batch", 0.1, 0, 100);
    a.exchange(store);
    a.exchange(store);
    assertEquals(0.7, a.spentThisPeriod("batch"), 1e-12);
    assertEquals(0.7, store.spend.values().iterator().next().values().iterator().next(), 1e-12);
    a.spent("batch", 0.3, 0, 100);
    assertTrue(a.exhaustedFor("batch") > 0, "held to its budget on its own spend");
  }

  /**
   * A store that lost a stopped replica's field (Redis restarted empty after a deploy) does not give
   * its spend back to the client: within a period, spend only grows (a trial saw the budget renewed).
   */
  @Test
  void spendAStoreLostIsKeptAsLastRead() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets gone = budgets(1.0, ClientKey.Period.DAY);
    gone.spent("batch", 0.5, 0, 100);
    gone.exchange(store); // then it stops for good
    a.spent("batch", 0.3, 0, 100);
    a.exchange(store);
    assertEquals(0.8, a.spentThisPeriod("batch"), 1e-12);
    store.spend.clear(); // Redis restarted empty
    a.spent("batch", 0.1, 0, 100);
    a.exchange(store);
    assertEquals(0.9, a.spentThisPeriod("batch"), 1e-12, "the stopped replica's 0.5 is still spent");
    a.spent("batch", 0.1, 0, 100);
    assertTrue(a.exhaustedFor("batch") > 0);
  }

  /** A clock stepped back across the turn of a period keeps what was spent in the new one. */
  @Test
  void aClockSteppedBackDoesNotForgetTheSpend() {
    now.set(Instant.parse("2027-01-01T00:00:00.300Z").toEpochMilli());
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    b.spent("batch", 1.0, 0, 100);
    now.set(Instant.parse("2026-12-31T23:59:59.800Z").toEpochMilli()); // NTP steps it back
    assertEquals(1.0, b.spentThisPeriod("batch"), 1e-12);
    assertTrue(b.exhaustedFor("batch") > 0);
    now.set(Instant.parse("2027-01-01T00:00:01Z").toEpochMilli());
    assertEquals(1.0, b.spentThisPeriod("batch"), 1e-12, "still the same day's spend");
  }

  /**
   * A replica started with its clock two hours ahead, then set right (NTP), is back in the period
   * that holds the time: it stayed in the one ahead, and a client that had spent its hourly budget
   * there was refused for 2.5 hours (Retry-After 9000) instead of until the next hour. What it spent
   * is still counted, in the period it is back in and in the one ahead once the clock reaches it.
   */
  @Test
  void aClockSetBackFromAPeriodAheadRefusesNoLongerThanAPeriod() {
    now.set(Instant.parse("2026-12-31T14:30:00Z").toEpochMilli()); // 12:30 really
    ClientBudgets b = budgets(1.0, ClientKey.Period.HOUR);
    b.spent("batch", 1.0, 0, 100);
    now.set(Instant.parse("2026-12-31T12:30:00Z").toEpochMilli()); // set right
    assertEquals(1.0, b.spentThisPeriod("batch"), 1e-12, "what was spent is not forgotten");
    assertEquals(Duration.ofMinutes(30).toMillis(), b.exhaustedFor("batch"), "refused until the next hour");
    now.set(Instant.parse("2026-12-31T13:00:00Z").toEpochMilli());
    assertEquals(0, b.exhaustedFor("batch"), "a new hour, a new budget");
    now.set(Instant.parse("2026-12-31T14:00:00Z").toEpochMilli());
    assertEquals(1.0, b.spentThisPeriod("batch"), 1e-12, "the hour it was spent in counts it too");
  }

  /** A replica's budgets of 1 USD a day, exchanged each second. */
  private ClientBudgets syncingEachSecond() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    b.syncEvery(Duration.ofSeconds(1));
    return b;
  }

  /**
   * A refusal only the next sync can lift says when that sync comes: syncs start a sync after the last
   * ended, so with Redis 150 ms a reply (under timeout_ms) they came 2.4 s apart at sync_ms 1000, and
   * a retry at the Retry-After of 1 s met the same refusal (4 of 11 in a trial with 3 replicas).
   */
  @Test
  void aRefusalUntilTheNextSyncSaysWhenItReallyComes() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = syncingEachSecond();
    ClientBudgets b = syncingEachSecond();
    ClientBudgets.Hold atA = hold(a, 100, PRICE); // 0.6, held at a alone
    for (int i = 0; i < 3; i++) {
      a.exchange(store);
      b.exchange(store);
      now.addAndGet(2400);
    }
    a.exchange(store);
    b.exchange(store);
    assertEquals(2400, hold(b, 100, PRICE).untilSync(), "held only at a: until b's next sync, as far off as the last");
    now.addAndGet(1000);
    assertEquals(1400, hold(b, 100, PRICE).untilSync());
    atA.close();
  }

  /**
   * A refusal only the next sync can lift says when that sync is: at most a sync away, whatever the
   * wall clock did since the last one. Set back ten minutes (NTP), it said 601 s, and the SDKs'
   * clients waited ten minutes for a sync a second away.
   */
  @Test
  void aClockSteppedBackStillSaysTheNextSyncIsASyncAway() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = syncingEachSecond();
    ClientBudgets b = syncingEachSecond();
    ClientBudgets.Hold atA = hold(a, 100, PRICE); // 0.6, held at a alone
    a.exchange(store);
    b.exchange(store);
    assertEquals(1000, hold(b, 100, PRICE).untilSync(), "held only at a: until b's next sync");
    now.addAndGet(-Duration.ofMinutes(10).toMillis()); // NTP steps the clock back
    long untilSync = hold(b, 100, PRICE).untilSync();
    assertTrue(untilSync >= 1 && untilSync <= 1000, "at most a sync away: " + untilSync);
    now.addAndGet(Duration.ofHours(2).toMillis()); // and forward
    untilSync = hold(b, 100, PRICE).untilSync();
    assertTrue(untilSync >= 1 && untilSync <= 1000, "at most a sync away: " + untilSync);
    atA.close();
  }

  /**
   * A replica that stops writes what it spent since its last sync first: else that spend was in no
   * replica's sum, and the replica replacing it let the client spend it again (review).
   */
  @Test
  void aStoppingReplicaWritesItsLastSpend() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    StateSync sync = new StateSync(java.util.List.of(), store, Duration.ofHours(1), StateListener.NONE);
    sync.shareWith(a);
    sync.start();
    a.spent("batch", 0.4, 0, 100); // after the last sync
    sync.close();
    sync.close(); // as Routewise closes it, then its state: nothing more, no error
    assertEquals(0.4, store.total("batch:" + Instant.parse("2026-12-31T00:00:00Z").getEpochSecond()), 1e-12);
  }

  /** What an exchange reads back for a period that has just ended does not count in the new one. */
  @Test
  void aPeriodThatTurnsDuringAnExchangeStartsTheNewOneAtZero() throws Exception {
    ClientBudgets a = budgets(1.0, ClientKey.Period.HOUR);
    SpendStore store = new SpendStore() {
      @Override
      public Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) throws Exception {
        Map<String, Map<String, Double>> total = super.shareSpend(replica, mine);
        now.addAndGet(Duration.ofHours(1).toMillis()); // the hour turns while Redis answers
        return total;
      }
    };
    a.spent("batch", 0.9, 0, 100);
    a.exchange(store);
    assertEquals(0.0, a.spentThisPeriod("batch"));
    assertEquals(0, a.exhaustedFor("batch"));
  }

  private static final io.routewise.config.Price PRICE = new io.routewise.config.Price(1000, 1000); // 0.001 a token

  private static ClientBudgets.Hold hold(ClientBudgets b, long promptTokens, io.routewise.config.Price... prices) {
    return b.hold("batch", promptTokens, -1, 1, false, java.util.Arrays.asList(prices));
  }

  /**
   * What requests under way hold is exchanged with the spend: a request at one replica that would
   * pass the budget with another's holds waits for them, a sync after they were taken (before, each
   * replica let a burst through as if it were alone: a trial had two replicas spend 1.5 times a small
   * budget). A store that stops answering drops the others' holds, so it never keeps a client
   * waiting; the spend it gave stays.
   */
  @Test
  void requestsUnderWayAtAnotherReplicaHoldTheBudgetThere() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets.Hold atA = hold(a, 100, PRICE); // 0.6
    ClientBudgets.Hold beforeSync = hold(b, 100, PRICE);
    assertTrue(beforeSync.admitted(), "within a sync, each replica holds its own");
    beforeSync.close();
    a.exchange(store);
    b.exchange(store);
    ClientBudgets.Hold refused = hold(b, 100, PRICE);
    assertTrue(!refused.admitted() && refused.spentFor() == 0, "0.6 held at a, 0.6 more would pass 1.0: wait");
    assertEquals(0.6, refused.heldByOthers(), 1e-12);
    assertEquals(0.0, b.held("batch"), "the gauge stays this replica's own");
    ClientBudgets.Hold fits = hold(b, 10, new io.routewise.config.Price(100, 100));
    assertTrue(fits.admitted(), "what fits beside it goes");
    fits.close();
    atA.close();
    a.exchange(store);
    b.exchange(store);
    assertEquals(0.0, hold(b, 100, PRICE).heldByOthers(), 1e-12);

    SpendStore other = new SpendStore();
    ClientBudgets c = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets d = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets.Hold atC = hold(c, 100, PRICE);
    c.exchange(other);
    d.exchange(other);
    assertFalse(hold(d, 100, PRICE).admitted());
    other.down = true;
    assertThrows(java.io.IOException.class, () -> d.exchange(other));
    assertTrue(hold(d, 100, PRICE).admitted(), "the store down: the others' holds, maybe ended, keep no one waiting");
    atC.close();
  }

  /**
   * Within one sync each of N live replicas holds anew at most an N-th of what was left at the last
   * exchange: a burst fired at two replicas at the same instant had each let through what it alone
   * would, and spent 1.8x the budget (an operator trial). A burst at one replica alone still gets
   * the rest, its share growing back at each exchange.
   */
  @Test
  void aBurstAtSeveralReplicasAtOnceIsHeldToOneBudget() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    meet(store, a, b);
    java.util.List<ClientBudgets.Hold> admitted = new java.util.ArrayList<>();
    ClientBudgets.Hold refused = null;
    for (int i = 0; i < 10; i++) { // 0.2 each, at both replicas before either syncs
      for (ClientBudgets r : java.util.List.of(a, b)) {
        ClientBudgets.Hold h = r.hold("batch", 0, 200, 1, false, java.util.List.of(PRICE));
        if (h.admitted()) {
          admitted.add(h);
        } else {
          refused = h;
        }
      }
    }
    double held = admitted.stream().mapToDouble(ClientBudgets.Hold::usd).sum();
    assertTrue(held <= 1.0 + 1e-9, "held together within one sync: " + held);
    assertEquals(0.8, held, 1e-9, "each took its half of the budget: two of 0.2");
    assertEquals(2, refused.replicas(), "the refusal says the rest is shared");
    assertEquals(1.0, refused.left(), 1e-12);

    admitted.forEach(h -> {
      a.spent("batch", 0, 0, 0);
      h.close();
    });
    a.spent("batch", 0.4, 0, 200); // a's two answers
    b.spent("batch", 0.4, 0, 200);
    a.exchange(store);
    b.exchange(store);
    a.exchange(store);
    java.util.List<ClientBudgets.Hold> alone = new java.util.ArrayList<>();
    for (int sync = 0; sync < 6; sync++) { // b idle: a's burst takes the rest, half of what is left each sync
      for (int i = 0; i < 10; i++) {
        ClientBudgets.Hold h = a.hold("batch", 0, 20, 1, false, java.util.List.of(PRICE)); // 0.02
        if (h.admitted()) {
          alone.add(h);
        }
      }
      a.exchange(store);
      b.exchange(store);
    }
    // 0.2 left, 0.02 each: b's share of the last few holds' worth is a's once a's requests end
    assertEquals(7, alone.size(), "a alone gets all but b's share of the last while they run");
    alone.forEach(ClientBudgets.Hold::close);
    assertTrue(a.hold("batch", 0, 20, 1, false, java.util.List.of(PRICE)).admitted(), "none under way: one goes");
  }

  private static void burst(ClientBudgets r, java.util.List<ClientBudgets.Hold> admitted) {
    for (int i = 0; i < 20; i++) {
      ClientBudgets.Hold h = r.hold("batch", 0, 125, 1, false, java.util.List.of(PRICE)); // 0.125 each, exact
      if (h.admitted()) {
        admitted.add(h);
      }
    }
  }

  /**
   * Two replicas syncing half a period apart, each burst at while its requests are under way: a's
   * exchange reads b's holds as b wrote them half a sync before b's burst, so a new share that counted
   * b's half as still left let them hold 1.25 of a 1.0 budget together (a review).
   */
  @Test
  void aBurstAtTwoReplicasWithStaggeredSyncsIsHeldToOneBudget() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    a.exchange(store); // t=0
    b.exchange(store); // t=0.5: both know of the other from here
    a.exchange(store); // t=1
    b.exchange(store); // t=1.5
    java.util.List<ClientBudgets.Hold> admitted = new java.util.ArrayList<>();
    burst(a, admitted); // t=1.6: the burst hits both
    burst(b, admitted);
    a.exchange(store); // t=2: b's holds as b wrote them at t=1.5 (none)
    burst(a, admitted);
    b.exchange(store); // t=2.5
    burst(b, admitted);
    a.exchange(store); // t=3
    burst(a, admitted);
    b.exchange(store);
    burst(b, admitted);
    double held = admitted.stream().mapToDouble(ClientBudgets.Hold::usd).sum();
    assertTrue(held <= 1.0 + 1e-9, "a 1.0 budget, held across two replicas: " + held);
  }

  /**
   * One request at a time at each replica (a batch job behind a load balancer, each answer back well
   * within a sync): each request found none of its client's under way, so each went, whatever the
   * replica's share, and each replica spent what was left at the last exchange alone. An operator
   * trial: two replicas, fast answers, 0.0154 USD left of 0.05 at a sync, 0.0315 spent by the next.
   * At most one answer a replica past the budget.
   */
  @Test
  void oneRequestAtATimeAtEachReplicaIsHeldToOneBudget() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    a.spent("batch", 0.6, 0, 100);
    meet(store, a, b);
    b.exchange(store); // both read 0.6 spent: 0.4 left
    double spent = 0.6;
    for (int i = 0; i < 10; i++) { // within one sync, alternating, each answer back before the next
      for (ClientBudgets r : java.util.List.of(a, b)) {
        ClientBudgets.Hold h = r.hold("batch", 0, 100, 1, false, java.util.List.of(PRICE)); // 0.1
        if (h.admitted()) {
          r.spent("batch", 0.1, 0, 100);
          spent += 0.1;
        }
        h.close();
      }
    }
    assertTrue(spent <= 1.0 + 2 * 0.1 + 1e-9, "a 1.0 budget, at most one answer a replica past it: " + spent);
  }

  /**
   * A routed request is held at the dearest upstream's price and repriced once its upstream is known:
   * the reprice gives back the replica's share it took beyond (a review: requests routed to a cheap
   * upstream used up the share a hundred times faster than they held, refused with 0.006 held of 1.0).
   */
  @Test
  void aHoldRepricedDownGivesBackItsShare() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    meet(store, a, b); // a's share is 0.5
    io.routewise.config.Price strong = new io.routewise.config.Price(1000, 1000);
    io.routewise.config.Price weak = new io.routewise.config.Price(10, 10);
    java.util.List<ClientBudgets.Hold> running = new java.util.ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ClientBudgets.Hold h = a.hold("batch", 0, 200, 1, false, java.util.List.of(strong, weak)); // 0.2 at strong
      assertTrue(h.admitted(), "request " + i + " refused with " + a.held("batch") + " held of a 1.0 budget");
      h.reprice(weak); // routed weak: 0.002
      running.add(h);
    }
    running.forEach(ClientBudgets.Hold::close);
  }

  /**
   * An answer another replica ends between this one's two reads (holds, spend) is counted in one of
   * them at least: read spend first, it was spent after the read and no longer held at the next, and
   * this replica counted it in neither (a trial's reading of the exchange).
   */
  @Test
  void anAnswerEndedElsewhereDuringAnExchangeIsCountedOnce() throws Exception {
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    java.util.concurrent.atomic.AtomicReference<Runnable> between = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean fromA = new java.util.concurrent.atomic.AtomicBoolean();
    SpendStore store = new SpendStore() {
      @Override
      public Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) throws Exception {
        Map<String, Map<String, Double>> out = super.shareSpend(replica, mine);
        afterFirstCall();
        return out;
      }

      @Override
      public OthersHolds shareHolds(String replica, Map<String, Held> mine) throws Exception {
        OthersHolds out = super.shareHolds(replica, mine);
        afterFirstCall();
        return out;
      }

      private void afterFirstCall() {
        Runnable r = fromA.get() ? between.getAndSet(null) : null;
        if (r != null) {
          r.run();
        }
      }
    };
    a.exchange(store);
    b.exchange(store);
    ClientBudgets.Hold atB = hold(b, 0, new io.routewise.config.Price(1200, 1200)); // 0.6
    b.exchange(store);
    ClientBudgets.Hold small = a.hold("batch", 0, 10, 1, false, java.util.List.of(PRICE)); // 0.01 under way at a
    between.set(() -> { // b's answer ends and b syncs, between a's two reads
      b.spent("batch", 0.6, 0, 500);
      atB.close();
      fromA.set(false);
      try {
        b.exchange(store);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    fromA.set(true);
    a.exchange(store);
    ClientBudgets.Hold big = a.hold("batch", 0, 2000, 1, false, java.util.List.of(PRICE)); // 2.0: refused
    assertFalse(big.admitted());
    assertTrue(big.left() - big.heldByOthers() <= 0.4 + 1e-9, "b's 0.6 counted: left " + big.left() + ", held "
        + big.heldByOthers());
    small.close();
  }

  /**
   * A failed sync drops the others' holds even when it fails before the budgets' exchange (a router
   * with a target exchanges its window first): else the client waited for requests long ended for the
   * whole outage (a review).
   */
  @Test
  void anOutageWithATargetRouterStillDropsTheOthersHolds() throws Exception {
    SpendStore shared = new SpendStore() {
      @Override
      public java.util.List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
        if (down) {
          throw new IllegalStateException("redis down");
        }
        return java.util.List.of();
      }
    };
    ClientBudgets c = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets d = budgets(1.0, ClientKey.Period.DAY);
    TargetController target = new TargetController("r", new io.routewise.config.TargetConfig(
        io.routewise.config.TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1, Duration.ofSeconds(60), 0.5), now::get);
    StateSync sync = new StateSync(java.util.List.of(target), shared, Duration.ofHours(1), StateListener.NONE);
    sync.shareWith(d);
    ClientBudgets.Hold atC = hold(c, 100, PRICE); // 0.6 held at replica c
    c.exchange(shared);
    sync.runOnce();
    assertFalse(hold(d, 100, PRICE).admitted(), "c's 0.6 held: d waits");
    atC.close(); // c's request ended (c may be gone with it)
    shared.down = true;
    sync.runOnce(); // the sync fails: Redis is down
    ClientBudgets.Hold after = hold(d, 100, PRICE);
    assertTrue(after.admitted(), "Redis down: the others' holds, maybe ended, must keep no one waiting (held by others: "
        + after.heldByOthers() + ")");
    sync.close();
  }

  /**
   * A budget's {@code uncapped_tokens} is what a choice without {@code max_tokens} holds at least (500
   * unless said): an operator whose clients may burst long uncapped answers after short ones holds
   * them at what they may cost (a trial: 10-token answers, then 4,000-token ones, passed a $1 budget
   * 5 times over, each held at 500 tokens).
   */
  @Test
  void aBudgetSaysWhatAnUncappedChoiceHolds() {
    ClientBudgets b = new ClientBudgets(Map.of("batch", new ClientKey.Budget(10.0, ClientKey.Period.DAY, false, 4000)),
        now::get);
    b.spent("batch", 0.001, 10, 10); // short answers so far: a mean of 10 completion tokens
    try (ClientBudgets.Hold h = hold(b, 100, PRICE)) {
      assertEquals((100 + 4000) * 0.001, h.usd(), 1e-9, "4,000, not the mean of 10");
    }
    try (ClientBudgets.Hold h = b.hold("batch", 100, -1, 2, false, java.util.List.of(PRICE))) {
      assertEquals((100 + 2 * 4000) * 0.001, h.usd(), 1e-9, "a choice each");
    }
    try (ClientBudgets.Hold h = b.hold("batch", 100, 50, 1, false, java.util.List.of(PRICE))) {
      assertEquals((100 + 50) * 0.001, h.usd(), 1e-9, "max_tokens bounds it");
    }
    assertEquals((100 + 500) * 0.001, hold(budgets(10.0, ClientKey.Period.DAY), 100, PRICE).usd(), 1e-9, "500 unless said");
  }

  /**
   * Requests under way hold their likely cost: once spend and holds would pass the budget, another
   * waits for them (before, 40 at once each spent as if the budget were untouched). Prices here are
   * USD 1,000 per million tokens, so a token costs 0.001.
   */
  @Test
  void requestsUnderWayHoldTheirLikelyCostUntilTheyEnd() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets.Hold first = hold(b, 100, PRICE);
    assertEquals(0.6, first.usd(), 1e-12, "100 prompt tokens and the 500 completion tokens assumed");
    ClientBudgets.Hold refused = hold(b, 100, PRICE);
    assertTrue(!refused.admitted() && refused.spentFor() == 0, "0.6 held and 0.6 more would pass 1.0: wait");
    assertEquals(1.0, refused.left(), 1e-12);
    assertEquals(0.6, refused.heldByOthers(), 1e-12);
    assertEquals(0.6, b.held("batch"), 1e-12);
    first.close();
    first.close(); // once only
    assertEquals(0.0, b.held("batch"));
    ClientBudgets.Hold big = hold(b, 5_000, PRICE);
    assertTrue(big.admitted() && big.usd() > 1.0, "nothing else under way: goes, whatever it may cost");
    big.close();

    // short answers (a classifier's): an uncapped request still holds 500 completion tokens (a review: 20
    // answers of 1 token let 400 uncapped requests at once each hold next to nothing)
    for (int i = 0; i < 20; i++) {
      b.spent("batch", 0.015, 10, 1);
    }
    ClientBudgets.Hold a = hold(b, 100, PRICE);
    assertEquals(0.6, a.usd(), 1e-9);
    assertFalse(hold(b, 100, PRICE).admitted(), "0.3 spent + 0.6 held + 0.6 would pass 1.0");
    ClientBudgets.Hold small = hold(b, 0, new io.routewise.config.Price(100, 100));
    assertEquals(0.05, small.usd(), 1e-9, "a cheaper upstream's fits beside it");
    a.close();
    small.close();
    assertEquals(0.0, b.held("batch"));

    b.spent("batch", 0.7, 0, 100);
    ClientBudgets.Hold spent = hold(b, 1, PRICE);
    assertTrue(!spent.admitted() && spent.spentFor() > 0, "spent: refused, nothing under way or not");
    assertTrue(b.exhaustedFor("batch") > 0);
    assertEquals(ClientBudgets.Hold.NONE, b.hold("search", 100, -1, 1, false, java.util.List.of(PRICE)), "no budget");
  }

  /** Answers longer than the assumed 500 raise it: the mean moves a tenth of the way to each; embeddings move nothing. */
  @Test
  void longAnswersRaiseWhatAnUncappedRequestHolds() {
    ClientBudgets b = budgets(10.0, ClientKey.Period.DAY);
    b.spent("batch", 0, 0, 2_000);
    assertEquals(2.1, hold(b, 100, PRICE).usd(), 1e-9);
    b.spent("batch", 0, 0, 0); // an embedding's answer: no completion tokens
    b.spent("batch", 0, 0, 1_000);
    assertEquals(2.0, hold(b, 100, PRICE).usd(), 1e-9, "2,000 -> 1,900");
  }

  /**
   * Held at the dearest upstream it may go to until routed, then at the chosen one's; an answer that
   * costs nothing holds nothing, and keeps no priced request waiting (a review's case).
   */
  @Test
  void aHoldIsRepricedOnceItsUpstreamIsKnownAndAFreeOneHoldsNothing() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    b.spent("batch", 0.3, 0, 100);
    io.routewise.config.Price cheap = new io.routewise.config.Price(100, 100);
    ClientBudgets.Hold h = hold(b, 100, cheap, PRICE, null);
    assertEquals(0.6, h.usd(), 1e-9, "the dearest of where it may go");
    h.reprice(cheap);
    assertEquals(0.06, b.held("batch"), 1e-9);
    ClientBudgets.Hold other = hold(b, 100, PRICE);
    assertTrue(other.admitted(), "0.3 + 0.06 + 0.6 fits");
    h.reprice(null); // routed to an unpriced upstream: holds nothing
    assertEquals(0.6, b.held("batch"), 1e-9);
    h.reprice(PRICE); // and failed over to a priced one: holds again (a review's case: it held nothing)
    assertEquals(1.2, b.held("batch"), 1e-9);
    h.close();
    h.close();
    assertEquals(0.6, b.held("batch"), 1e-9, "closed once");
    ClientBudgets.Hold kept = other.handOver(); // a background response awaited past its request
    other.close();
    assertEquals(0.6, b.held("batch"), 1e-9, "the request's end lets nothing go: the awaited response holds it");
    kept.close();
    assertEquals(0.0, b.held("batch"));
    ClientBudgets b2 = budgets(1.0, ClientKey.Period.DAY);
    b2.spent("batch", 0.7, 0, 500);
    assertEquals(ClientBudgets.Hold.NONE, hold(b2, 100, new io.routewise.config.Price(0, 0), null));
    assertTrue(hold(b2, 100, PRICE).admitted(), "a free request under way keeps no priced one waiting");
  }

  /**
   * A request's own cap on its output bounds its hold, and is taken as it (a trial: a burst capped at
   * 4,000 tokens after a short answer spent 5 times the budget); one that continues stored state
   * holds at least the client's mean prompt (its body does not show it); n choices, n completions.
   */
  @Test
  void aRequestsOutputCapAndAContinuationsStoredPromptAreHeld() {
    ClientBudgets b = budgets(10.0, ClientKey.Period.DAY);
    b.spent("batch", 0.1, 2_000, 5);
    b.spent("batch", 0.1, 900_000, 0); // an embedding batch: no completion, so neither mean moves
    assertEquals(0.6, b.hold("batch", 100, -1, 1, false, java.util.List.of(PRICE)).usd(), 1e-9);
    assertEquals(4.1, b.hold("batch", 100, 4_000, 1, false, java.util.List.of(PRICE)).usd(), 1e-9, "its max_tokens");
    assertEquals(0.15, b.hold("batch", 100, 50, 1, false, java.util.List.of(PRICE)).usd(), 1e-9, "a cap: a bound");
    assertEquals(3.5, b.hold("batch", 100, -1, 3, true, java.util.List.of(PRICE)).usd(), 1e-9,
        "its mean prompt, 2,000, and n = 3: three completions of 500");
    ClientBudgets b2 = budgets(10.0, ClientKey.Period.DAY);
    b2.spent("batch", 0.1, 100, 3_000); // an answer's completion tokens are all its choices'
    assertEquals(3.1, b2.hold("batch", 100, -1, 3, false, java.util.List.of(PRICE)).usd(), 1e-9,
        "the mean is not multiplied by n again (a trial: held 2.6 times the cost)");
  }

  /** A request its client left once the upstream had it is charged what it held, once. */
  @Test
  void aRequestItsClientLeftIsChargedItsHold() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets.Hold h = hold(b, 100, PRICE);
    b.left(h);
    b.left(h);
    h.close();
    b.left(h);
    assertEquals(0.6, b.spentThisPeriod("batch"), 1e-9);
    assertEquals(0.0, b.held("batch"));
    b.left(ClientBudgets.Hold.NONE);
  }
}
