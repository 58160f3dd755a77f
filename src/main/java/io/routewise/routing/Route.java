package io.routewise.routing;

/** Which upstream answers a request. */
public enum Route {
  STRONG,
  WEAK;

  /** Lower-case name used in headers, metric tags and JSON. */
  public String label() {
    return this == STRONG ? "strong" : "weak";
  }
}
