package io.routewise.routing;

/**
 * The one place where win rates and a threshold become a route.
 *
 * <p>Two upstreams: strong when {@code rate >= alpha}, so alpha = 0 always routes strong and
 * alpha = 1 routes strong only on a certain win.
 *
 * <p>More upstreams ({@link #rung}): the cheapest upstream that the most capable one does not beat
 * with probability {@code >= alpha}; the most capable when it beats them all. Raising alpha only
 * ever adds rungs to the acceptable set, so the choice moves monotonically from the top (alpha = 0:
 * nothing is acceptable) towards the cheapest (alpha = 1: everything not beaten for certain), and
 * with two rungs it is exactly the two-way rule. Which rule a ladder runs, and the price-weighted
 * alternative, is {@link LadderRule}'s.
 *
 * <p>Upstreams at the same price ({@link Ladder#priceTiers}) are one step of the ladder, not two:
 * among them the rule takes the one the top is least likely to beat ({@link #bestOfEqualPrices}).
 * Their config order is an accident of writing, and walking them in it would send a prompt to the
 * worse of two equally priced models whenever both are acceptable (ZeroEval: llama-3.1-8b below
 * qwen2.5-7b at the same price). Still monotone: as alpha grows the ladder's order price (input +
 * output) never rises, and within one tier the choice is always the same rung.
 */
public final class ThresholdRule {
  private ThresholdRule() {}

  public static Route route(double strongWinRate, double threshold) {
    return strongWinRate >= threshold ? Route.STRONG : Route.WEAK;
  }

  /**
   * The rung to route to.
   *
   * @param topWinRates per rung of the ladder (most capable first), the probability that the top
   *     beats it ({@link Router#topWinRates}); entry 0 is ignored
   * @return the largest (cheapest) {@code i >= 1} with {@code topWinRates[i] < threshold}, else 0
   */
  public static int rung(double[] topWinRates, double threshold) {
    return cheapestAcceptable(topWinRates, threshold);
  }

  /** {@link #rung} over {@code topWinRates} with equal prices made one step ({@link #bestOfEqualPrices}). */
  public static int rung(double[] topWinRates, double threshold, int[] priceTiers) {
    return cheapestAcceptable(bestOfEqualPrices(topWinRates, priceTiers), threshold);
  }

  /**
   * {@code topWinRates} with every rung that shares its price tier with a rung the top is less likely
   * to beat set to 1 (never acceptable): of each tier only its best rung stays (on equal rates, the
   * lowest, as the rule without tiers would take). The plain rule over the result is the tiered rule,
   * and an exact curve ({@code CostCurve.sweep}) can be drawn from it. Returns the input itself when
   * no two rungs share a price.
   */
  public static double[] bestOfEqualPrices(double[] topWinRates, int[] priceTiers) {
    double[] out = null;
    for (int i = 1; i < topWinRates.length; i++) {
      for (int j = 1; j < topWinRates.length; j++) {
        if (j != i && priceTiers[j] == priceTiers[i]
            && (topWinRates[j] < topWinRates[i] || (topWinRates[j] == topWinRates[i] && j > i))) {
          if (out == null) {
            out = topWinRates.clone();
          }
          out[i] = 1.0;
          break;
        }
      }
    }
    return out == null ? topWinRates : out;
  }

  private static int cheapestAcceptable(double[] topWinRates, double threshold) {
    for (int i = topWinRates.length - 1; i >= 1; i--) {
      if (topWinRates[i] < threshold) {
        return i;
      }
    }
    return 0;
  }
}
