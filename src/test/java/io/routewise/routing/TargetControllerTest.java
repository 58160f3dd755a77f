package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.TargetConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;

class TargetControllerTest {
  private static final long T0 = 1_700_000_000_000L;
  private static final double GOLDEN = (Math.sqrt(5) - 1) / 2;

  /** The i-th of an evenly spread sequence in [0, 1): every stretch of it has the uniform distribution. */
  private static double even(int i) {
    double x = i * GOLDEN;
    return x - Math.floor(x);
  }

  private static TargetConfig share(double share, double min, double max, double initial) {
    return new TargetConfig(TargetConfig.Kind.STRONG_SHARE, share, min, max, Duration.ofSeconds(60), initial);
  }

  /** What a simulated stream did: each request's route and the α it met. */
  private record Run(boolean[] strong, double[] alpha) {
    double share(int from, int to) {
      int n = 0;
      for (int i = from; i < to; i++) {
        n += strong[i] ? 1 : 0;
      }
      return (double) n / (to - from);
    }
  }

  /**
   * Sends {@code n} requests, {@code perSecond} a second, whose win rates {@code rate} gives, through
   * the controller as the server does (α read, threshold rule, decision reported), stepping it every
   * second as the sync thread does.
   */
  private static Run run(TargetController c, ManualClock clock, int n, int perSecond, IntToDoubleFunction rate) {
    boolean[] strong = new boolean[n];
    double[] alphas = new double[n];
    long step = 1000 / perSecond;
    long nextSync = clock.getAsLong() + 1000;
    for (int i = 0; i < n; i++) {
      double r = rate.applyAsDouble(i);
      alphas[i] = c.alpha();
      Route route = ThresholdRule.route(r, alphas[i]);
      c.decided(r, route);
      strong[i] = route == Route.STRONG;
      clock.advance(step);
      if (clock.getAsLong() >= nextSync) {
        c.tick(c.snapshot(), null);
        nextSync += 1000;
      }
    }
    return new Run(strong, alphas);
  }

  /**
   * A router of few distinct scores (a judge's 1-5 rating read without log-probabilities, a length
   * bucket) puts whole ties in one bin: the sketch, assuming a bin's rates spread evenly, aimed inside
   * the tie, and which side of it α fell on decided everything (a review's replay: 100 % strong for
   * a 30 % target). The target holds the nearest share a threshold can give, as calibrate does.
   */
  @Test
  void tiedScoresGetTheNearestShareAThresholdCanGive() {
    for (double[] ties : new double[][] {{0.3, 0.45}, {0.302, 0.6}, {0.299, 0.9}, {0.5, 0.7}}) {
      for (double target : new double[] {0.3, 0.7}) {
        ManualClock clock = new ManualClock(T0);
        TargetController c = new TargetController("r", share(target, 0, 1, 0.5), clock);
        // 80 % of the requests score ties[0], 20 % ties[1]: a threshold sends 20 % or 100 % (or 0)
        Run run = run(c, clock, 6000, 20, i -> even(i) < 0.8 ? ties[0] : ties[1]);
        double wanted = target == 0.3 ? 0.2 : 1.0;
        assertEquals(wanted, run.share(4800, 6000), 0.03, "ties " + ties[0] + ", " + ties[1] + ", target " + target
            + ": α " + c.alpha());
        assertTrue(c.outOfReach() && c.tied(), "the target is not held: out of reach, for a tie (" + target + ")");
      }
    }
  }

  @Test
  void holdsTheTargetShareInEveryWindowOnceTheFirstWindowHasPassed() {
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    Random rnd = new Random(7);
    int perSecond = 20;
    int window = 60 * perSecond;
    Run run = run(c, clock, 10 * window, perSecond, i -> rnd.nextDouble());
    for (int w = 1; w < 10; w++) {
      double s = run.share(w * window, (w + 1) * window);
      // 1200 requests a window: binomial noise alone has a standard deviation of 1.3 points.
      assertEquals(0.3, s, 0.04, "window " + w);
    }
    assertEquals(0.7, c.alpha(), 0.02);
    assertEquals(0.3, c.observedShare(), 0.04);
    assertEquals(1, c.replicas());
  }

  @Test
  void followsAShiftInTheTrafficWithinOneWindowWithoutOvershootingOrTurningBack() {
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    int perSecond = 20;
    int half = 180 * perSecond;
    // Easy prompts (win rates spread evenly over [0, 0.6]), then hard ones ([0.4, 1.0]).
    Run run = run(c, clock, 2 * half, perSecond, i -> i < half ? 0.6 * even(i) : 0.4 + 0.6 * even(i));
    double before = run.alpha()[half - 1];
    double after = 0.4 + 0.6 * 0.7;
    assertEquals(0.6 * 0.7, before, 0.005, "α for 30% of the easy prompts");
    double highest = before;
    for (int i = half; i < 2 * half; i++) {
      double a = run.alpha()[i];
      // The slices' edges move α by a few ten-thousandths either way; turning back means more.
      assertTrue(a >= highest - 0.002, "α turned back at request " + i + ": " + highest + " -> " + a);
      assertTrue(a <= after + 0.005, "α overshot at request " + i + ": " + a);
      highest = Math.max(highest, a);
    }
    assertEquals(after, run.alpha()[half + 60 * perSecond], 0.01, "settled one window after the shift");
    assertEquals(0.3, run.share(half + 60 * perSecond, 2 * half), 0.01);
  }

  @Test
  void neverLeavesItsAlphaBoundsSoATargetCannotStarveEitherModel() {
    ManualClock clock = new ManualClock(T0);
    TargetController tight = new TargetController("r", share(0.02, 0.1, 0.6, 0.5), clock);
    Run run = run(tight, clock, 2400, 20, TargetControllerTest::even);
    assertEquals(0.6, tight.alpha(), 1e-9, "held at max_alpha instead of 0.98");
    assertEquals(0.4, run.share(1200, 2400), 0.01, "the strong model keeps its 40%");
    assertTrue(tight.outOfReach(), "2% strong is out of reach under max_alpha 0.6: said, not silent");

    TargetController loose = new TargetController("r", share(0.99, 0.1, 0.6, 0.5), clock);
    run(loose, clock, 2400, 20, TargetControllerTest::even);
    assertEquals(0.1, loose.alpha(), 1e-9, "held at min_alpha instead of 0.01");
    assertTrue(loose.outOfReach());

    TargetController reachable = new TargetController("r", share(0.5, 0.1, 0.6, 0.3), clock);
    run(reachable, clock, 2400, 20, TargetControllerTest::even);
    assertFalse(reachable.outOfReach(), "α 0.5 lies within the bounds");
  }

  /**
   * Traffic thinning out below {@link TargetController#MIN_DECISIONS} a window (the night) leaves α
   * where it was, at its bound, and the few requests still miss the target as before: nothing was
   * judged within reach, so the flag (and its alert) stays, and the log does not say "within reach again".
   */
  @Test
  void anOutOfReachTargetStaysOutOfReachWhileTooFewDecisionsToJudgeItBy() {
    ManualClock clock = new ManualClock(T0);
    TargetController tight = new TargetController("r", share(0.02, 0.1, 0.6, 0.5), clock);
    run(tight, clock, 2400, 20, TargetControllerTest::even);
    assertTrue(tight.outOfReach());
    int strong = 0;
    for (int i = 0; i < 30; i++) { // one request every 10 s for 5 minutes: 6 a window
      Route route = ThresholdRule.route(even(i), tight.alpha());
      tight.decided(even(i), route);
      strong += route == Route.STRONG ? 1 : 0;
      for (int s = 0; s < 10; s++) {
        clock.advance(1000);
        tight.tick(tight.snapshot(), null);
      }
    }
    assertEquals(0.6, tight.alpha(), 1e-9, "α stays at its bound");
    assertTrue(strong > 6, strong + " of 30 strong against a 2% target");
    assertTrue(tight.outOfReach(), "still out of reach: α sits at its bound and the share misses the target");
  }

  @Test
  void keepsItsStartingAlphaUntilTheWindowHoldsEnoughDecisions() {
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", share(0.3, 0, 1, 0.42), clock);
    for (int i = 0; i < TargetController.MIN_DECISIONS - 1; i++) {
      c.decided(0.99, Route.STRONG);
      clock.advance(1000);
      c.tick(c.snapshot(), null);
    }
    assertEquals(0.42, c.alpha());
    c.decided(0.99, Route.STRONG);
    clock.advance(1000);
    c.tick(c.snapshot(), null);
    assertTrue(c.alpha() > 0.42, "moves once there are enough: " + c.alpha());
  }

  @Test
  void aBudgetBecomesTheShareThatSpendsItAndTheWindowShowsTheSpend() {
    ManualClock clock = new ManualClock(T0);
    // Strong answers cost $0.01, weak ones $0.001. At 10 requests a second (36,000 an
    // hour), $108 an hour is $0.003 a request: a strong share of (0.003 - 0.001) / (0.01 - 0.001).
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 108, 0, 1, Duration.ofSeconds(60), 0.5);
    TargetController c = new TargetController("r", budget, clock);
    Random rnd = new Random(3);
    int perSecond = 10;
    long nextSync = clock.getAsLong() + 1000;
    int n = 600 * perSecond;
    int strong = 0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
      double r = rnd.nextDouble();
      Route route = ThresholdRule.route(r, c.alpha());
      c.decided(r, route);
      c.answered(route, route == Route.STRONG ? 0.01 : 0.001);
      if (i >= n / 2) {
        strong += route == Route.STRONG ? 1 : 0;
        counted++;
      }
      clock.advance(1000 / perSecond);
      if (clock.getAsLong() >= nextSync) {
        c.tick(c.snapshot(), null);
        nextSync += 1000;
      }
    }
    double expected = (0.003 - 0.001) / (0.01 - 0.001);
    assertEquals(expected, c.wantedShare(), 0.01);
    assertEquals(expected, (double) strong / counted, 0.02);
    assertEquals(108, c.observedUsdPerHour(), 108 * 0.05);
  }

  /**
   * Ten minutes of auto requests at ten a second (random win rates, each answer costing its side's
   * cost), the controller stepped every second; the strong share of the last five minutes.
   */
  private static double tenMinutesAtTenASecond(TargetController c, ManualClock clock, double strongCost,
      double weakCost) {
    Random rnd = new Random(5);
    int strong = 0;
    int counted = 0;
    for (int i = 0; i < 6000; i++) {
      double r = rnd.nextDouble();
      Route route = ThresholdRule.route(r, c.alpha());
      c.decided(r, route);
      c.answered(route, route == Route.STRONG ? strongCost : weakCost);
      if (i >= 3000) {
        strong += route == Route.STRONG ? 1 : 0;
        counted++;
      }
      clock.advance(100);
      if (i % 10 == 9) {
        c.tick(c.snapshot(), null);
      }
    }
    return (double) strong / counted;
  }

  @Test
  void aBudgetStartingWithEveryRequestStrongMovesOnThePricesUntilWeakAnswersAreSeen() {
    // α starts at 0: every request goes strong, so the window has no weak answer to cost. With the
    // prices' ratio (weak a tenth of strong) α moves; without it, it stayed at 0 and spent 3x the budget.
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 108, 0, 1, Duration.ofSeconds(60), 0.0);
    for (double ratio : new double[] {0.1, Double.NaN}) {
      ManualClock clock = new ManualClock(T0);
      TargetController c = new TargetController("r", budget, clock, ratio);
      double strongShare = tenMinutesAtTenASecond(c, clock, 0.01, 0.001);
      if (Double.isNaN(ratio)) {
        assertEquals(0.0, c.alpha(), "no price and no weak answer: nothing to estimate from");
      } else {
        double expected = (0.003 - 0.001) / (0.01 - 0.001);
        assertEquals(expected, strongShare, 0.02, "then the measured costs hold the budget");
        assertEquals(108, c.observedUsdPerHour(), 108 * 0.05);
      }
    }
  }

  @Test
  void aBudgetStartingWithEveryRequestOnAFreeUpstreamSendsSomeStrongToMeterItThenHoldsTheBudget() {
    // α starts at 1 and the weak upstream is free (a local model): its answers cost 0 whatever the
    // ratio, so the top's cost was never known and α never moved, reported as unmetered
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "gpt-4o", 2.5, 10), new Ladder.Rung("weak", "llama", 0, 0)));
    assertEquals(0.0, ladder.belowTopPriceRatio());
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 10, 0, 1, Duration.ofSeconds(60), 1.0);
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", budget, clock, ladder.belowTopPriceRatio());
    double strongShare = tenMinutesAtTenASecond(c, clock, 0.01, 0.0);
    assertFalse(c.unmetered(), "every answer was metered, at 0");
    // 10 USD an hour at 10 requests a second and 0.01 a strong answer: 2.8 % strong
    assertEquals(10.0 / 3600 / 10 / 0.01, strongShare, 0.01);
    assertEquals(10, c.observedUsdPerHour(), 10 * 0.15);
  }

  @Test
  void mergesTheOtherReplicasWindowsSliceBySlice() {
    ManualClock clock = new ManualClock(T0);
    TargetController a = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    TargetController b = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    // Replica a sees only easy prompts ([0, 0.5]), b only hard ones ([0.5, 1]), as many of each.
    for (int s = 0; s < 120; s++) {
      for (int i = 0; i < 10; i++) {
        double easy = 0.5 * even(s * 10 + i);
        double hard = 0.5 + 0.5 * even(s * 10 + i);
        a.decided(easy, ThresholdRule.route(easy, a.alpha()));
        b.decided(hard, ThresholdRule.route(hard, b.alpha()));
      }
      clock.advance(1000);
      WindowSnapshot sa = a.snapshot();
      WindowSnapshot sb = b.snapshot();
      a.tick(sa, List.of(sb));
      b.tick(sb, List.of(sa));
    }
    // Together the rates are uniform on [0, 1]: 30% strong is α = 0.7, for both replicas.
    assertEquals(0.7, a.alpha(), 0.01);
    assertEquals(a.alpha(), b.alpha(), 0.002);
    assertEquals(2, a.replicas());
    // Alone, a would have aimed at 30% of its own easy prompts.
    TargetController alone = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    for (int s = 0; s < 120; s++) {
      for (int i = 0; i < 10; i++) {
        double easy = 0.5 * even(s * 10 + i);
        alone.decided(easy, ThresholdRule.route(easy, alone.alpha()));
      }
      clock.advance(1000);
      alone.tick(alone.snapshot(), List.of());
    }
    assertEquals(0.35, alone.alpha(), 0.01);
  }

  @Test
  void aReplicaWithAnotherWindowIsLeftOutOfTheMerge() {
    ManualClock clock = new ManualClock(T0);
    TargetController mine = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    TargetController other = new TargetController("r", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1,
        Duration.ofSeconds(120), 0.9), clock);
    for (int i = 0; i < 100; i++) {
      other.decided(0.99, Route.STRONG);
    }
    mine.tick(mine.snapshot(), List.of(other.snapshot()));
    assertEquals(1, mine.replicas());
    assertEquals(0.5, mine.alpha(), "its α is not taken either");
  }

  @Test
  void aReplicaThatJoinsStartsAtTheAlphaTheOthersUse() {
    ManualClock clock = new ManualClock(T0);
    TargetController running = new TargetController("r", share(0.3, 0, 1, 0.77), clock);
    TargetController joining = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    joining.tick(joining.snapshot(), List.of(running.snapshot()));
    assertEquals(0.77, joining.alpha(), 1e-9);
  }

  @Test
  void aloneABudgetReplicaHoldsThePartOfTheBudgetItsTrafficHad() {
    ManualClock clock = new ManualClock(T0);
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 144, 0, 1, Duration.ofSeconds(60), 0.5);
    TargetController a = new TargetController("r", budget, clock);
    TargetController b = new TargetController("r", budget, clock);
    List<Double> shared = new ArrayList<>();
    for (int s = 0; s < 90; s++) {
      for (int i = 0; i < 10; i++) { // 10 requests a second on each replica
        for (TargetController c : List.of(a, b)) {
          double r = even(s * 20 + i + (c == a ? 0 : 10));
          Route route = ThresholdRule.route(r, c.alpha());
          c.decided(r, route);
          c.answered(route, route == Route.STRONG ? 0.01 : 0.001);
        }
      }
      clock.advance(1000);
      WindowSnapshot sa = a.snapshot();
      WindowSnapshot sb = b.snapshot();
      a.tick(sa, s < 60 ? List.of(sb) : null); // the store goes down after a minute
      b.tick(sb, s < 60 ? List.of(sa) : null);
      if (s == 59) {
        shared.add(a.wantedShare());
      }
    }
    // Together: 20 requests a second, 72,000 an hour, so $144 an hour is $0.002 a request, a strong
    // share of (0.002 - 0.001) / (0.01 - 0.001). Alone, each replica keeps the half of the budget its
    // half of the traffic had: $72 an hour for 36,000 requests, the same share, not twice it.
    double expected = (0.002 - 0.001) / (0.01 - 0.001);
    assertEquals(expected, shared.get(0), 0.01, "together");
    assertEquals(expected, a.wantedShare(), 0.01, "alone");
    assertEquals(expected, b.wantedShare(), 0.01, "alone");
  }

  @Test
  void aBudgetHoldsThroughAReplicaRestartBecauseEachReplicasRateIsOverItsOwnTime() {
    ManualClock clock = new ManualClock(T0);
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 144, 0, 1, Duration.ofSeconds(60), 0.5);
    TargetController a = new TargetController("r", budget, clock);
    TargetController b = new TargetController("r", budget, clock);
    double spentAfterRestart = 0;
    double maxWanted = 0;
    for (int s = 0; s < 150; s++) {
      if (s == 90) {
        b = new TargetController("r", budget, clock); // b restarts: its window starts empty, its old one is gone
      }
      for (int i = 0; i < 10; i++) { // 10 requests a second on each replica
        for (TargetController c : List.of(a, b)) {
          double r = even(s * 20 + i + (c == a ? 0 : 10));
          Route route = ThresholdRule.route(r, c.alpha());
          c.decided(r, route);
          double usd = route == Route.STRONG ? 0.01 : 0.001;
          c.answered(route, usd);
          if (s >= 90) {
            spentAfterRestart += usd;
          }
        }
      }
      clock.advance(1000);
      WindowSnapshot sa = a.snapshot();
      WindowSnapshot sb = b.snapshot();
      a.tick(sa, List.of(sb));
      b.tick(sb, List.of(sa));
      if (s >= 90) {
        maxWanted = Math.max(maxWanted, Math.max(a.wantedShare(), b.wantedShare()));
      }
    }
    // 20 requests a second throughout: $144 an hour is a strong share of (0.002 - 0.001) / (0.01 - 0.001).
    // Dividing the merged window by the older replica's minute read the restarted one's seconds of
    // traffic as a fraction of its rate, and let both spend up to ~40% over the budget for a window.
    double expected = (0.002 - 0.001) / (0.01 - 0.001);
    assertEquals(expected, maxWanted, 0.03, "the wanted share after the restart");
    assertEquals(144.0 / 60, spentAfterRestart, 144.0 / 60 * 0.1, "USD spent in the minute after the restart");
    assertEquals(144, a.observedUsdPerHour(), 144 * 0.1);
  }

  /**
   * A minute of steady traffic, ten requests a second (win rates spread evenly, strong answers $0.01,
   * weak ones $0.001), the first request {@code idleMillis} after the controller was made and the
   * controller stepped every second from then: the USD the minute cost, and the highest share the
   * budget allowed in it.
   */
  private static double[] firstMinuteAfter(long idleMillis, TargetConfig budget) {
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", budget, clock, 0.1);
    clock.advance(idleMillis); // the server starting (a listener bound, the first exchange): nobody can ask yet
    double spend = 0;
    double maxWanted = 0;
    for (int s = 0; s < 60; s++) {
      for (int i = 0; i < 10; i++) {
        double r = even(s * 10 + i);
        Route route = ThresholdRule.route(r, c.alpha());
        c.decided(r, route);
        double usd = route == Route.STRONG ? 0.01 : 0.001;
        c.answered(route, usd);
        spend += usd;
        clock.advance(100);
      }
      c.tick(c.snapshot(), null);
      if (!Double.isNaN(c.wantedShare())) {
        maxWanted = Math.max(maxWanted, c.wantedShare());
      }
    }
    return new double[] {spend, maxWanted};
  }

  /**
   * The controller is made before the server listens (and a load balancer sends a new replica
   * traffic only once it answers): the seconds between were counted as seconds of the window with no
   * request, so a replica just started read its rate as a fraction of the real one for its first
   * window and spent up to twice its budget. Its rate counts from its first request.
   */
  @Test
  void aBudgetJustStartedCountsItsRateFromItsFirstRequestNotFromWhenItWasMade() {
    // 10 requests a second, 36,000 an hour: $108 an hour is $0.003 a request, 2/9 strong, α = 7/9 on
    // these rates from the first request, $1.80 a minute
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 108, 0, 1, Duration.ofSeconds(60), 7 / 9.0);
    double[] atOnce = firstMinuteAfter(0, budget);
    double[] late = firstMinuteAfter(8_000, budget);
    assertEquals(108.0 / 60, atOnce[0], 108.0 / 60 * 0.05, "the first minute's spend, traffic from the start");
    assertEquals(2 / 9.0, atOnce[1], 0.03, "the share allowed, traffic from the start");
    // It was $2.60 (44 % over), the budget reading 100 % strong as affordable; $2.01 after a 2 s start.
    assertEquals(atOnce[0], late[0], 108.0 / 60 * 0.05, "the first minute's spend, the first request 8 s after the start");
    assertEquals(atOnce[1], late[1], 0.03, "the share allowed, the first request 8 s after the start");
  }

  /** A replica with another window_s is left out of the merge (not comparable), and the log says so once. */
  @Test
  void aReplicaWithAnotherWindowIsLeftOutAndSaidOnce() {
    ManualClock clock = new ManualClock(T0);
    TargetController mine = new TargetController("mf", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1,
        Duration.ofSeconds(60), 0.5), clock);
    TargetController other = new TargetController("mf", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1,
        Duration.ofSeconds(30), 0.5), clock);
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      for (int i = 0; i < 3; i++) {
        clock.advance(1000);
        mine.tick(mine.snapshot(), List.of(other.snapshot()));
      }
      String text = log.text();
      assertTrue(text.contains("has another window_s (30.0 s, this one 60.0 s)"), text);
      assertEquals(text.indexOf("another window_s"), text.lastIndexOf("another window_s"), "said once: " + text);
    }
    assertEquals(1, mine.replicas(), "the other replica is not merged");
  }

  /**
   * Replicas given different targets for one router (a config rolled out to some of them) each steer
   * the merged traffic to their own value and pull α apart; they used to merge silently. A replica
   * of an older build, whose window does not say its target, is merged as before.
   */
  @Test
  void aReplicaHoldingAnotherTargetIsLeftOutAndSaidOnce() {
    ManualClock clock = new ManualClock(T0);
    TargetController mine = new TargetController("mf", share(0.3, 0, 1, 0.5), clock);
    TargetController other = new TargetController("mf", share(0.6, 0, 1, 0.8), clock);
    TargetController same = new TargetController("mf", share(0.3, 0, 1, 0.5), clock);
    for (int i = 0; i < 100; i++) {
      other.decided(0.99, Route.STRONG);
      mine.decided(0.1, Route.WEAK);
    }
    WindowSnapshot o = other.snapshot();
    WindowSnapshot older = new WindowSnapshot("r9-old", o.startedAtMillis(), 0.5, o.sliceMillis(), null, List.of());
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      for (int i = 0; i < 3; i++) {
        clock.advance(1000);
        mine.tick(mine.snapshot(), List.of(other.snapshot(), same.snapshot(), older));
      }
      String text = log.text();
      assertTrue(text.contains("holds another target (strong_share=0.6, this one strong_share=0.3)"), text);
      assertEquals(text.indexOf("another target"), text.lastIndexOf("another target"), "said once: " + text);
    }
    assertEquals(3, mine.replicas(), "itself, the one with its target and the one that does not say");
    assertEquals(0.0, mine.observedShare(), "the other target's strong decisions are not merged");
  }

  @Test
  void aBudgetWithDecisionsButNoMeteredAnswerSaysItIsBlindUntilOneIsMetered() {
    ManualClock clock = new ManualClock(T0);
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 108, 0, 1, Duration.ofSeconds(60), 0.3);
    TargetController c = new TargetController("r", budget, clock, 0.1);
    for (int i = 0; i < TargetController.MIN_DECISIONS - 1; i++) {
      c.decided(even(i), ThresholdRule.route(even(i), c.alpha())); // answered, but not one with usage
    }
    clock.advance(1000);
    c.tick(c.snapshot(), null);
    assertFalse(c.unmetered(), "too few decisions to say");
    for (int i = 0; i < 30; i++) {
      c.decided(even(i), ThresholdRule.route(even(i), c.alpha()));
    }
    clock.advance(1000);
    c.tick(c.snapshot(), null);
    assertTrue(c.unmetered());
    assertEquals(0.3, c.alpha(), "α holds");
    c.answered(Route.STRONG, 0.01);
    clock.advance(1000);
    c.tick(c.snapshot(), null);
    assertFalse(c.unmetered(), "one metered answer and the prices' ratio are enough to estimate from");
    TargetController share = new TargetController("r", share(0.3, 0, 1, 0.5), clock);
    for (int i = 0; i < 50; i++) {
      share.decided(even(i), ThresholdRule.route(even(i), share.alpha()));
    }
    clock.advance(1000);
    share.tick(share.snapshot(), null);
    assertFalse(share.unmetered(), "a share target needs no cost");
  }
}
