package io.routewise.routing;

/**
 * The one place where a win rate and a threshold become a route: strong when {@code rate >= alpha},
 * so alpha = 0 always routes strong and alpha = 1 routes strong only on a certain win.
 */
public final class ThresholdRule {
  private ThresholdRule() {}

  public static Route route(double strongWinRate, double threshold) {
    return strongWinRate >= threshold ? Route.STRONG : Route.WEAK;
  }
}
