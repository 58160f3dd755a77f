package io.routewise.routing;

import io.routewise.config.TargetConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Holds one router's target ({@code routers.<name>.target}) for requests that ask for
 * {@code router-<name>-auto}: it keeps the threshold α that sends the target share strong, or the
 * share that spends the target USD per hour.
 *
 * <p><b>How.</b> Request threads read {@link #alpha()} (a volatile field) and report each decision
 * and each answer's cost to a {@link TargetWindow}. Every sync period, one background thread calls
 * {@link #tick}: it merges this replica's window with the other replicas' (when state is shared),
 * weighs each slice by its age ({@code exp(-age / (window / 4))}, so a shift in the traffic shows
 * within a quarter of the window while the whole window still counts), finds in the merged
 * win-rate sketch the α that sends the wanted share strong, and moves α a step toward it (an
 * exponential filter with time constant {@code window / 15}), within {@code [min_alpha, max_alpha]}.
 *
 * <p><b>Why it cannot oscillate.</b> The estimate depends only on the distribution of the router's
 * win rates (and, for a budget, on the request rate and the cost per call), never on the routes α
 * chose: there is no feedback loop to ring. α follows the distribution through a low-pass filter.
 *
 * <p><b>A budget</b> becomes a share: with request rate r (per second: each replica's requests in
 * the window over the time its window covers since its first decision, summed over replicas), mean cost per
 * strong answer c_s and per weak answer c_w, the share that spends B USD per hour is
 * {@code (B / 3600 / r - c_w) / (c_s - c_w)}, clamped to [0, 1]. With more than two upstreams,
 * "strong" is the top of the ladder, α steers the share sent there, and c_w is the mean cost of
 * the answers the others gave: an approximation, since how the rest split among the lower rungs
 * moves with α too. When replicas cannot share their
 * windows, each holds the part of the budget its own traffic had at the last exchange.
 */
public final class TargetController {
  /** α stays put until the window holds this many scored decisions. */
  public static final int MIN_DECISIONS = 20;

  private final String router;
  /** The target as replicas compare it: {@code <kind>=<value>}. */
  private final String targetText;
  private final TargetConfig target;
  private final LongSupplier clock;
  private final TargetWindow window;
  private final String replica;
  /**
   * When this replica began counting: its first decision ({@link #NOT_YET} until then), not when it
   * was made, since it is made before the server listens and traffic reaches a new replica later
   * still; those seconds read as idle ones took its rate for a fraction of the real one. Set once by
   * a request thread; moved to the clock's time by the tick thread when the wall clock is set back
   * before it.
   */
  private final java.util.concurrent.atomic.AtomicLong startedAt = new java.util.concurrent.atomic.AtomicLong(NOT_YET);
  private static final long NOT_YET = Long.MIN_VALUE;
  private final long windowMillis;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TargetController.class);
  /** Replicas already reported as left out, with why (another window_s or target; tick thread only; bounded). */
  private final java.util.Set<String> leftOut = new java.util.HashSet<>();

  private volatile double alpha;
  // Written by the tick thread only, read by gauges.
  private volatile double wantedShare = Double.NaN;
  private volatile double observedShare = Double.NaN;
  private volatile double windowSpend;
  private volatile double observedUsdPerHour = Double.NaN;
  private volatile int replicas = 1;
  private volatile boolean unmetered;
  private volatile boolean outOfReach;
  /** Since when the aim has been out of [min_alpha, max_alpha] (or back within it); Long.MIN_VALUE when not. */
  private long reachChangedAt = Long.MIN_VALUE;
  private long lastTick = Long.MIN_VALUE;
  private boolean estimated;
  private double costStrong = Double.NaN;
  private double costWeak = Double.NaN;
  private double localPart = 1.0;
  /** What an answer below the top costs beside one of the top, from the config's prices; NaN when unknown. */
  private final double priceRatio;
  /** The strong share a budget aims for while the top's cost per answer has never been seen. */
  static final double METERING_SHARE = 0.05;

  /**
   * @param clock wall-clock millis: slices are numbered by it, so replicas' clocks must agree within
   *     a slice (a twelfth of the window)
   */
  public TargetController(String router, TargetConfig target, LongSupplier clock) {
    this(router, target, clock, Double.NaN);
  }

  /**
   * @param priceRatio what an answer below the top costs beside one of the top, from the upstreams'
   *     prices (NaN: unknown). A budget needs both sides' cost per answer; while the window has
   *     answers of one side only (every request went strong at the start α), the other is this
   *     ratio times it, so α can move at all; measured costs take over as soon as there are some.
   */
  public TargetController(String router, TargetConfig target, LongSupplier clock, double priceRatio) {
    this.priceRatio = priceRatio;
    this.router = router;
    this.target = target;
    this.targetText = target.kind().key() + "=" + target.value();
    this.clock = clock;
    this.windowMillis = target.window().toMillis();
    this.window = new TargetWindow(windowMillis);
    this.replica = "r" + ProcessHandle.current().pid() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    this.alpha = target.initialAlpha();
  }

  public String router() {
    return router;
  }

  public TargetConfig target() {
    return target;
  }

  /** The threshold in force: what a request for {@code router-<name>-auto} is compared with now. */
  public double alpha() {
    return alpha;
  }

  /** The share of requests α aims to send strong now: the target, or what the budget allows. */
  public double wantedShare() {
    return target.kind() == TargetConfig.Kind.STRONG_SHARE ? target.value() : wantedShare;
  }

  /** Share of this router's target traffic that went strong in the window (all replicas when shared). */
  public double observedShare() {
    return observedShare;
  }

  /** USD its answers cost in the window (all replicas when shared); 0 without prices. */
  public double windowSpend() {
    return windowSpend;
  }

  /** The window's spend as a rate, USD per hour; NaN until the first estimate (0 while nothing was metered). */
  public double observedUsdPerHour() {
    return observedUsdPerHour;
  }

  /**
   * Whether a budget is blind: the window holds enough decisions but no answer's cost (streams
   * without usage, upstreams that send none), so α stays where it is. Always false for a share.
   */
  public boolean unmetered() {
    return unmetered;
  }

  /** Whether the last estimate found tied scores keeping every α off the target by more than {@link #TIED_MISS}. */
  public boolean tied() {
    return tied;
  }

  private volatile boolean tied;

  /**
   * Whether the target has been out of reach for a quarter of the window: the α that would hold it
   * lies outside [min_alpha, max_alpha], or a budget is below what sending everything to the cheaper
   * side costs. α then sits at its bound while the observed share or spend misses the target.
   * Cleared once it has been within reach as long.
   */
  public boolean outOfReach() {
    return outOfReach;
  }

  /** Replicas whose windows the last estimate merged (1 when state is local or Redis is down). */
  public int replicas() {
    return replicas;
  }

  /**
   * Request path: one decision for this router's target traffic. {@code rate} is the win rate the
   * threshold decided the top upstream with (with more than two upstreams, the lowest of the top's
   * rates over the others), NaN when none did (a pin; a router failure counts as the top's at any α).
   */
  public void decided(double rate, Route route) {
    long now = clock.getAsLong();
    if (startedAt.get() == NOT_YET) {
      startedAt.compareAndSet(NOT_YET, now);
    }
    window.decided(now, rate, route);
  }

  /**
   * Request path: what an answer to one of this router's target requests cost (its usage at its
   * upstream's price), by whether the top (strong) upstream or another answered.
   */
  public void answered(Route route, double usd) {
    window.spent(clock.getAsLong(), route, usd);
  }

  /** This replica's window as of now, for the other replicas. Tick thread only. */
  public WindowSnapshot snapshot() {
    long now = clock.getAsLong();
    long started = startedAt.get();
    // before its first decision it has nothing to count: "now" (as a replica just begun) keeps older readers' spans sane
    return new WindowSnapshot(replica, started == NOT_YET ? now : started, alpha, window.sliceMillis(), targetText, window.slices(now));
  }

  /** How far from its target a tie may hold the share before the target reads out of reach (2 points). */
  static final double TIED_MISS = 0.02;

  /**
   * One control step. Tick thread only.
   *
   * @param mine this replica's snapshot (from {@link #snapshot()})
   * @param others the other live replicas' snapshots, or null when state is local or Redis is down
   */
  public void tick(WindowSnapshot mine, List<WindowSnapshot> others) {
    long now = clock.getAsLong();
    long begun = startedAt.get();
    boolean startAhead = begun != NOT_YET && now < begun;
    if (startAhead || (lastTick != Long.MIN_VALUE && now < lastTick - window.sliceMillis())) {
      // The wall clock was set back (NTP, a VM resumed): slices it has not reached again hold decisions
      // counted before the step, and writes landing there would stay out of the window until the clock
      // catches up (an hour's step froze α for the hour). Drop them; and a start now in the future
      // would read a window's requests as made in one second.
      window.dropAfter(window.index(now));
      if (startAhead) {
        startedAt.compareAndSet(begun, now);
        begun = now;
      }
      reachChangedAt = Long.MIN_VALUE;
    }
    List<WindowSnapshot> all = new ArrayList<>();
    all.add(mine);
    if (others != null) {
      for (WindowSnapshot o : others) {
        boolean otherTarget = o.target() != null && !o.target().equals(targetText);
        if (o.sliceMillis() == mine.sliceMillis() && !otherTarget) {
          all.add(o);
        } else if (otherTarget) {
          if (leftOut.size() < 64 && leftOut.add("target " + o.replica())) {
            // two values pull α apart: each replica would steer the merged traffic to its own
            LOG.warn("router-{}-auto: replica {} holds another target ({}, this one {}); its traffic is left out of "
                + "this replica's target until both have the same", router, o.replica(), o.target(), targetText);
          }
        } else if (leftOut.size() < 64 && leftOut.add("window_s " + o.replica())) {
          // a replica with another window_s is not comparable; during a rolling change of it, say why the merge shrank
          LOG.warn("router-{}-auto: replica {} has another window_s ({} s, this one {} s); its traffic is left out of "
              + "this replica's target until both have the same", router, o.replica(),
              o.sliceMillis() * TargetWindow.SLICES / 1000.0, windowMillis / 1000.0);
        }
      }
    }
    long current = window.index(now);
    long oldest = current - TargetWindow.SLICES + 1;
    double decay = windowMillis / 4.0;
    WinRateSketch sketch = new WinRateSketch();
    long strong = 0;
    long weak = 0;
    long scored = 0;
    double spendStrong = 0;
    double spendWeak = 0;
    long answeredStrong = 0;
    long answeredWeak = 0;
    // Rates are summed replica by replica, each over the time its own slices cover: one that has
    // just (re)started has seconds of traffic, and dividing the merged count by the oldest
    // replica's span would read its share of the rate as a fraction of what it is.
    double perSecond = 0;
    double usdPerSecond = 0;
    double localPerSecond = 0;
    for (WindowSnapshot s : all) {
      long requestsOf = 0;
      double spendOf = 0;
      for (WindowSnapshot.Slice slice : s.slices()) {
        if (slice.index() < oldest || slice.index() > current) {
          continue; // outside the window (or a replica whose clock runs ahead)
        }
        double weight = Math.exp(-(current - slice.index()) * window.sliceMillis() / decay);
        for (int i = 0; i < slice.bins().length; i++) {
          sketch.add(slice.bins()[i], weight * slice.counts()[i]);
          scored += slice.counts()[i];
        }
        strong += slice.strong();
        weak += slice.weak();
        spendStrong += slice.spendStrong();
        spendWeak += slice.spendWeak();
        answeredStrong += slice.answeredStrong();
        answeredWeak += slice.answeredWeak();
        requestsOf += slice.strong() + slice.weak();
        spendOf += slice.spendStrong() + slice.spendWeak();
      }
      // Seconds this replica's slices cover: from the window's start, or its own start when later.
      long started = s == mine && begun != NOT_YET ? Math.min(begun, s.startedAtMillis()) : s.startedAtMillis();
      double covered = Math.max(1000, Math.min(now - oldest * window.sliceMillis(), now - started)) / 1000.0;
      perSecond += requestsOf / covered;
      usdPerSecond += spendOf / covered;
      if (s == mine) {
        localPerSecond = requestsOf / covered;
      }
    }
    long requests = strong + weak;
    replicas = all.size();
    observedShare = requests == 0 ? Double.NaN : (double) strong / requests;
    windowSpend = spendStrong + spendWeak;
    observedUsdPerHour = usdPerSecond * 3600;
    if (answeredStrong > 0) {
      costStrong = spendStrong / answeredStrong;
    }
    if (answeredWeak > 0) {
      costWeak = spendWeak / answeredWeak;
    }
    if (others != null && perSecond > 0) {
      localPart = localPerSecond / perSecond;
    }

    double share = target.value();
    if (target.kind() == TargetConfig.Kind.USD_PER_HOUR) {
      // Alone (no Redis, or Redis down), a replica holds the part of the budget its traffic had.
      double budget = target.value() * (others == null ? localPart : 1.0);
      share = budgetShare(budget, perSecond);
      wantedShare = share;
    }
    if (!estimated && all.size() > 1) {
      // Just started: take the others' α rather than the configured start, so a new replica
      // routes like the running ones from its first request.
      double[] theirs = all.subList(1, all.size()).stream().mapToDouble(WindowSnapshot::alpha)
          .filter(a -> a >= 0 && a <= 1).sorted().toArray();
      if (theirs.length > 0) {
        alpha = clamp(theirs[theirs.length / 2]);
      }
    }
    double dt = lastTick == Long.MIN_VALUE ? 0 : Math.max(0, now - lastTick);
    lastTick = now;
    unmetered = scored >= MIN_DECISIONS && Double.isNaN(share);
    if (scored < MIN_DECISIONS || Double.isNaN(share)) {
      // Nothing to judge it by: α stays where it is, and so does the last judgment of it (cleared here,
      // thinning traffic read, and logged, as "within reach again" while α still sat at its bound).
      reachChangedAt = Long.MIN_VALUE;
      return; // too little to estimate from: α stays where it is
    }
    double raw = sketch.thresholdForShare(share, window.recentRates());
    double aim = clamp(raw);
    estimated = true;
    boolean beyond = raw < target.minAlpha() - 1e-9 || raw > target.maxAlpha() + 1e-9
        || (target.kind() == TargetConfig.Kind.USD_PER_HOUR && share <= 0)
        || sketch.missedBy() > TIED_MISS; // tied scores: no α sends the share within reach of it
    tied = sketch.missedBy() > TIED_MISS;
    if (beyond == outOfReach) {
      reachChangedAt = Long.MIN_VALUE;
    } else if (reachChangedAt == Long.MIN_VALUE) {
      reachChangedAt = now;
    } else if (now - reachChangedAt >= windowMillis / 4) { // held for a while: not one noisy estimate
      outOfReach = beyond;
      reachChangedAt = Long.MIN_VALUE;
    }
    double gain = 1 - Math.exp(-dt / (windowMillis / 15.0));
    alpha = clamp(alpha + gain * (aim - alpha));
  }

  /** The strong share that spends {@code usdPerHour} at {@code perSecond} requests; NaN when unknown. */
  private double budgetShare(double usdPerHour, double perSecond) {
    double costStrong = this.costStrong;
    double costWeak = this.costWeak;
    if (Double.isNaN(costWeak) && priceRatio >= 0) {
      costWeak = costStrong * priceRatio; // NaN while strong is unknown too
    } else if (Double.isNaN(costStrong) && priceRatio > 0) {
      costStrong = costWeak / priceRatio;
    }
    if (perSecond <= 0 || Double.isNaN(costWeak)) {
      return Double.NaN;
    }
    double perRequest = usdPerHour / 3600 / perSecond;
    if (Double.isNaN(costStrong)) {
      // Only answers below the top were ever metered and no price ratio turns them into the top's
      // cost (they cost nothing: a local model). With room in the budget, send a few strong to meter
      // it, after which the measured cost steers; keeping α stuck where none went strong kept it for good.
      return perRequest > costWeak ? METERING_SHARE : 0;
    }
    if (costStrong <= costWeak) {
      return 1.0; // strong costs no more: nothing to save
    }
    return Math.max(0, Math.min(1, (perRequest - costWeak) / (costStrong - costWeak)));
  }

  private double clamp(double a) {
    return Math.max(target.minAlpha(), Math.min(target.maxAlpha(), a));
  }

  @Override
  public String toString() {
    return "TargetController[" + router + " " + target.kind().key() + "=" + target.value() + " alpha=" + alpha + "]";
  }
}
