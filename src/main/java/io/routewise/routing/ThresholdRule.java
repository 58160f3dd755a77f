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
 * with two rungs it is exactly the two-way rule.
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
    for (int i = topWinRates.length - 1; i >= 1; i--) {
      if (topWinRates[i] < threshold) {
        return i;
      }
    }
    return 0;
  }
}
