package io.routewise.routing;

/**
 * The outcome of routing one request.
 *
 * @param router the router's name, e.g. {@code mf}
 * @param strongWinRate the router's score, or 1.0 when the router failed
 * @param threshold the alpha the score was compared with
 * @param route where the request goes
 * @param failureKind null when the router scored; else why it fell back to strong
 * @param nanos time spent deciding
 * @param pinned whether the session's pin chose the route (its first turn's route) rather than
 *     {@code strongWinRate >= threshold}; the win rate is NaN when the router was not asked
 */
public record RoutingDecision(
    String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos,
    boolean pinned) {

  public RoutingDecision(String router, double strongWinRate, double threshold, Route route, String failureKind,
      long nanos) {
    this(router, strongWinRate, threshold, route, failureKind, nanos, false);
  }

  public boolean fellBack() {
    return failureKind != null;
  }
}
