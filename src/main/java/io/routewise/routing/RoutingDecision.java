package io.routewise.routing;

/**
 * The outcome of routing one request.
 *
 * @param router the router's name, e.g. {@code mf}; {@link RouteSpec#DIRECT} when the request
 *     named its upstream
 * @param strongWinRate the router's score, or 1.0 when the router failed; with more than two
 *     upstreams, the probability that the top beats the cheapest
 * @param threshold the alpha the score was compared with; NaN for a direct request
 * @param route {@link Route#STRONG} when the request goes to the most capable upstream, else
 *     {@link Route#WEAK}
 * @param failureKind null when the router scored; else why it fell back to strong
 * @param nanos time spent deciding
 * @param upstream the name of the upstream the request goes to: {@code strong} or {@code weak}
 *     with two upstreams, the entry's name under {@code upstreams:} with more. What headers, JSON,
 *     metric tags and the access log show as the route
 * @param pinned whether the session's pin chose the upstream (its first turn's) rather than the
 *     threshold rule; the win rate is NaN when the router was not asked
 * @param movedFrom the upstream the rule (or the pin) chose when it could not take the request's
 *     images, audio or files ({@code upstreams.<name>.accepts}), so {@code upstream} is another; else null
 */
public record RoutingDecision(
    String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos,
    String upstream, boolean pinned, String movedFrom) {

  /** A decision its request's media did not move. */
  public RoutingDecision(
      String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos,
      String upstream, boolean pinned) {
    this(router, strongWinRate, threshold, route, failureKind, nanos, upstream, pinned, null);
  }

  /** A two-way decision: the upstream is the route's name. */
  public RoutingDecision(
      String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos) {
    this(router, strongWinRate, threshold, route, failureKind, nanos, route.label());
  }

  /** A decision the threshold rule made. */
  public RoutingDecision(
      String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos,
      String upstream) {
    this(router, strongWinRate, threshold, route, failureKind, nanos, upstream, false);
  }

  /** A decision no router made: the request named its upstream ({@code upstream-<name>}). */
  public static RoutingDecision direct(String upstream, Route route) {
    return new RoutingDecision(RouteSpec.DIRECT, Double.NaN, Double.NaN, route, null, 0, upstream, false);
  }

  /** Whether the request named its upstream, so no router or threshold decided. */
  public boolean isDirect() {
    return RouteSpec.DIRECT.equals(router);
  }

  public boolean fellBack() {
    return failureKind != null;
  }
}
