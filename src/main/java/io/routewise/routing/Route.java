package io.routewise.routing;

/**
 * Which upstream answers a request, coarsely: {@link #STRONG}, the most capable (with more than two
 * upstreams, the top of the {@link Ladder}), or {@link #WEAK}, a cheaper one. The upstream itself
 * is {@link RoutingDecision#upstream()}.
 */
public enum Route {
  STRONG,
  WEAK;

  /** Lower-case name used in headers, metric tags and JSON. */
  public String label() {
    return this == STRONG ? "strong" : "weak";
  }
}
