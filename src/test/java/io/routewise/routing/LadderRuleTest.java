package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.Ladder.Rung;
import io.routewise.routing.LadderRule.Kind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LadderRuleTest {
  private static double draw(Random rnd) {
    return ThresholdRuleTest.draw(rnd);
  }

  /**
   * A priced ladder, none dearer than strong; some rungs share a price, as ZeroEval's 0.2 / 0.2 models
   * do, and some the top's own, as dcrouter's two nemotrons do.
   */
  private static Ladder pricedLadder(Random rnd) {
    int k = 3 + rnd.nextInt(5);
    List<Rung> rungs = new ArrayList<>(List.of(new Rung("strong", "top", 20, 40)));
    double[] tierPrices = {0.1, 0.2, 0.2, 0.6, 2.5, 5, 20};
    for (int i = 1; i < k; i++) {
      double p = i == k - 1 ? 0.05 : tierPrices[rnd.nextInt(tierPrices.length)];
      rungs.add(new Rung(i == k - 1 ? "weak" : "u" + i, "m" + i, p, p * (p == 20 || rnd.nextBoolean() ? 2 : 4)));
    }
    return Ladder.byPrice(rungs);
  }

  private static double[] rates(Random rnd, int k) {
    double[] r = new double[k];
    for (int i = 1; i < k; i++) {
      r[i] = draw(rnd);
    }
    return r;
  }

  private static double logit(double p) {
    double r = Math.max(p, Double.MIN_VALUE);
    return Math.log(r / (1 - r));
  }

  /** The price-weighted rule as written: least logit(rate) + logit(alpha) share, ties to the more capable. */
  private static int bruteForce(Ladder ladder, double[] rates, double alpha) {
    double min = Double.MAX_VALUE;
    for (Rung r : ladder.rungs()) {
      min = Math.min(min, ladder.orderPrice(r));
    }
    double span = ladder.orderPrice(ladder.top()) - min;
    int best = 0;
    double bestValue = logit(alpha);
    for (int i = 1; i < ladder.size(); i++) {
      double share = (ladder.orderPrice(ladder.rung(i)) - min) / span;
      double v = logit(rates[i]) + logit(alpha) * share;
      // beaten for certain: never, as under the threshold rule; of equal prices and rates, the later
      boolean twin = best > 0 && ladder.priceTiers()[best] == ladder.priceTiers()[i] && rates[best] == rates[i];
      if (rates[i] < 1 && (v < bestValue || twin)) {
        best = i;
        bestValue = v;
      }
    }
    return best;
  }

  @Test
  void priceWeightedChoosesTheLeastPredictedShortfallPlusPrice() {
    Random rnd = new Random(5);
    int differ = 0;
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = pricedLadder(rnd);
      LadderRule rule = LadderRule.of(ladder, Kind.PRICE_WEIGHTED);
      double[] rates = rates(rnd, ladder.size());
      for (int a = 0; a < 20; a++) {
        double alpha = rnd.nextDouble(); // off the envelope's corners, where rounding could go either way
        int expected = bruteForce(ladder, rates, alpha);
        assertEquals(expected, rule.rung(rates, alpha),
            "ladder " + ladder + " rates " + Arrays.toString(rates) + " alpha " + alpha);
        if (expected != LadderRule.threshold(ladder).rung(rates, alpha)) {
          differ++;
        }
      }
    }
    assertTrue(differ > 10_000, "a different rule from the threshold one, not a copy of it: " + differ);
  }

  /**
   * Two upstreams placed on one model (a second host of it) have equal prices and rates: both rules
   * take the later, weak below its equal, as the README says (the price-weighted rule took the earlier,
   * so weak never got a request, and the twin's failover went up to another model: an operator trial).
   */
  @Test
  void bothRulesTakeTheLaterOfTwinsAtOnePrice() {
    Ladder ladder = Ladder.byPrice(List.of(new Rung("strong", "gpt-4o", 5, 15), new Rung("large", "mistral-large", 2, 6),
        new Rung("llama2nd", "llama", 0.2, 0.2), new Rung("weak", "llama", 0.2, 0.2)));
    double[] rates = {0, 0.9, 0.3, 0.3};
    for (Kind kind : Kind.values()) {
      LadderRule rule = LadderRule.of(ladder, kind);
      for (double alpha : new double[] {0.5, 0.9, 1}) {
        assertEquals("weak", ladder.rung(rule.rung(rates, alpha)).upstream(), kind + " at " + alpha);
      }
    }
  }

  @Test
  void withTwoUpstreamsBothRulesAreExactlyTheTwoWayRule() {
    Random rnd = new Random(17);
    Ladder unpriced = Ladder.twoWay("a", "b");
    Ladder priced = new Ladder(List.of(new Rung("strong", "a", 5, 15), new Rung("weak", "b", 0.1, 0.1)));
    for (Ladder ladder : List.of(unpriced, priced)) {
      for (Kind kind : Kind.values()) {
        LadderRule rule = LadderRule.of(ladder, kind);
        for (int t = 0; t < 50_000; t++) {
          double s = draw(rnd);
          double alpha = rnd.nextBoolean() ? s : draw(rnd); // a tie half the time: rate == alpha goes strong
          int expected = ThresholdRule.route(s, alpha) == Route.STRONG ? 0 : 1;
          assertEquals(expected, rule.rung(new double[] {0, s}, alpha), kind + " s=" + s + " alpha=" + alpha);
        }
      }
    }
  }

  @Test
  void raisingAlphaOnlyEverMovesToCheaperUpstreams() {
    Random rnd = new Random(42);
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = pricedLadder(rnd);
      LadderRule rule = LadderRule.of(ladder, Kind.PRICE_WEIGHTED);
      double[] rates = rates(rnd, ladder.size());
      double[] alphas = new double[30];
      for (int a = 0; a < alphas.length; a++) {
        alphas[a] = draw(rnd);
      }
      Arrays.sort(alphas);
      int previous = 0;
      for (double alpha : alphas) {
        int rung = rule.rung(rates, alpha);
        assertTrue(rung >= previous && ladder.orderPrice(ladder.rung(rung)) <= ladder.orderPrice(ladder.rung(previous)),
            "rates " + Arrays.toString(rates) + ": alpha " + alpha + " chose " + rung + " after " + previous);
        previous = rung;
      }
    }
  }

  @Test
  void theTopIsChosenExactlyUpToTopRate() {
    Random rnd = new Random(9);
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = pricedLadder(rnd);
      double[] rates = rates(rnd, ladder.size());
      for (Kind kind : Kind.values()) {
        LadderRule rule = LadderRule.of(ladder, kind);
        double top = rule.topRate(rates);
        double alpha = rnd.nextBoolean() ? rnd.nextDouble() : Math.min(1, Math.max(0, top));
        assertEquals(alpha <= top, rule.rung(rates, alpha) == 0, kind + " rates " + Arrays.toString(rates)
            + " alpha " + alpha + " topRate " + top);
      }
    }
  }

  @Test
  void theThresholdRuleIsTheOneServeAlwaysUsed() {
    Random rnd = new Random(11);
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = pricedLadder(rnd);
      double[] rates = rates(rnd, ladder.size());
      double alpha = draw(rnd);
      assertEquals(ThresholdRule.rung(rates, alpha, ladder.priceTiers()), LadderRule.threshold(ladder).rung(rates, alpha));
    }
  }

  @Test
  void aDearMiddleUpstreamMustBePredictedMuchBetterToBeWorthItsPrice() {
    // strong 20 a million (input + output), mid 16, weak free: mid's price share is 0.8.
    Ladder ladder = new Ladder(List.of(new Rung("strong", "a", 10, 10), new Rung("mid", "b", 8, 8),
        new Rung("weak", "c", 0, 0)));
    LadderRule rule = LadderRule.of(ladder, Kind.PRICE_WEIGHTED);
    double[] rates = {0, 0.42, 0.45};
    assertEquals(2, LadderRule.threshold(ladder).rung(rates, 0.5), "the threshold rule: weak, not beaten at 0.5");
    // at alpha 0.5 price weighs nothing: the least predicted shortfall, mid's (logit 0.42 < logit 0.45)
    assertEquals(1, rule.rung(rates, 0.5));
    // at 0.7, mid's better rate is not worth 0.8 of the price span: logit 0.42 + 0.8 logit 0.7 > logit 0.45
    assertEquals(2, rule.rung(rates, 0.7));
    assertEquals(0, rule.rung(rates, 0.0));
    double[] values = rule.acceptance(rates);
    assertEquals(sigmoid(logit(0.42) / (1 - 0.8)), values[1], 1e-12, "mid takes over from the top where their lines cross");
    assertEquals(sigmoid((logit(0.45) - logit(0.42)) / 0.8), values[2], 1e-12, "weak from mid");
    assertEquals(values[1], rule.topRate(rates));
  }

  private static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  @Test
  void alphaZeroIsTheTopAndAlphaOneTheCheapestUnlessItIsBeatenForCertain() {
    Random rnd = new Random(23);
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = pricedLadder(rnd);
      LadderRule rule = LadderRule.of(ladder, Kind.PRICE_WEIGHTED);
      double[] rates = new double[ladder.size()];
      for (int i = 1; i < rates.length; i++) {
        rates[i] = rnd.nextDouble() * 0.999;
      }
      assertEquals(0, rule.rung(rates, 0.0));
      int cheapest = rule.rung(rates, 1.0);
      assertEquals(ladder.orderPrice(ladder.rung(ladder.size() - 1)), ladder.orderPrice(ladder.rung(cheapest)),
          "rates " + Arrays.toString(rates));
    }
  }

  @Test
  void anUpstreamAtTheTopsPricePredictedBetterIsChosenFromAnyAlphaAboveZero() {
    // dcrouter's two nemotrons cost the same: the second, predicted better, is the start of the walk;
    // α = 0 is still the top, as an operator setting router-mf-0 (or a 100 % target) expects
    Ladder ladder = new Ladder(List.of(new Rung("strong", "a", 0.9, 0.9), new Rung("twin", "b", 0.9, 0.9),
        new Rung("weak", "c", 0.1, 0.1)));
    LadderRule rule = LadderRule.of(ladder, Kind.PRICE_WEIGHTED);
    assertEquals(0, rule.rung(new double[] {0, 0.4, 0.9}, 0.0));
    assertEquals(1, rule.rung(new double[] {0, 0.4, 0.9}, Double.MIN_VALUE));
    assertEquals(1, rule.rung(new double[] {0, 0.4, 0.9}, 0.3));
    assertEquals(0.0, rule.topRate(new double[] {0, 0.4, 0.9}));
    assertEquals(0, rule.rung(new double[] {0, 0.5, 0.9}, 0.0), "an equal rate: the top");
    assertEquals(0, rule.rung(new double[] {0, 0.6, 0.9}, 0.3));
  }

  /**
   * A rung priced above the top is never taken on a ladder: the top does at least as well for less.
   * Taking it when the top did not beat it made the cost rise with α (operator trial). Two upstreams
   * keep the two-model rule whatever their prices.
   */
  @Test
  void aRungPricedAboveTheTopIsNeverTakenSoCostNeverRisesWithAlpha() {
    Ladder ladder = Ladder.byPrice(List.of(new Rung("strong", "gpt-4o", 2.5, 10), new Rung("sonnet", "sonnet", 3, 15),
        new Rung("mini", "mini", 0.15, 0.6), new Rung("weak", "flash", 0.075, 0.3)));
    assertEquals("sonnet", ladder.rung(1).upstream(), "dearest first below the top");
    LadderRule rule = LadderRule.of(ladder, Kind.THRESHOLD);
    Random rnd = new Random(5);
    for (int t = 0; t < 5_000; t++) {
      double[] rates = {0, rnd.nextDouble(), rnd.nextDouble(), rnd.nextDouble()};
      double price = Double.MAX_VALUE;
      for (double alpha = 0; alpha <= 1.0001; alpha += 0.01) {
        int r = rule.rung(rates, Math.min(alpha, 1));
        assertTrue(r != 1, "sonnet taken at α " + alpha + ", rates " + Arrays.toString(rates));
        assertTrue(ladder.orderPrice(ladder.rung(r)) <= price, "the price rose at α " + alpha);
        price = ladder.orderPrice(ladder.rung(r));
      }
    }
    assertEquals(3, rule.rung(new double[] {0, 0.1, 0.9, 0.9}, 1.0), "α = 1: the cheapest");
    assertEquals(0, rule.rung(new double[] {0, 0.1, 0.9, 0.9}, 0.5), "sonnet acceptable, the top cheaper: the top");
    // a one-score router spreads its score over the rungs it can choose: mini is the middle of two steps
    assertArrayEquals(new double[] {0, 1, 0.36 * 0.36, 0.36}, ladder.fromStrongWinRate(0.36), 1e-12);
    Ladder pair = new Ladder(List.of(new Rung("strong", "a", 1, 1), new Rung("weak", "b", 5, 5)));
    assertEquals(1, LadderRule.of(pair, Kind.THRESHOLD).rung(new double[] {0, 0.3}, 0.5),
        "two upstreams: rate < α is weak, as ever");
  }

  @Test
  void priceWeightedNeedsEveryPriceAndTheTopDearest() {
    Ladder unpriced = new Ladder(List.of(new Rung("strong", "a", 5, 15), Rung.unpriced("local", "b"),
        new Rung("weak", "c", 0.1, 0.1)));
    assertTrue(LadderRule.unsupported(unpriced, Kind.PRICE_WEIGHTED).orElseThrow().contains("'local' has none"));
    assertThrows(IllegalArgumentException.class, () -> LadderRule.of(unpriced, Kind.PRICE_WEIGHTED));
    Ladder dearMiddle = new Ladder(List.of(new Rung("strong", "a", 5, 15), new Rung("opus", "b", 15, 75),
        new Rung("weak", "c", 0.1, 0.1)));
    assertTrue(LadderRule.unsupported(dearMiddle, Kind.PRICE_WEIGHTED).orElseThrow().contains("'opus'"));
    assertTrue(LadderRule.unsupported(unpriced, Kind.THRESHOLD).isEmpty());
    Ladder flat = new Ladder(List.of(new Rung("strong", "a", 1, 1), new Rung("mid", "b", 1, 1),
        new Rung("weak", "c", 1, 1)));
    assertTrue(LadderRule.unsupported(flat, Kind.PRICE_WEIGHTED).orElseThrow().contains("all cost the same"));
    assertTrue(LadderRule.unsupported(Ladder.twoWay("a", "b"), Kind.PRICE_WEIGHTED).isEmpty(),
        "two upstreams need no prices: the rule is the two-way one");
  }

  /**
   * routing.ladder_rule's default, auto: price-weighted for a router that scores each upstream on a
   * ladder priced as that rule needs, threshold otherwise; a named rule applies to every router.
   */
  @Test
  void autoGivesPriceWeightingToRoutersThatScoreEachUpstreamWhereThePricesAllowIt() {
    Ladder priced = Ladder.byPrice(List.of(new Rung("strong", "a", 5, 15), new Rung("mid", "b", 1, 1),
        new Rung("weak", "c", 0.1, 0.1)));
    Ladder unpriced = Ladder.byPrice(List.of(new Rung("strong", "a", 5, 15), new Rung("mid", "b", Double.NaN, Double.NaN),
        new Rung("weak", "c", 0.1, 0.1)));
    assertEquals(Kind.PRICE_WEIGHTED, LadderRule.kindFor(priced, "auto", true));
    assertEquals(Kind.THRESHOLD, LadderRule.kindFor(priced, "auto", false));
    assertEquals(Kind.THRESHOLD, LadderRule.kindFor(unpriced, "auto", true), "no price to weigh: threshold");
    assertEquals(Kind.THRESHOLD, LadderRule.kindFor(Ladder.twoWay("a", "c"), "auto", true), "two upstreams: one rule");
    for (boolean each : new boolean[] {true, false}) {
      assertEquals(Kind.THRESHOLD, LadderRule.kindFor(priced, "threshold", each));
      assertEquals(Kind.PRICE_WEIGHTED, LadderRule.kindFor(priced, "price_weighted", each));
    }
    assertThrows(IllegalArgumentException.class, () -> LadderRule.kindFor(priced, "cheapest", true));
    Router perUpstream = new Router() {
      @Override
      public double strongWinRate(Prompt prompt) {
        return 0.5;
      }

      @Override
      public boolean scoresEachUpstream() {
        return true;
      }
    };
    assertEquals(Kind.PRICE_WEIGHTED, LadderRule.forRouter(priced, "auto", perUpstream).kind());
    assertEquals(Kind.THRESHOLD, LadderRule.forRouter(priced, "auto", prompt -> 0.5).kind());
    assertEquals(List.of("auto", "threshold", "price_weighted"), LadderRule.configNames());
  }
}
