package io.routewise.routing;

/**
 * Observes routing without routers knowing about it (metrics, logs). Called on the request's thread;
 * implementations must be fast and thread-safe.
 */
public interface RoutingListener {
  RoutingListener NONE = new RoutingListener() {};

  default void decided(RoutingDecision decision) {}

  /** A router threw; the request was routed strong. */
  default void routerFailed(String router, String kind, Throwable error) {}
}
