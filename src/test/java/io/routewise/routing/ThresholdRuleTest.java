package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ThresholdRuleTest {
  /** Values a router really returns, edges included: 0, 1, exact repeats of the thresholds tried. */
  static double draw(Random rnd) {
    return switch (rnd.nextInt(6)) {
      case 0 -> 0.0;
      case 1 -> 1.0;
      case 2 -> rnd.nextInt(21) / 20.0;
      default -> rnd.nextDouble();
    };
  }

  private static double[] alphas(Random rnd) {
    double[] a = new double[40];
    for (int i = 0; i < a.length; i++) {
      a[i] = draw(rnd);
    }
    a[0] = 0;
    a[1] = 1;
    Arrays.sort(a);
    return a;
  }

  @Test
  void withTwoUpstreamsTheLadderRuleIsExactlyTheTwoWayRule() {
    Random rnd = new Random(17);
    for (int t = 0; t < 100_000; t++) {
      double s = draw(rnd);
      double alpha = rnd.nextBoolean() ? s : draw(rnd); // a tie half the time: rate == alpha goes strong
      int expected = ThresholdRule.route(s, alpha) == Route.STRONG ? 0 : 1;
      assertEquals(expected, ThresholdRule.rung(new double[] {0, s}, alpha), "s=" + s + " alpha=" + alpha);
      assertEquals(expected, ThresholdRule.rung(Ladder.twoWay("a", "b").fromStrongWinRate(s), alpha),
          "the default N-way scores of a two-rung ladder are the win rate itself");
    }
  }

  @Test
  void raisingAlphaNeverMovesARequestToAMoreCapableUpstream() {
    Random rnd = new Random(42);
    for (int t = 0; t < 20_000; t++) {
      double[] rates = new double[2 + rnd.nextInt(7)];
      for (int i = 0; i < rates.length; i++) {
        rates[i] = draw(rnd);
      }
      int previous = 0;
      for (double alpha : alphas(rnd)) {
        int rung = ThresholdRule.rung(rates, alpha);
        assertTrue(rung >= previous, "rates " + Arrays.toString(rates) + ": alpha " + alpha + " chose rung " + rung
            + " above " + previous);
        previous = rung;
      }
    }
  }

  @Test
  void alphaZeroIsAlwaysTheTopAndAlphaOneTheCheapestUnlessItIsBeatenForCertain() {
    Random rnd = new Random(3);
    for (int t = 0; t < 10_000; t++) {
      double[] rates = new double[3 + rnd.nextInt(5)];
      for (int i = 1; i < rates.length; i++) {
        rates[i] = rnd.nextDouble(); // [0, 1): never certain
      }
      assertEquals(0, ThresholdRule.rung(rates, 0.0));
      assertEquals(rates.length - 1, ThresholdRule.rung(rates, 1.0));
    }
    assertEquals(1, ThresholdRule.rung(new double[] {0, 0.2, 1.0}, 1.0),
        "the cheapest, beaten for certain, is passed over for the next cheapest");
  }

  @Test
  void theChoiceIsTheCheapestUpstreamTheTopDoesNotBeatWithProbabilityAlpha() {
    Random rnd = new Random(5);
    for (int t = 0; t < 20_000; t++) {
      double[] rates = new double[2 + rnd.nextInt(7)];
      for (int i = 1; i < rates.length; i++) {
        rates[i] = draw(rnd);
      }
      double alpha = draw(rnd);
      int rung = ThresholdRule.rung(rates, alpha);
      for (int j = rung + 1; j < rates.length; j++) {
        assertTrue(rates[j] >= alpha, "a cheaper acceptable rung " + j + " was passed over");
      }
      assertTrue(rung == 0 || rates[rung] < alpha);
    }
  }

  private static Ladder.Rung priced(String name, double in, double out) {
    return new Ladder.Rung(name, name, in, out);
  }

  @Test
  void ofTwoUpstreamsAtTheSamePriceTheRuleTakesTheOneTheTopIsLessLikelyToBeat() {
    // ZeroEval's "trained" ladder: llama-3.1-8b and qwen2.5-7b both at 0.1 / 0.1
    Ladder ladder = Ladder.byPrice(java.util.List.of(priced("strong", 5, 15), priced("mid", 0.88, 0.88),
        priced("qwen", 0.1, 0.1), priced("llama", 0.1, 0.1), priced("weak", 0.05, 0.05)));
    int[] tiers = ladder.priceTiers();
    assertEquals(java.util.List.of("strong", "mid", "qwen", "llama", "weak"),
        ladder.rungs().stream().map(Ladder.Rung::upstream).toList());
    assertEquals(tiers[2], tiers[3]);
    double[] rates = {0, 0.3, 0.55, 0.7, 0.9}; // the top beats qwen less often than llama
    assertEquals(3, ThresholdRule.rung(rates, 0.8), "without tiers: the later of the two");
    assertEquals(2, ThresholdRule.rung(rates, 0.8, tiers), "with them: the better of the two");
    assertEquals(2, ThresholdRule.rung(rates, 0.6, tiers));
    assertEquals(1, ThresholdRule.rung(rates, 0.5, tiers));
    assertEquals(4, ThresholdRule.rung(rates, 0.95, tiers));
    // the other way round, the written order's choice is already the better one
    assertEquals(3, ThresholdRule.rung(new double[] {0, 0.3, 0.7, 0.55, 0.9}, 0.8, tiers));
    // a router with one score gives both one rate, one step of three below the top, and the rule
    // takes the lower of the two (a tie, as weak goes below its equals)
    double[] scalar = ladder.fromStrongWinRate(0.5);
    assertArrayEquals(new double[] {0, 0.125, Math.pow(0.5, 1.5), Math.pow(0.5, 1.5), 0.5}, scalar, 1e-12);
    assertEquals(3, ThresholdRule.rung(scalar, 0.4, tiers));
    assertEquals(4, ThresholdRule.rung(scalar, 0.8, tiers));
  }

  @Test
  void withPriceTiersRaisingAlphaStillOnlyLowersThePriceAndNoTiesMeanTheRuleAsBefore() {
    Random rnd = new Random(11);
    double[] prices = {4, 2, 2, 1, 1, 1, 0.5};
    for (int t = 0; t < 20_000; t++) {
      int k = 2 + rnd.nextInt(6);
      java.util.List<Ladder.Rung> rungs = new java.util.ArrayList<>();
      rungs.add(priced("strong", 10, 10));
      for (int i = 1; i < k; i++) {
        double p = prices[rnd.nextInt(prices.length)];
        rungs.add(priced(i == k - 1 ? "weak" : "u" + i, p, p));
      }
      Ladder ladder = Ladder.byPrice(rungs);
      int[] tiers = ladder.priceTiers();
      double[] rates = new double[k];
      for (int i = 1; i < k; i++) {
        rates[i] = draw(rnd);
      }
      double previousPrice = Double.POSITIVE_INFINITY;
      int previousRung = -1;
      for (double alpha : alphas(rnd)) {
        int rung = ThresholdRule.rung(rates, alpha, tiers);
        double price = ladder.orderPrice(ladder.rung(rung));
        assertTrue(price <= previousPrice, Arrays.toString(rates) + " alpha " + alpha + ": price went up");
        if (price == previousPrice) { // input == output here, so one order price is one tier
          assertEquals(previousRung, rung, "within one price the choice does not change");
        }
        assertTrue(rung == 0 || rates[rung] < alpha, "an acceptable rung");
        previousPrice = price;
        previousRung = rung;
      }
    }
    double[] rates = {0, 0.2, 0.4, 0.6};
    int[] distinct = {0, 1, 2, 3};
    assertTrue(rates == ThresholdRule.bestOfEqualPrices(rates, distinct), "no ties: the rates as they are");
    assertEquals(2, ThresholdRule.rung(rates, 0.5, distinct));
    assertEquals(1, ThresholdRule.rung(new double[] {0, 0.3}, 0.5, Ladder.twoWay("a", "b").priceTiers()));
  }

  @Test
  void aScalarRouterSpreadsOverEveryRungWithOneThresholdPerRung() {
    Ladder three = new Ladder(java.util.List.of(Ladder.Rung.unpriced("strong", "a"),
        Ladder.Rung.unpriced("mid", "b"), Ladder.Rung.unpriced("weak", "c")));
    assertArrayEquals(new double[] {0, 0.25, 0.5}, three.fromStrongWinRate(0.5), 1e-12);
    // At alpha 0.5: below 0.5 the cheapest, 0.5 to sqrt(0.5) the middle one, above it the top.
    assertEquals(2, ThresholdRule.rung(three.fromStrongWinRate(0.49), 0.5));
    assertEquals(1, ThresholdRule.rung(three.fromStrongWinRate(0.5), 0.5));
    assertEquals(1, ThresholdRule.rung(three.fromStrongWinRate(0.70), 0.5));
    assertEquals(0, ThresholdRule.rung(three.fromStrongWinRate(0.71), 0.5));
    // So the random router's uniform scores use every rung at every alpha in (0, 1).
    Random rnd = new Random(9);
    int[] counts = new int[3];
    int n = 200_000;
    for (int i = 0; i < n; i++) {
      counts[ThresholdRule.rung(three.fromStrongWinRate(rnd.nextDouble()), 0.5)]++;
    }
    assertEquals(1 - Math.sqrt(0.5), counts[0] / (double) n, 0.005);
    assertEquals(Math.sqrt(0.5) - 0.5, counts[1] / (double) n, 0.005);
    assertEquals(0.5, counts[2] / (double) n, 0.005);
  }

  @Test
  void theDefaultScoresGrowWithTheWinRateAndWithTheGap() {
    Ladder five = new Ladder(java.util.stream.IntStream.range(0, 5)
        .mapToObj(i -> Ladder.Rung.unpriced(i == 0 ? "strong" : "u" + i, "m" + i)).toList());
    double[] low = five.fromStrongWinRate(0.3);
    double[] high = five.fromStrongWinRate(0.6);
    for (int i = 1; i < 5; i++) {
      assertTrue(high[i] > low[i]);
      assertTrue(i == 1 || low[i] > low[i - 1]);
    }
    assertEquals(0.6, high[4], 0.0);
  }
}
