package io.routewise.routing;

import io.routewise.config.ClientKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * What each named client with a budget ({@code server.api_keys.<name>.budget}) spent on metered
 * answers (routed, or passed through at a priced model) in the current calendar period, and whether
 * it may spend more.
 *
 * <p>Spend is known only once an answer's usage is: requests already under way when a client
 * reaches its budget still finish, so it can be passed by what they cost. With a {@link StateStore}
 * each replica writes its own spend in the period there and reads the others' ({@link #exchange},
 * on the sync thread every period), so a client is held to one budget across them. A replica
 * writes its whole spend each time, not what it added, so an exchange whose answer was lost and is
 * done again counts nothing twice. Between exchanges each replica adds its own spend to the others'
 * as last read, and while the store is down, all it spends.
 */
public final class ClientBudgets {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ClientBudgets.class);
  private final Map<String, Account> accounts;
  private final LongSupplier millis;
  /** This replica's name among those that write a client's spend (a restart is another). */
  private final String replica = "r" + ProcessHandle.current().pid() + "-"
      + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 16);

  /** @param budgets each client's budget, by name; @param millis the wall clock (epoch millis) */
  public ClientBudgets(Map<String, ClientKey.Budget> budgets, LongSupplier millis) {
    Map<String, Account> out = new LinkedHashMap<>();
    budgets.forEach((name, budget) -> out.put(name, new Account(name, budget)));
    this.accounts = Map.copyOf(out);
    this.millis = millis;
  }

  /** Whether any client has a budget. */
  public boolean any() {
    return !accounts.isEmpty();
  }

  /** The clients with a budget. */
  public java.util.Set<String> clients() {
    return accounts.keySet();
  }

  /**
   * The milliseconds until {@code client}'s next period when it has spent its budget in this one,
   * else 0 (no budget, or some left).
   */
  public long exhaustedFor(String client) {
    Account a = client == null ? null : accounts.get(client);
    if (a == null) {
      return 0;
    }
    long now = millis.getAsLong();
    double spent;
    synchronized (a) {
      a.roll(now);
      spent = a.mine + a.others;
      if (spent < a.budget.usd()) {
        return 0;
      }
      if (a.saidAt == a.periodStart) {
        return Math.max(1, a.periodEnd - now);
      }
      a.saidAt = a.periodStart;
    }
    LOG.info("client {} has spent its budget ({} of {} USD, this {}): its metered requests get 429 until {}", client,
        String.format(java.util.Locale.ROOT, "%.4f", spent), a.budget.usd(), a.budget.per().key(),
        java.time.Instant.ofEpochMilli(a.periodEnd));
    return Math.max(1, a.periodEnd - now);
  }

  /** Adds {@code usd} to {@code client}'s spend in this period (ignored without a budget, or not a cost). */
  public void spent(String client, double usd) {
    Account a = client == null ? null : accounts.get(client);
    if (a == null || !(usd > 0) || Double.isInfinite(usd)) {
      return;
    }
    long now = millis.getAsLong();
    synchronized (a) {
      a.roll(now);
      a.mine += usd;
    }
  }

  /** What {@code client} spent in this period, all replicas as last exchanged; NaN without a budget. */
  public double spentThisPeriod(String client) {
    Account a = accounts.get(client);
    if (a == null) {
      return Double.NaN;
    }
    synchronized (a) {
      a.roll(millis.getAsLong());
      return a.mine + a.others;
    }
  }

  /** {@code client}'s budget a period, in USD; NaN without one. */
  public double budget(String client) {
    Account a = accounts.get(client);
    return a == null ? Double.NaN : a.budget.usd();
  }

  /**
   * Writes what each client spent here this period to the store, and takes what the other replicas
   * wrote there as theirs, all clients in one call. Throws when the store fails: the next exchange
   * writes the whole again.
   */
  public void exchange(StateStore store) throws Exception {
    long now = millis.getAsLong();
    Map<String, StateStore.Spend> mine = new LinkedHashMap<>();
    Map<String, Long> periods = new LinkedHashMap<>();
    for (Account a : accounts.values()) {
      synchronized (a) {
        a.roll(now);
        String key = a.client + ":" + a.periodStart / 1000;
        // kept a day past its period: a replica whose clock is a little behind still writes to it
        Duration ttl = Duration.ofMillis(Math.max(0, a.periodEnd - now)).plus(Duration.ofDays(1));
        mine.put(key, new StateStore.Spend(a.mine, ttl));
        periods.put(a.client, a.periodStart);
      }
    }
    Map<String, Double> all = store.shareSpend(replica, mine);
    for (Account a : accounts.values()) {
      long period = periods.get(a.client);
      String key = a.client + ":" + period / 1000;
      Double total = all.get(key);
      synchronized (a) {
        if (total != null && a.periodStart == period) { // else the period turned meanwhile: the last one's
          double others = Math.max(0, total - mine.get(key).usd());
          if (others < a.others - 1e-9) {
            // Spend within a period only grows: a Redis restarted empty (or evicting) lost the fields of
            // replicas that stopped earlier in it, which no live one writes again. What was known stays.
            if (a.lostSaidAt != period) {
              a.lostSaidAt = period;
              LOG.warn("shared state: client {}'s spend this {} in Redis is {} USD below what this replica read "
                  + "before (Redis lost keys): the higher is kept", a.client, a.budget.per().key(),
                  String.format(java.util.Locale.ROOT, "%.4f", a.others - others));
            }
          } else {
            a.others = others;
          }
        }
      }
    }
  }

  /** One client's spend in its current period (guarded by itself). */
  private static final class Account {
    final String client;
    final ClientKey.Budget budget;
    long periodStart = Long.MIN_VALUE;
    long periodEnd = Long.MIN_VALUE;
    /** This replica's spend this period. */
    double mine;
    /** The other replicas' spend this period, as the store last gave it (0 without one). */
    double others;
    /** The period whose exhaustion was logged. */
    long saidAt = Long.MIN_VALUE;
    /** The period whose loss of spend in the store was logged. */
    long lostSaidAt = Long.MIN_VALUE;

    Account(String client, ClientKey.Budget budget) {
      this.client = client;
      this.budget = budget;
    }

    /**
     * Starts a new period, spent nothing, once {@code now} is past the current one; a clock stepped
     * back stays in it (rolling back would forget what was spent since).
     */
    void roll(long now) {
      if (now >= periodEnd) {
        periodStart = budget.per().start(now);
        periodEnd = budget.per().next(now);
        mine = 0;
        others = 0;
      }
    }
  }
}
