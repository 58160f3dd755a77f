package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.ClientBudgets;
import io.routewise.routing.SharedUsage;
import io.routewise.routing.StateStore;
import io.routewise.upstream.Usage;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a background response holds of its client's budget, across replicas (one in-memory store, a
 * hand-moved clock): released, charged, or neither, once. Each case is a review's, and failed before.
 */
class BudgetHoldRacesTest {
  private final AtomicLong nanos = new AtomicLong();
  private final MemoryUsageStore store = new MemoryUsageStore(nanos::get);
  private final java.util.concurrent.atomic.AtomicBoolean up = new java.util.concurrent.atomic.AtomicBoolean(true);
  private final SharedUsage usage = new SharedUsage(store, up::get, Duration.ofSeconds(2));

  private final ClientBudgets budgets = new ClientBudgets(Map.of("batch",
      new io.routewise.config.ClientKey.Budget(100, io.routewise.config.ClientKey.Period.DAY)), System::currentTimeMillis);
  private final io.routewise.config.Price price = new io.routewise.config.Price(1000, 1000); // 0.001 a token
  private final io.routewise.upstream.IdleTimeouts timeouts =
      io.routewise.upstream.IdleTimeouts.forTimeouts(Duration.ofSeconds(5));
  private final okhttp3.OkHttpClient http =
      io.routewise.upstream.HttpClients.shared(new io.routewise.config.ClientConfig(1, Duration.ofSeconds(1)));
  private final io.routewise.upstream.UpstreamClient strong = new io.routewise.upstream.UpstreamClient(
      new io.routewise.config.UpstreamConfig("strong", java.net.URI.create("http://127.0.0.1:9/v1"),
          io.routewise.config.Secret.of("none"), "m", Duration.ofSeconds(1), Duration.ofSeconds(1), Map.of(), price,
          null, false),
      http, timeouts, io.routewise.upstream.UpstreamListener.NONE);
  private final AnswerSpend spend = new AnswerSpend(null, List.of(strong), new io.routewise.metrics.RoutewiseMetrics(), budgets);
  /** The replica that routed it (holds for it), and another that relays polls. */
  private final StoredResponses a = new StoredResponses(100, null, spend, () -> usage, nanos::get);
  private final StoredResponses b = new StoredResponses(100, null, spend, () -> usage, nanos::get);
  /** Passed through for "batch", at m. */
  private final StoredResponses.AwaitedUsage batch = new StoredResponses.AwaitedUsage("strong", false, null, "batch", "m");

  @AfterEach
  void close() {
    store.lookupMillis = 0;
    usage.close();
    io.routewise.upstream.HttpClients.shutdown(http);
    timeouts.close();
  }

  /** What a request of batch's holds: 0.1 USD (100 completion tokens at 0.001), handed to the record. */
  private ClientBudgets.Hold held() {
    ClientBudgets.Hold h = budgets.hold("batch", 0, 100, 1, false, List.of(price));
    assertTrue(h.admitted());
    return h.handOver();
  }

  private void routedAtA(String id) throws Exception {
    a.answered(id, "strong");
    a.awaitUsage(id, batch, held());
    usage.drain();
  }

  /** A few syncs' worth of {@link StoredResponses#releaseCountedElsewhere} at A, a second and a bit apart. */
  private void syncsAtA(int n) throws Exception {
    for (int i = 0; i < n; i++) {
      nanos.addAndGet(1_100_000_000L);
      a.releaseCountedElsewhere();
      usage.drain();
      usage.drain();
    }
  }

  /**
   * A cancel without usage relayed at another replica (with shared pins it may reach any) leaves a
   * mark in the store: the routing replica lets go of its hold at its next lookups, and does not
   * charge it when it gives the response up. Before, the hold stood for the hour, at every replica,
   * and was then charged in full for a response cancelled and polled.
   */
  @Test
  void aCancelRelayedAtAnotherReplicaReleasesNothingAndIsChargedAfterTheHour() throws Exception {
    routedAtA("resp_c");
    assertEquals(0.1, budgets.held("batch"), 1e-12);
    assertTrue(b.awaitsUsage("resp_c"), "the cancel reaches B, which learns the record");
    b.released("resp_c"); // PassthroughHandler: cancelled without usage
    usage.drain();
    syncsAtA(3);
    double heldAfterCancel = budgets.held("batch");
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    a.awaitsUsage("resp_other"); // A's expiry runs
    for (int i = 0; i < 4; i++) {
      usage.drain();
    }
    double spent = budgets.spentThisPeriod("batch");
    assertAll(
        () -> assertEquals(0.0, heldAfterCancel, 1e-12, "cancelled without usage (at B): still held at A"),
        () -> assertEquals(0.0, spent, 1e-12, "cancelled and polled, yet charged its hold at the give-up"));
  }

  /**
   * The lookups after each exchange take the least recently looked held records, so a record past
   * the first 64 comes round too (before, the same 64 were looked up at every exchange).
   */
  @Test
  void aRecordPastTheFirst64IsNeverLookedUp() throws Exception {
    for (int i = 0; i < 70; i++) {
      a.answered("resp_" + i, "strong");
      a.awaitUsage("resp_" + i, batch, held());
    }
    usage.drain();
    for (String id : new String[] {"resp_5", "resp_69"}) {
      assertTrue(b.awaitsUsage(id));
      b.finished(id, new Usage(50, 50)); // counted and claimed at B
    }
    usage.drain();
    usage.drain();
    syncsAtA(10);
    // control: resp_5 (among the first 64) is released; resp_69 never is
    assertEquals(68 * 0.1, budgets.held("batch"), 1e-9, "counted at B ten syncs ago, still held at A");
  }

  /**
   * A cancel without usage relayed while the record's give-up lookup is under way (it is being
   * checked, not awaited) is not forgotten: the hold is let go when the lookup answers (before, the
   * record was awaited again with its hold, for another hour).
   */
  @Test
  void aCancelDuringTheGiveUpCheckIsForgottenAndTheHoldStands() throws Exception {
    routedAtA("resp_1");
    for (int i = 0; i < 5; i++) { // polled at B every 15 minutes, not at A
      assertTrue(b.awaitsUsage("resp_1"));
      usage.drain();
      nanos.addAndGet(Duration.ofMinutes(15).toNanos());
    }
    store.lookupMillis = 1_000;
    a.awaitUsage("resp_2", new StoredResponses.AwaitedUsage("strong", false, null), null); // A's expiry: checked for a second
    Thread.sleep(50);
    assertTrue(a.awaitsUsage("resp_1"), "still awaited while checked");
    a.released("resp_1"); // the cancel, relayed at A, shows it cancelled without usage
    store.lookupMillis = 0;
    usage.drain();
    usage.drain();
    assertEquals(0.0, budgets.held("batch"), 1e-12, "cancelled without usage: still held");
  }

  /**
   * A background response that a poll at the replica that routed it shows completed without usage,
   * while its hour's give-up lookup is under way, is charged what it held to a client that must be
   * metered, as one finished outside that check is. Before, the finish took it without its hold and
   * charged nothing, and the give-up, finding it taken, let the hold go.
   */
  @Test
  void aBackgroundAnswerFinishedWithoutUsageDuringItsGiveUpCheckIsChargedNothing() throws Exception {
    routedAtA("resp_1");
    nanos.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1); // not polled for the hour: its record gone too
    store.lookupMillis = 1_000;
    a.awaitUsage("resp_2", new StoredResponses.AwaitedUsage("strong", false, null), null); // A's expiry: checked for a second
    Thread.sleep(50);
    assertTrue(a.awaitsUsage("resp_1"), "still awaited while checked");
    a.finished("resp_1", null); // a late poll, relayed at A: completed, no usage
    store.lookupMillis = 0;
    usage.drain();
    usage.drain();
    assertAll(
        () -> assertEquals(0.0, budgets.held("batch"), 1e-12),
        () -> assertEquals(0.1, budgets.spentThisPeriod("batch"), 1e-12,
            "completed without usage as its give-up was checked, for a client that must be metered: charged nothing"));
  }

  /**
   * A background response routed at A and counted at B (its poll relayed there) stays held at A until
   * A has read B's spend with it: B writes it at its next exchange, and until A reads that, A's hold
   * is all that counts it there. Before, A let the hold go as soon as it saw B's claim, and at its next
   * exchange, B's not yet written, took a share of a budget that answer had spent: counted in neither.
   */
  @Test
  void aHoldCountedAtAnotherReplicaIsLetGoBeforeItsSpendIsRead() throws Exception {
    io.routewise.metrics.RoutewiseMetrics metrics = new io.routewise.metrics.RoutewiseMetrics();
    ClientBudgets atA = new ClientBudgets(Map.of("batch",
        new io.routewise.config.ClientKey.Budget(1, io.routewise.config.ClientKey.Period.DAY)), System::currentTimeMillis);
    ClientBudgets atB = new ClientBudgets(Map.of("batch",
        new io.routewise.config.ClientKey.Budget(1, io.routewise.config.ClientKey.Period.DAY)), System::currentTimeMillis);
    StoredResponses routing = new StoredResponses(100, null, new AnswerSpend(null, List.of(strong), metrics, atA),
        () -> usage, nanos::get);
    StoredResponses relaying = new StoredResponses(100, null, new AnswerSpend(null, List.of(strong), metrics, atB),
        () -> usage, nanos::get);
    atA.exchange(store);
    atB.exchange(store);
    ClientBudgets.Hold background = atA.hold("batch", 0, 800, 1, false, List.of(price)); // 0.8 of 1
    assertTrue(background.admitted());
    routing.answered("resp_x", "strong");
    routing.awaitUsage("resp_x", batch, background.handOver());
    usage.drain();
    syncAt(atA, routing); // A writes it held
    atB.exchange(store); // B reads it
    assertTrue(relaying.awaitsUsage("resp_x"), "its poll reaches B");
    relaying.finished("resp_x", new Usage(0, 800)); // done: 0.8 spent at B, written at B's next exchange
    usage.drain();
    usage.drain();
    syncAt(atA, routing); // A sees B's claim
    syncAt(atA, routing); // B's exchange not yet run: its spend is still 0 in the store
    ClientBudgets.Hold small = atA.hold("batch", 0, 10, 1, false, List.of(price)); // 0.01 under way at A
    ClientBudgets.Hold big = atA.hold("batch", 0, 400, 1, false, List.of(price)); // 0.8 + 0.01 + 0.4 > 1
    boolean bigAdmitted = big.admitted();
    big.close();
    atB.exchange(store); // B's 0.8 written
    syncAt(atA, routing);
    syncAt(atA, routing);
    assertAll(
        () -> assertTrue(small.admitted()),
        () -> assertFalse(bigAdmitted, "spent at B, let go at A: admitted past the budget"),
        () -> assertEquals(0.8, atA.spentThisPeriod("batch"), 1e-12),
        () -> assertEquals(0.01, atA.held("batch"), 1e-12, "B's spend read at A: still held there"));
    small.close();
  }

  /** An exchange of client budgets that worked, and what runs after it (as ProxyServer has it), a second and a bit on. */
  private void syncAt(ClientBudgets budgets, StoredResponses stored) throws Exception {
    nanos.addAndGet(1_100_000_000L);
    budgets.exchange(store);
    stored.releaseCountedElsewhere();
    usage.drain();
    usage.drain();
  }

  /**
   * A background response a poll shows completed without usage is charged what it held to a client
   * that must be metered, as a routed answer without usage is (before, background: true made it free).
   */
  @Test
  void aBackgroundAnswerWithoutUsageIsNotChargedToAClientThatMustBeMetered() throws Exception {
    StoredResponses alone = new StoredResponses(100, null, spend, () -> null, nanos::get);
    alone.awaitUsage("resp_bg", batch, held());
    alone.finished("resp_bg", null); // the poll: completed, no usage
    assertAll(
        () -> assertEquals(0.0, budgets.held("batch"), 1e-12),
        () -> assertEquals(0.1, budgets.spentThisPeriod("batch"), 1e-12,
            "completed without usage, for a client that must be metered: charged nothing"));
  }

  /**
   * Pushed out by the bound while the store does not answer, a record is let go, not charged: its
   * shared record stands, and the replica its poll reaches counts its usage (before, hold and usage
   * were both charged).
   */
  @Test
  void pushedOutByTheBoundWithTheStoreSilentIsChargedTwice() throws Exception {
    routedAtA("resp_v");
    up.set(false);
    for (int i = 0; i < StoredResponses.MAX_AWAITED; i++) {
      a.awaitUsage("f_" + i, new StoredResponses.AwaitedUsage("strong", false, null), null);
    }
    assertEquals(0.0, budgets.spentThisPeriod("batch"), 1e-12, "pushed out, the store silent: let go, not charged");
    up.set(true);
    assertTrue(b.awaitsUsage("resp_v"), "its record is still in the store");
    b.finished("resp_v", new Usage(50, 50));
    usage.drain();
    usage.drain();
    assertEquals(0.1, budgets.spentThisPeriod("batch"), 1e-12, "hold and usage both charged");
  }
  /**
   * A background response counted with its usage is spent before its hold lets go: a request of its
   * client that comes as it is counted sees the one or the other, never neither. Before, the hold was
   * closed first, and a request checked in between found nothing spent and nothing under way, and went
   * on a budget the answer had just spent.
   */
  @Test
  void aRequestAsABackgroundAnswerIsCountedSeesItsHoldOrItsSpend() throws Exception {
    int admitted = 0;
    io.routewise.metrics.RoutewiseMetrics metrics = new io.routewise.metrics.RoutewiseMetrics();
    long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
    for (int i = 0; i < 500 && System.nanoTime() < until; i++) {
      ClientBudgets one = new ClientBudgets(Map.of("batch",
          new io.routewise.config.ClientKey.Budget(1, io.routewise.config.ClientKey.Period.DAY)), System::currentTimeMillis);
      StoredResponses alone = new StoredResponses(100, null,
          new AnswerSpend(null, List.of(strong), metrics, one), () -> null, nanos::get);
      ClientBudgets.Hold background = one.hold("batch", 0, 1000, 1, false, List.of(price)); // 1 USD: the whole budget
      assertTrue(background.admitted());
      alone.awaitUsage("resp_bg", batch, background.handOver());
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.atomic.AtomicBoolean counted = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.atomic.AtomicInteger through = new java.util.concurrent.atomic.AtomicInteger();
      Thread client = Thread.ofPlatform().start(() -> {
        try {
          gate.await();
        } catch (InterruptedException e) {
          return;
        }
        while (!counted.get()) {
          try (ClientBudgets.Hold h = one.hold("batch", 0, 10, 1, false, List.of(price))) {
            if (h.admitted()) {
              through.incrementAndGet();
            }
          }
        }
      });
      gate.countDown();
      Thread.onSpinWait();
      alone.finished("resp_bg", new Usage(0, 1000)); // the poll: completed, 1 USD
      counted.set(true);
      client.join();
      assertEquals(1.0, one.spentThisPeriod("batch"), 1e-12);
      admitted += through.get();
    }
    assertEquals(0, admitted, "requests let through while the answer that spent the budget was being counted");
  }
}
