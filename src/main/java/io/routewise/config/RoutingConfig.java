package io.routewise.config;

/**
 * The router and threshold used when a request's model is not a {@code router-<name>-<alpha>} id,
 * and the threads that score for CPU-bound routers.
 *
 * @param scoringThreads platform threads for CPU-bound scoring (ONNX); 0 scores on the request thread
 * @param scoringQueue decisions that may wait for a scoring thread before one fails as overloaded
 * @param scoringTimeout the most a decision waits for a scoring thread and its scoring together
 * @param failover whether a request whose upstream is unreachable, or answers 429, 5xx, 401 or 403, is
 *     sent once to another upstream
 * @param failoverCooldown with failover, how long an upstream that failed several calls in a row is
 *     skipped (its requests go straight to their failover upstream); zero: never skipped
 * @param passthrough where other OpenAI endpoints under {@code /v1} (embeddings, responses, files...)
 *     are sent unchanged: {@code strong}, {@code weak}, or {@code none} (404, the default)
 * @param sessionPinning whether (and how) a session's turns follow its first turn's route
 * @param ladderRule with more than two upstreams, how win rates and α choose one: {@code auto} (the
 *     default: per router, {@code io.routewise.routing.LadderRule#forRouter}), {@code threshold} or
 *     {@code price_weighted}
 * @param directUpstreams whether a model name {@code upstream-<name>} goes to that upstream without a
 *     router (off by default: it lets a client bypass routing, and a budget)
 * @param passthroughEndpoints the paths below {@code /v1/} passthrough serves, each with what lies
 *     below it ({@code embeddings}, {@code files}); empty: every path
 * @param tokenMix input and output tokens of a typical request, in proportion ({@code
 *     routing.token_mix}): the price that orders the ladder is {@code input × input price + output ×
 *     output price} (default 1 and 1, input + output)
 */
public record RoutingConfig(String router, double threshold, int scoringThreads, int scoringQueue,
    java.time.Duration scoringTimeout, boolean failover, java.time.Duration failoverCooldown, String passthrough, SessionPinning sessionPinning,
    String ladderRule, boolean directUpstreams, java.util.List<String> passthroughEndpoints, double[] tokenMix) {
  public RoutingConfig {
    passthroughEndpoints = java.util.List.copyOf(passthroughEndpoints);
    tokenMix = tokenMix.clone();
  }

  public static final String AUTO_RULE = "auto";

  public static final long DEFAULT_SCORING_TIMEOUT_MS = 2_000;
  public static final long DEFAULT_FAILOVER_COOLDOWN_MS = 10_000;

  /** For the offline commands (score, eval, calibrate): one caller, so routers score inline. */
  public RoutingConfig(String router, double threshold) {
    this(router, threshold, 0, 0, java.time.Duration.ofMillis(DEFAULT_SCORING_TIMEOUT_MS), false,
        java.time.Duration.ofMillis(DEFAULT_FAILOVER_COOLDOWN_MS), "none",
        SessionPinning.OFF, AUTO_RULE, false, java.util.List.of(), new double[] {1, 1});
  }
}
