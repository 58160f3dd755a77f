package io.routewise.routing;

/**
 * Estimates, for one prompt, the probability that the strong model answers better than the weak one.
 *
 * <p>This is the one plug-in point for routing: a router only scores; the threshold rule
 * ({@link ThresholdRule}) decides. A test can write {@code Router r = prompt -> 0.7}.
 *
 * <p>With more than two upstreams the rule asks {@link #topWinRates} instead: the probability that
 * the most capable upstream beats each of the others. Its default derives that from
 * {@link #strongWinRate}, so every router routes N-way; routers that score models one by one
 * (matrix factorization, Bradley-Terry) override it with their own per-model estimates.
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
   * For each rung of {@code ladder} (most capable first), the probability in [0, 1] that the top
   * upstream answers {@code prompt} better than that rung's upstream; entry 0, the top against
   * itself, is ignored (0 by convention). Asked only when there are more than two upstreams; with
   * two, {@link #strongWinRate} decides, as it always has. Routers that place upstreams on their
   * own trained models match rungs by {@link Ladder.Rung#upstream() name}.
   *
   * <p>The default spreads the strong win rate over the ladder ({@link Ladder#fromStrongWinRate}):
   * the cheapest rung gets the win rate itself, nearer rungs are beaten less often. That gives
   * {@code random}, {@code length} and every other scalar router an N-way meaning.
   */
  default double[] topWinRates(Prompt prompt, Ladder ladder) throws Exception {
    return ladder.fromStrongWinRate(strongWinRate(prompt));
  }

  /**
   * True for routers whose {@link #topWinRates} estimates each upstream on its own (mf and
   * sw_ranking, from their per-model scores), false for those that spread one score over the ladder
   * (the default). The default ladder rule ({@code routing.ladder_rule: auto}, {@link LadderRule#forRouter})
   * weighs prices against the first kind's per-upstream estimates; the second kind cannot say how two
   * upstreams differ, so price has nothing to weigh against and the threshold rule decides.
   */
  default boolean scoresEachUpstream() {
    return false;
  }

  /**
   * True for routers whose scoring is CPU work of a millisecond or more (ONNX inference, similarity
   * sweeps): the server runs them on its {@link ScoringPool} so they do not hold the carrier threads
   * that every request's I/O shares. Routers that wait on I/O, or do microseconds of work (a static
   * embedding and a dot product), stay false; with no CPU-bound router loaded, the server has no pool.
   */
  default boolean cpuBound() {
    return false;
  }

  /**
   * For a {@link #cpuBound()} router: the win rate when this prompt costs microseconds after all
   * (its embedding is already cached), else NaN. Asked on the request thread first, so a cached
   * prompt neither waits behind the scoring backlog nor is turned away as overloaded. A router that
   * answers here for a prompt must also answer {@link #topWinRates} for it in microseconds: with
   * more than two upstreams, that is what the request thread then asks.
   */
  default double cachedWinRate(Prompt prompt) {
    return Double.NaN;
  }

  /**
   * With more than two upstreams, what {@link #cachedWinRate} is with two: {@link #topWinRates} when
   * this prompt costs microseconds (its embedding is cached), else null. The default asks {@link
   * #cachedWinRate} and then {@link #topWinRates}; a router over a cache overrides it to look the
   * prompt up once (each look counts in the cache's hits).
   */
  default double[] cachedTopWinRates(Prompt prompt, Ladder ladder) throws Exception {
    return Double.isNaN(cachedWinRate(prompt)) ? null : topWinRates(prompt, ladder);
  }

  /**
   * A shutdown past its grace: the calls this router's decisions wait on (a judge's) are cancelled,
   * and any it would start from now on, so those decisions end now (and their requests as the
   * shutdown's 503) rather than when the calls time out, after the server has stopped. The default
   * has none.
   */
  default void cancelCalls() {}

  @Override
  default void close() {}
}
