package io.routewise.routing;

/**
 * The client left while its request waited for its routing decision: a decision still queued was
 * withdrawn and is never scored; one already being scored finishes on its thread for nobody. Either
 * way nothing is routed or sent upstream (the server counts nginx's 499). Not a router failure,
 * which would route strong and call an upstream for nobody.
 */
public final class ClientGoneException extends RuntimeException {
  public ClientGoneException() {
    super("The client closed the connection while its request waited to be routed.", null, false, false);
  }
}
