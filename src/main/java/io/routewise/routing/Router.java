package io.routewise.routing;

/**
 * Estimates, for one prompt, the probability that the strong model answers better than the weak one.
 *
 * <p>This is the one plug-in point for routing: a router only scores; the threshold rule
 * ({@link ThresholdRule}) decides. A test can write {@code Router r = prompt -> 0.7}.
 *
 * <p>Implementations must be safe for concurrent use: the server calls them from many virtual
 * threads at once. They may throw (a {@link RouterException} names the kind of failure); the caller
 * then routes to the strong model and counts the failure, so a router never fails a user's request.
 * Routers that hold native resources (ONNX sessions) release them in {@link #close()}.
 */
@FunctionalInterface
public interface Router extends AutoCloseable {

  /** Probability in [0, 1] that the strong model wins on {@code prompt}. */
  double strongWinRate(Prompt prompt) throws Exception;

  /**
   * True for routers whose scoring is CPU work of a millisecond or more (ONNX inference, similarity
   * sweeps): the server runs them on its {@link ScoringPool} so they do not hold the carrier threads
   * that every request's I/O shares. Routers that wait on I/O, or do microseconds of work, stay false.
   */
  default boolean cpuBound() {
    return false;
  }

  /**
   * For a {@link #cpuBound()} router: the win rate when this prompt costs microseconds after all
   * (its embedding is already cached), else NaN. Asked on the request thread first, so a cached
   * prompt neither waits behind the scoring backlog nor is turned away as overloaded.
   */
  default double cachedWinRate(Prompt prompt) {
    return Double.NaN;
  }

  @Override
  default void close() {}
}
