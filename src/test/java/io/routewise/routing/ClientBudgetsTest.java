package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

  /** A store that adds spend up as Redis's INCRBYFLOAT does; {@code down} makes every call fail. */
  static class SpendStore extends UsageOnlyStore {
    final Map<String, Double> totals = new ConcurrentHashMap<>();
    final Map<String, Duration> ttls = new ConcurrentHashMap<>();
    volatile boolean down;

    @Override
    public double addSpend(String key, double usd, Duration ttl) throws Exception {
      if (down) {
        throw new java.io.IOException("down");
      }
      ttls.put(key, ttl);
      return totals.merge(key, usd, Double::sum);
    }
  }

  private ClientBudgets budgets(double usd, ClientKey.Period per) {
    return new ClientBudgets(Map.of("batch", new ClientKey.Budget(usd, per)), now::get);
  }

  @Test
  void aClientThatSpentItsBudgetIsRefusedUntilTheNextCalendarPeriod() {
    ClientBudgets b = budgets(1.0, ClientKey.Period.HOUR);
    assertEquals(0, b.exhaustedFor("batch"));
    assertEquals(0, b.exhaustedFor("search"), "no budget, no limit");
    assertEquals(0, b.exhaustedFor(null), "an unnamed key");
    b.spent("batch", 0.6);
    b.spent("batch", Double.NaN); // an unpriced upstream's answer
    b.spent("search", 5);
    assertEquals(0, b.exhaustedFor("batch"));
    b.spent("batch", 0.4);
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
    month.spent("batch", 10);
    assertEquals(Duration.ofMinutes(50).toMillis(), month.exhaustedFor("batch"));
  }

  /** Two replicas, each under the budget on its own, over it together once they have exchanged. */
  @Test
  void replicasAddUpTheirSpendThroughTheStore() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    ClientBudgets b = budgets(1.0, ClientKey.Period.DAY);
    a.spent("batch", 0.6);
    b.spent("batch", 0.5);
    assertEquals(0, a.exhaustedFor("batch"));
    a.exchange(store);
    assertEquals(0.6, a.spentThisPeriod("batch"), 1e-12);
    b.exchange(store);
    assertEquals(1.1, b.spentThisPeriod("batch"), 1e-12);
    assertTrue(b.exhaustedFor("batch") > 0);
    assertEquals(0, a.exhaustedFor("batch"), "a has not heard of b's spend yet");
    a.exchange(store);
    assertTrue(a.exhaustedFor("batch") > 0);
    assertEquals(1.1, store.totals.get("batch:" + Instant.parse("2026-12-31T00:00:00Z").getEpochSecond()), 1e-12,
        "each replica's spend added once, whatever the exchanges");
    assertEquals(Duration.ofMinutes(50).plusDays(1), store.ttls.values().iterator().next(), "kept a day past its period");
  }

  /** A store down: spend is held here, added once it is back, never twice. */
  @Test
  void spendWhileTheStoreIsDownIsAddedOnceItIsBack() throws Exception {
    SpendStore store = new SpendStore();
    ClientBudgets a = budgets(1.0, ClientKey.Period.DAY);
    a.spent("batch", 0.3);
    a.exchange(store);
    store.down = true;
    a.spent("batch", 0.3);
    assertThrows(java.io.IOException.class, () -> a.exchange(store));
    assertEquals(0.6, a.spentThisPeriod("batch"), 1e-12, "the last total read, and what it spent since");
    a.spent("batch", 0.4);
    assertTrue(a.exhaustedFor("batch") > 0, "held to its budget on its own spend");
    store.down = false;
    a.exchange(store);
    a.exchange(store);
    assertEquals(1.0, a.spentThisPeriod("batch"), 1e-12);
    assertEquals(1.0, store.totals.values().iterator().next(), 1e-12);
  }

  /** What an exchange reads back for a period that has just ended does not count in the new one. */
  @Test
  void aPeriodThatTurnsDuringAnExchangeStartsTheNewOneAtZero() throws Exception {
    ClientBudgets a = budgets(1.0, ClientKey.Period.HOUR);
    SpendStore store = new SpendStore() {
      @Override
      public double addSpend(String key, double usd, Duration ttl) throws Exception {
        double total = super.addSpend(key, usd, ttl);
        now.addAndGet(Duration.ofHours(1).toMillis()); // the hour turns while Redis answers
        return total;
      }
    };
    a.spent("batch", 0.9);
    a.exchange(store);
    assertEquals(0.0, a.spentThisPeriod("batch"));
    assertEquals(0, a.exhaustedFor("batch"));
  }
}
