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
 */
public record RoutingDecision(
    String router, double strongWinRate, double threshold, Route route, String failureKind, long nanos) {

  public boolean fellBack() {
    return failureKind != null;
  }
}
