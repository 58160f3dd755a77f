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
 * <p>Spend is known only once an answer's usage is, so each request under way holds what it is
 * likely to cost ({@link #hold}) until it ends: a client whose spend and holds would pass its budget
 * waits for those in flight (so 40 requests at once cannot each spend the last cents). A request
 * can still cost more than it held (an uncapped answer longer than its client's recent ones), and
 * the budget is then passed by the difference.
 * With a {@link StateStore}
 * each replica writes its own spend in the period there and reads the others' ({@link #exchange},
 * on the sync thread every period), so a client is held to one budget across them. A replica
 * writes its whole spend each time, not what it added, so an exchange whose answer was lost and is
 * done again counts nothing twice. Between exchanges each replica adds its own spend to the others'
 * as last read, and while the store is down, all it spends. What requests under way hold is
 * exchanged too, so replicas hold a client's concurrent requests to one budget as well; within a
 * sync, each of N live replicas may hold anew at most an N-th of what was left of the budget at the
 * last exchange, so a burst spread over them at once cannot pass it either. While the store is
 * down, each replica holds its own alone.
 */
public final class ClientBudgets {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ClientBudgets.class);
  private final Map<String, Account> accounts;
  private final LongSupplier millis;
  /** This replica's name among those that write a client's spend (a restart is another). */
  private final String replica = newReplicaId();

  /** A name for this replica's entries in the store: its process and a random part (tests run several in one). */
  static String newReplicaId() {
    return "r" + ProcessHandle.current().pid() + "-"
        + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 16);
  }

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

  /**
   * Adds {@code usd} to {@code client}'s spend in this period (nothing without a budget, or for what
   * is not a cost), and its answer's tokens to what its next holds assume: those of answers with
   * completion tokens (an embedding's would drag a chat's hold to nothing, and its batch swell a
   * continuation's prompt).
   */
  public void spent(String client, double usd, long promptTokens, long completionTokens) {
    Account a = client == null ? null : accounts.get(client);
    if (a == null) {
      return;
    }
    long now = millis.getAsLong();
    synchronized (a) {
      a.roll(now);
      if (usd > 0 && !Double.isInfinite(usd)) {
        a.mine += usd;
      }
      if (completionTokens > 0) {
        a.completionTokens = mean(a.completionTokens, completionTokens);
        a.promptTokens = mean(a.promptTokens, promptTokens);
      }
    }
  }

  /** {@code mean} moved a {@link #TOKENS_WEIGHT} of the way to {@code tokens} (the first sets it; none leaves it). */
  private static double mean(double mean, long tokens) {
    if (tokens <= 0) {
      return mean;
    }
    return Double.isNaN(mean) ? tokens : mean + TOKENS_WEIGHT * (tokens - mean);
  }

  /** The weight of each metered answer in a client's mean tokens (about its last 10). */
  private static final double TOKENS_WEIGHT = 0.1;

  /**
   * What a request holds of its client's budget while it is under way, until it is closed (once);
   * or, refused, why: {@link #admitted()} false, and {@link #spentFor()} above 0 when the budget is
   * spent (else requests under way hold the rest: {@link #left()} and {@link #heldByOthers()} say
   * how much, as they were when it was refused).
   */
  public static final class Hold implements AutoCloseable {
    /** Holds nothing: a client without a budget, or a request that costs nothing wherever it goes. */
    public static final Hold NONE = new Hold(null, 0, 0, Rates.TEXT, 0);
    private final Account account;
    private final long promptTokens;
    private final long completionTokens;
    private final Rates rates;
    private double usd;
    /** Counted among its client's requests under way: it holds something (a free upstream's does not). */
    private boolean active;
    private boolean closed;
    /** Charged to its client's spend: its client left ({@link ClientBudgets#left}). */
    private boolean charged;
    private long spentFor;
    private double left;
    private double heldByOthers;
    private int replicas = 1;
    private long untilSync;
    /** The account's share epoch when this hold last took its usd from the share. */
    private long shareEpoch;

    private Hold(Account account, long promptTokens, long completionTokens, Rates rates, double usd) {
      this.account = account;
      this.promptTokens = promptTokens;
      this.completionTokens = completionTokens;
      this.rates = rates;
      this.usd = usd;
      this.active = account != null;
    }

    /**
     * A refusal: the budget spent ({@code spentFor} milliseconds to the next period), or 0 and what
     * was left and held, and how many replicas shared what was left.
     */
    private static Hold refused(long spentFor, double left, double held, int replicas) {
      return refused(spentFor, left, held, replicas, 0);
    }

    /** {@link #refused(long, double, double, int)}, lifted no sooner than the next sync, {@code untilSync} ms away. */
    private static Hold refused(long spentFor, double left, double held, int replicas, long untilSync) {
      Hold h = new Hold(null, 0, 0, Rates.TEXT, 0);
      h.untilSync = untilSync;
      h.spentFor = spentFor;
      h.left = left;
      h.heldByOthers = held;
      h.replicas = replicas;
      h.closed = true;
      return h;
    }

    /** Whether the request may go. */
    public boolean admitted() {
      return !closed || account != null;
    }

    /**
     * Refused for what is under way where only the next sync can change it (this replica's share of
     * what was left is spent, or the requests holding the rest are all at other replicas): about the
     * milliseconds until then, at least 1; else 0 (one of its own may end any moment).
     */
    public long untilSync() {
      return untilSync;
    }

    /** Refused with its client's budget spent: the milliseconds to its next period; else 0. */
    public long spentFor() {
      return spentFor;
    }

    /** Refused for what is under way: what was left of the budget then, USD. */
    public double left() {
      return left;
    }

    /** Refused for what is under way: what the client's requests under way held then, USD. */
    public double heldByOthers() {
      return heldByOthers;
    }

    /**
     * Refused for what is under way: how many live replicas shared what was left until their next
     * exchange (1: this one alone, and what is under way holds the rest).
     */
    public int replicas() {
      return replicas;
    }

    /** What it holds, USD. */
    public double usd() {
      if (account == null) {
        return 0;
      }
      synchronized (account) {
        return active ? usd : 0;
      }
    }

    /**
     * Holds the same tokens at the dearest of {@code prices} instead (where it goes is known now, and
     * where it may fail over to; or it failed over): not checked against the budget again (it was let
     * through). At no price (null ones are none) it holds nothing, until a later price.
     */
    public void reprice(io.routewise.config.Price... prices) {
      if (account == null) {
        return;
      }
      double now = 0;
      for (io.routewise.config.Price price : prices == null ? new io.routewise.config.Price[1] : prices) {
        if (price != null) {
          now = Math.max(now, rates.cost(price, promptTokens, completionTokens));
        }
      }
      synchronized (account) {
        if (closed) {
          return;
        }
        double before = active ? usd : 0;
        if (active) {
          account.held = account.inFlight == 1 ? 0 : account.held - usd;
          account.inFlight--;
        }
        // what it took of this replica's share follows its price: taken within this exchange's share,
        // the difference; taken before the last exchange, which counted it as held, an N-th of it
        double delta = now - before;
        account.share -= shareEpoch == account.shareEpoch ? delta : delta / account.replicas;
        usd = now;
        active = now > 0;
        if (active) {
          account.inFlight++;
          account.held += now;
        }
      }
    }

    /**
     * What it holds, handed to a new hold that outlives its request (a background response, awaited
     * until a poll shows it done): this one then lets nothing go when closed. NONE when it holds nothing.
     */
    public Hold handOver() {
      if (account == null) {
        return NONE;
      }
      synchronized (account) {
        if (closed || !active) {
          return NONE;
        }
        closed = true; // its share of inFlight and held is the new one's now
        Hold h = new Hold(account, promptTokens, completionTokens, rates, usd);
        h.shareEpoch = shareEpoch;
        return h;
      }
    }

    @Override
    public void close() {
      if (account == null) {
        return;
      }
      synchronized (account) {
        if (closed) {
          return;
        }
        closed = true;
        if (active) {
          active = false;
          account.inFlight--;
          account.held = account.inFlight == 0 ? 0 : account.held - usd; // no rounding left over when none is
        }
      }
    }
  }

  /**
   * Holds what a request of {@code client} is likely to cost until the hold is closed: {@code
   * promptTokens} (at least the client's mean prompt when it {@code continues} stored state, whose
   * prompt its body does not show), and for each of its {@code choices} {@code maxOutputTokens} when
   * the request caps its answer (a bound the answer cannot pass; -1: none), else the client's mean
   * completion tokens, at least the budget's {@code uncapped_tokens} (500), at the dearest of {@code
   * prices} (where it may go; a null one is unpriced) until {@link Hold#reprice}d. Refused when the
   * client has spent its budget, or when requests of its own are under way (here, or at another
   * replica as last exchanged) and its spend, what they hold and this would pass the budget, or
   * what this replica has held since the last exchange and this would pass its share of what was
   * left then. A request with none of its client's under way goes while any budget is left,
   * whatever it may cost: one that holds more than all that is left would otherwise never run; past
   * the share, though, only one such a sync (else one request at a time at each of N replicas passed
   * the budget by up to N-1 times what was left).
   */
  public Hold hold(String client, long promptTokens, long maxOutputTokens, int choices, boolean continues,
      java.util.Collection<io.routewise.config.Price> prices) {
    return hold(client, promptTokens, maxOutputTokens, choices, continues, Rates.TEXT, prices);
  }

  /**
   * Which of a price's dearer rates a request's tokens may be billed at, so its hold prices them at
   * the dearest that may apply: a prompt that carries audio and an answer asked in audio (an audio
   * model bills audio 8 to 16 times text), and a prompt that asks the upstream to cache it (Anthropic's
   * {@code cache_control}: a write bills 1.25 to 2 times input).
   */
  public record Rates(boolean audioIn, boolean audioOut, boolean cacheWrite) {
    public static final Rates TEXT = new Rates(false, false, false);

    double cost(io.routewise.config.Price price, long promptTokens, long completionTokens) {
      double input = price.input();
      input = audioIn ? Math.max(input, price.audioInput()) : input;
      input = cacheWrite ? Math.max(input, price.cacheWrite()) : input;
      double output = audioOut ? Math.max(price.output(), price.audioOutput()) : price.output();
      return (promptTokens * input + completionTokens * output) / 1_000_000.0;
    }
  }

  /** {@link #hold(String, long, long, int, boolean, java.util.Collection)}, its tokens priced at the {@code rates} that may apply. */
  public Hold hold(String client, long promptTokens, long maxOutputTokens, int choices, boolean continues,
      Rates rates, java.util.Collection<io.routewise.config.Price> prices) {
    Account a = client == null ? null : accounts.get(client);
    if (a == null) {
      return Hold.NONE;
    }
    Runnable first = beforeHold;
    if (first != null) {
      first.run();
    }
    long now = millis.getAsLong();
    synchronized (a) {
      a.roll(now);
      double spent = a.mine + a.others;
      if (spent >= a.budget.usd()) {
        return Hold.refused(Math.max(1, a.periodEnd - now), 0, a.held + a.othersHeld, 1);
      }
      long prompt = Math.max(0, promptTokens);
      if (continues && !Double.isNaN(a.promptTokens)) {
        prompt = Math.max(prompt, Math.round(a.promptTokens));
      }
      // a cap is each choice's; the mean is of answers' completion tokens, all their choices together.
      // Uncapped, at least the assumed length a choice: a client of short answers (a classifier) that
      // bursts long ones would otherwise hold next to nothing for each
      long n = Math.max(1, choices);
      long completion = maxOutputTokens > 0 ? maxOutputTokens * n
          : Math.max(a.budget.uncappedTokens() * n, Double.isNaN(a.completionTokens) ? 0 : Math.round(a.completionTokens));
      double usd = 0;
      for (io.routewise.config.Price price : prices) {
        if (price != null) {
          usd = Math.max(usd, rates.cost(price, prompt, completion));
        }
      }
      if (usd == 0) {
        return Hold.NONE; // it costs nothing: a request of a free upstream under way keeps no priced one waiting
      }
      if (a.inFlight + a.othersInFlight > 0 && spent + a.held + a.othersHeld + usd > a.budget.usd()) {
        // held only elsewhere: nothing ending here frees it, only a sync that reads the others' holds anew
        return Hold.refused(0, a.budget.usd() - spent, a.held + a.othersHeld, 1, a.inFlight == 0 ? untilSync(now) : 0);
      }
      // past its share, a request with none of its client's under way still goes, but once a sync: else one
      // request at a time at each replica went every time, each replica spending what was left alone
      if (usd > a.share && (a.inFlight + a.othersInFlight > 0 || a.passEpoch == a.shareEpoch)) {
        return Hold.refused(0, a.budget.usd() - spent, a.held + a.othersHeld, a.replicas, untilSync(now));
      }
      if (usd > a.share) {
        a.passEpoch = a.shareEpoch;
      }
      a.share -= usd;
      a.inFlight++;
      a.held += usd;
      Hold h = new Hold(a, prompt, completion, rates, usd);
      h.shareEpoch = a.shareEpoch;
      return h;
    }
  }

  /**
   * A request its client left once the upstream had it (a stream before its usage, or an answer not
   * yet sent): its usage is never known, and the upstream bills what it generated, so its client's
   * spend takes what it holds. Once; before the hold is closed.
   */
  public void left(Hold hold) {
    Account a = hold.account;
    if (a == null) {
      return;
    }
    long now = millis.getAsLong();
    synchronized (a) {
      if (hold.closed || hold.charged || !hold.active) {
        return;
      }
      hold.charged = true;
      a.roll(now);
      a.mine += hold.usd;
    }
  }

  /** What {@code client}'s requests under way here hold of its budget, USD; NaN without a budget. */
  public double held(String client) {
    Account a = accounts.get(client);
    if (a == null) {
      return Double.NaN;
    }
    synchronized (a) {
      return a.held;
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

  /**
   * Whether {@code client} has a budget that refuses what routewise cannot meter: passthrough
   * requests for a model their upstream does not price, or whose body it cannot read.
   */
  public boolean refusesUnmetered(String client) {
    Account a = client == null ? null : accounts.get(client);
    return a != null && !a.budget.allowUnpriced();
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
    try {
      // holds before spend: an answer another replica ends between the two reads is then counted in
      // both (held there, then spent), not in neither, when the shares below are taken
      exchangeHolds(store);
      exchangeSpend(store);
      takeShares();
      long at = millis.getAsLong();
      long before = exchangedAt;
      // a sync starts sync_ms after the last ended: they come further apart (a slow Redis, more so)
      exchangeSpacing = before == Long.MIN_VALUE ? Long.MIN_VALUE : at - before;
      exchangedAt = at;
    } catch (Exception | Error e) {
      forgetOthersHolds();
      throw e;
    }
    Runnable then = afterExchange;
    if (then != null) {
      try {
        then.run();
      } catch (RuntimeException e) { // a fault of its own, not the store's: the exchange worked
        LOG.error("after the client budgets' exchange", e);
      }
    }
  }

  private volatile Runnable afterExchange;

  /** How often {@link #exchange} runs (state.sync_ms), and when (wall clock) the last one that worked ended. */
  private volatile long syncMillis;
  private volatile long exchangedAt = Long.MIN_VALUE;
  /** How far apart the last two exchanges that worked came (MIN_VALUE before two). */
  private volatile long exchangeSpacing = Long.MIN_VALUE;

  /** The exchange runs every {@code period} (between the end of one and the start of the next). */
  public void syncEvery(Duration period) {
    syncMillis = period.toMillis();
  }

  /**
   * The milliseconds from {@code now} to the next exchange, as near as known (as far apart as the last
   * two came): at least 1, at most that spacing, three syncs at most (a wall clock set back since the
   * last one must not say the step's length).
   */
  private long untilSync(long now) {
    long at = exchangedAt;
    long sync = syncMillis;
    long spacing = exchangeSpacing;
    // as far off as the last two came, at least a sync, at most three (a clock stepped, a failed sync between)
    long next = spacing == Long.MIN_VALUE ? sync : Math.max(sync, Math.min(3 * sync, spacing));
    return at == Long.MIN_VALUE ? Math.max(1, sync) : Math.max(1, Math.min(next, at + next - now));
  }

  /**
   * Runs {@code task} after each exchange that worked, on the sync thread: to let go of holds that
   * another replica's count has settled (background responses polled there).
   */
  public void afterExchange(Runnable task) {
    afterExchange = task;
  }

  private volatile Runnable beforeHold;

  /**
   * Runs {@code task} before each hold of a client with a budget, on the request's thread, not under
   * any lock of this: to give up background responses no one polls within their hour, whose holds would
   * otherwise stand until some Responses request came (cheap: it does its work at most once a second).
   */
  public void beforeHold(Runnable task) {
    beforeHold = task;
  }

  /**
   * Drops what the other replicas' requests held as last read: they may have ended since, and a
   * store that does not answer must not keep refusing a client for them. Done when a sync fails.
   */
  public void forgetOthersHolds() {
    for (Account a : accounts.values()) {
      synchronized (a) {
        a.othersHeld = 0;
        a.othersInFlight = 0;
        a.replicas = 1;
        a.share = Double.POSITIVE_INFINITY;
        a.granted = Double.POSITIVE_INFINITY;
        a.shareEpoch++;
      }
    }
  }

  /**
   * Writes what each client's requests under way here hold, and takes what the other replicas' hold
   * as theirs: a burst spread over replicas is held to one budget once a sync has passed. Within
   * one, each of the N live replicas may hold anew an N-th of what was left then (what a burst at
   * all of them at once can take), which a burst at one replica alone takes a sync at a time, the
   * others' share coming back at the next exchange as what is left.
   */
  private void exchangeHolds(StateStore store) throws Exception {
    Map<String, StateStore.Held> mine = new LinkedHashMap<>();
    for (Account a : accounts.values()) {
      synchronized (a) {
        if (a.inFlight > 0) {
          mine.put(a.client, new StateStore.Held(a.held, a.inFlight));
        }
      }
    }
    StateStore.OthersHolds others = store.shareHolds(replica, mine);
    int replicas = 1 + others.replicas();
    for (Account a : accounts.values()) {
      StateStore.Held held = others.byClient().getOrDefault(a.client, new StateStore.Held(0, 0));
      synchronized (a) {
        a.othersHeld = held.usd();
        a.othersInFlight = held.inFlight();
        a.replicas = replicas;
      }
    }
  }

  /** Each client's share of what is left until the next exchange, from the holds and spend just read. */
  private void takeShares() {
    for (Account a : accounts.values()) {
      synchronized (a) {
        // the others' holds are as they wrote them, up to a sync ago: since, each may have held anew up
        // to its share, about what this one was given at its last exchange
        double granted = a.granted;
        double share = a.shareOfWhatIsLeft();
        if (a.replicas > 1 && granted < Double.POSITIVE_INFINITY) {
          share = Math.max(0, share - (a.replicas - 1) * granted / a.replicas);
        }
        a.share = share;
        a.granted = share;
        a.shareEpoch++;
      }
    }
  }

  private void exchangeSpend(StateStore store) throws Exception {
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
    Map<String, Map<String, Double>> all = store.shareSpend(replica, mine);
    for (Account a : accounts.values()) {
      long period = periods.get(a.client);
      String key = a.client + ":" + period / 1000;
      Map<String, Double> fields = all.get(key);
      synchronized (a) {
        if (fields != null && a.periodStart == period) { // else the period turned meanwhile: the last one's
          // Each replica's spend within a period only grows: a field lower than last read, or gone, is one a
          // Redis restarted empty (or evicting) lost, of a replica that stopped earlier in the period and
          // never writes it again. What was known of each replica stays, while the live ones' grows.
          double lost = 0;
          for (Map.Entry<String, Double> known : a.othersByReplica.entrySet()) {
            lost += Math.max(0, known.getValue() - fields.getOrDefault(known.getKey(), 0.0));
          }
          fields.forEach((id, usd) -> {
            if (!id.equals(replica)) {
              a.othersByReplica.merge(id, usd, Math::max);
            }
          });
          a.others = a.othersByReplica.values().stream().mapToDouble(Double::doubleValue).sum();
          if (lost > 1e-9 && a.lostSaidAt != period) {
            a.lostSaidAt = period;
            LOG.warn("shared state: client {}'s spend this {} in Redis is {} USD below what this replica read "
                + "before (Redis lost keys): what each replica spent is kept as last read", a.client,
                a.budget.per().key(), String.format(java.util.Locale.ROOT, "%.4f", lost));
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
    /** {@code others} by replica: the most each wrote this period (a Redis that lost it forgets none). */
    final Map<String, Double> othersByReplica = new java.util.HashMap<>();
    /** The period whose exhaustion was logged. */
    long saidAt = Long.MIN_VALUE;
    /** The period whose loss of spend in the store was logged. */
    long lostSaidAt = Long.MIN_VALUE;
    /** This replica's requests under way, and what they hold (kept when a period turns: they still run). */
    int inFlight;
    double held;
    /** The other replicas' requests under way and what they hold, as the store last gave them (0 without one). */
    int othersInFlight;
    double othersHeld;
    /** The live replicas sharing the budget at the last exchange, this one among them. */
    int replicas = 1;
    /** What this replica may still hold anew until the next exchange: its share of what was left then. */
    double share = Double.POSITIVE_INFINITY;
    /** Counts the times {@code share} was computed afresh (an exchange, a forgotten store, a new period). */
    long shareEpoch;
    /** The share epoch in which a request with none under way last went past the share (none: -1). */
    long passEpoch = -1;
    /** The share given at the last exchange, before this replica held any of it (infinite: none). */
    double granted = Double.POSITIVE_INFINITY;
    /** The mean prompt and completion tokens of its metered answers here, recent ones weighing most; NaN before one. */
    double promptTokens = Double.NaN;
    double completionTokens = Double.NaN;

    Account(String client, ClientKey.Budget budget) {
      this.client = client;
      this.budget = budget;
    }

    /** The period before the current one and this replica's spend in it (a clock set back returns to it). */
    long lastStart = Long.MIN_VALUE;
    double lastMine;
    /** A period the clock ran ahead into and was set back from, and this replica's spend there (resumed when met). */
    long aheadStart = Long.MIN_VALUE;
    double aheadMine;

    /**
     * Starts a new period once {@code now} is past the current one: spent nothing, or what was spent
     * there before a clock set back left it. A clock set back before the current period's start (one
     * that ran ahead, set right) returns to the period holding {@code now}, with what was spent
     * there and since: staying in the period ahead refused a client that spent its budget there
     * for the step's length on top of the period, and rolling back alone would forget what was spent.
     */
    void roll(long now) {
      if (now >= periodEnd) {
        long start = budget.per().start(now);
        lastStart = periodStart;
        lastMine = mine;
        mine = start == aheadStart ? aheadMine : 0;
        if (start >= aheadStart) {
          aheadStart = Long.MIN_VALUE; // met, or passed
        }
        enter(start, now);
      } else if (now < periodStart) {
        long start = budget.per().start(now);
        aheadStart = periodStart;
        aheadMine = mine;
        mine += start == lastStart ? lastMine : 0; // counted in both periods, never in neither
        lastStart = Long.MIN_VALUE;
        enter(start, now);
      }
    }

    /** Enters the period starting at {@code start}, the others' spend there unknown until the next exchange. */
    private void enter(long start, long now) {
      periodStart = start;
      periodEnd = budget.per().next(now);
      others = 0;
      othersByReplica.clear();
      share = shareOfWhatIsLeft();
      shareEpoch++;
    }

    /** This replica's share of what is left of the budget, what is under way held, until the next exchange. */
    double shareOfWhatIsLeft() {
      return replicas == 1 ? Double.POSITIVE_INFINITY
          : Math.max(0, budget.usd() - mine - others - held - othersHeld) / replicas;
    }
  }
}
