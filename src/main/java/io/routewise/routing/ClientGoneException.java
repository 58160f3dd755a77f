package io.routewise.routing;

/**
 * The client left while its request waited for a scoring thread, and the decision was withdrawn:
 * nobody is waiting for it, so it is neither scored nor routed (the server answers nginx's 499).
 * Not a router failure, which would route strong and call an upstream for nobody.
 */
public final class ClientGoneException extends RuntimeException {
  public ClientGoneException() {
    super("The client closed the connection while its request waited to be routed.", null, false, false);
  }
}
