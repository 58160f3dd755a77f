package io.routewise.routing;

/**
 * Observes the shared state (metrics). Called on routewise's background threads and, for pin
 * lookups, on request threads; implementations must be fast and thread-safe.
 */
public interface StateListener {
  StateListener NONE = new StateListener() {};

  /** The shared store stopped answering; each replica now holds its targets on its own. */
  default void sharedStateDown(String store, Throwable cause) {}

  /** The shared store answers (again). */
  default void sharedStateUp(String store) {}

  /**
   * How a session's pin was looked up: {@code local} (this replica's cache), {@code shared} (found in
   * the store), {@code none} (no pin anywhere: a first turn), {@code timeout} (the store did not
   * answer within {@code state.pin_timeout_ms}, or the pin threads were backed up), {@code error}
   * (the store call failed), {@code skipped} (the store is known to be down).
   */
  default void pinLookup(String outcome) {}
}
