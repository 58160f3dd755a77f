package io.routewise.routing;

import io.routewise.upstream.ClientProbe;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Holds the loaded routers and turns (model name, prompt) into a {@link RoutingDecision}. A router
 * that throws routes the request strong (RouteLLM's choice) and is reported to the listener.
 *
 * <p>A {@code router-<name>-auto} spec takes its threshold from the router's {@link TargetController}
 * and reports each decision and answer back to it. With {@link SessionPins}, a request that names
 * its session follows the session's first turn.
 */
public final class RoutingService implements AutoCloseable {
  private final Map<String, Router> routers;
  private final String defaultRouter;
  private final double defaultThreshold;
  private final RoutingListener listener;
  private final ScoringPool scoring;
  private final RouteSpec defaultSpec;
  // Valid model names seen, parsed: clients send a handful of names, and parsing one per request
  // (a stream sort, a regex, parseDouble) was ~2 % of the proxy's CPU. Capped; past the cap, parse.
  private static final int MAX_CACHED_SPECS = 1024;
  private final Map<String, RouteSpec> specs = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, TargetController> targets;
  private final SessionPins pins;

  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener) {
    this(routers, defaultRouter, defaultThreshold, listener, null);
  }

  /**
   * @param scoring where {@link Router#cpuBound() CPU-bound} routers score; null scores every router
   *     on the calling thread. Owned: closed with this service.
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring) {
    this(routers, defaultRouter, defaultThreshold, listener, scoring, Map.of(), null);
  }

  /**
   * @param targets the controllers of the routers that have a target, by router name
   * @param pins session pins, or null when {@code routing.session_pinning} is off. Owned: closed with
   *     this service.
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, Map<String, TargetController> targets, SessionPins pins) {
    if (!routers.containsKey(defaultRouter)) {
      throw new IllegalArgumentException("default router '" + defaultRouter + "' is not loaded: " + routers.keySet());
    }
    this.routers = Collections.unmodifiableMap(new LinkedHashMap<>(routers));
    this.defaultRouter = defaultRouter;
    this.defaultThreshold = defaultThreshold;
    this.listener = listener;
    this.scoring = scoring;
    this.defaultSpec = new RouteSpec(defaultRouter, defaultThreshold);
    this.targets = Map.copyOf(targets);
    this.pins = pins;
  }

  /** The target controllers, by router name (empty when no router has a target). */
  public Map<String, TargetController> targets() {
    return targets;
  }

  /** Names of the loaded routers, in catalog order. */
  public Set<String> routerNames() {
    return routers.keySet();
  }

  public Router router(String name) {
    return routers.get(name);
  }

  public String defaultRouter() {
    return defaultRouter;
  }

  public double defaultThreshold() {
    return defaultThreshold;
  }

  /**
   * The router and threshold a model name selects: its route spec, or the configured default.
   *
   * @throws RouteSpec.InvalidRouteSpecException for a {@code router-...} name that does not parse
   */
  public RouteSpec specFor(String model) {
    RouteSpec spec = model == null ? null : specs.get(model);
    if (spec == null) {
      spec = RouteSpec.parse(model, routers.keySet()).orElse(defaultSpec);
      if (spec.auto() && !targets.containsKey(spec.router())) {
        throw new RouteSpec.InvalidRouteSpecException("Router '" + spec.router() + "' in model '" + model
            + "' has no target, so it has no auto threshold: give it one under routers." + spec.router()
            + ".target, or ask for a threshold (router-" + spec.router() + "-0.5)."
            + (targets.isEmpty() ? "" : " Routers with a target: " + String.join(", ", new java.util.TreeSet<>(targets.keySet())) + "."));
      }
      if (model != null && specs.size() < MAX_CACHED_SPECS) {
        specs.put(model, spec);
      }
    }
    return spec;
  }

  /** Decides a request's route and reports it to the listener (metrics). */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt) {
    return decide(spec, prompt, null, true);
  }

  /**
   * As {@link #decide(RouteSpec, Prompt)}, for a request whose client can be watched: a decision
   * still waiting for a scoring thread when the client leaves is withdrawn.
   *
   * @throws ClientGoneException when that happened; nothing was decided or reported
   */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client) {
    return decide(spec, prompt, client, true);
  }

  /**
   * As {@link #decide(RouteSpec, Prompt, ClientProbe)}, for a request that names its session
   * ({@code null}: none): with session pinning on, a session that has a pin takes its route without
   * asking the router, and a session's first turn pins the route it gets. A decision that fell back
   * to strong because the router failed pins nothing.
   */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client, String session) {
    if (pins == null || session == null) {
      return decide(spec, prompt, client, true);
    }
    long start = System.nanoTime();
    Route pinned = pins.pinned(session);
    if (pinned != null) {
      TargetController target = spec.auto() ? targets.get(spec.router()) : null;
      RoutingDecision d = new RoutingDecision(spec.router(), Double.NaN,
          target != null ? target.alpha() : spec.threshold(), pinned, null, System.nanoTime() - start, true);
      report(spec, d);
      return d;
    }
    RoutingDecision d = decide(spec, prompt, client, false);
    if (!d.fellBack()) {
      Route held = pins.pin(session, d.route());
      if (held != d.route()) { // another replica pinned this session's first turn a moment earlier
        d = new RoutingDecision(d.router(), d.strongWinRate(), d.threshold(), held, null, d.nanos(), true);
      }
    }
    report(spec, d);
    return d;
  }

  /**
   * The usage of an answer to a request routed with {@code spec}, served by {@code served}: counted
   * as spend of the router's target when the spec was {@code auto}.
   */
  public void answered(RouteSpec spec, Route served, long promptTokens, long completionTokens) {
    if (spec != null && spec.auto()) {
      TargetController target = targets.get(spec.router());
      if (target != null) {
        target.answered(served, promptTokens, completionTokens);
      }
    }
  }

  /**
   * The decision without reporting it as routed traffic (a dry run such as {@code /v1/route}, so
   * probing does not skew the strong-call share). Router failures are still reported: they are real.
   */
  public RoutingDecision preview(RouteSpec spec, Prompt prompt) {
    return decide(spec, prompt, null, false);
  }

  private RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client, boolean record) {
    Router router = routers.get(spec.router());
    TargetController target = spec.auto() ? targets.get(spec.router()) : null;
    double threshold = target != null ? target.alpha() : spec.threshold();
    long start = System.nanoTime();
    double rate;
    String failure = null;
    try {
      if (scoring != null && router.cpuBound()) {
        rate = router.cachedWinRate(prompt);
        if (Double.isNaN(rate)) {
          rate = scoring.score(router, prompt, client);
        }
      } else {
        rate = router.strongWinRate(prompt);
      }
      if (!(rate >= 0.0 && rate <= 1.0)) {
        throw new RouterException("out_of_range", "win rate " + rate + " outside [0, 1]");
      }
    } catch (ClientGoneException e) {
      throw e; // not the router's failure: nobody is left to route for
    } catch (RouterException e) {
      failure = e.kind();
      listener.routerFailed(spec.router(), failure, e);
      rate = 1.0;
    } catch (Exception | LinkageError e) {
      failure = "error";
      listener.routerFailed(spec.router(), failure, e);
      rate = 1.0;
    }
    Route route = failure != null ? Route.STRONG : ThresholdRule.route(rate, threshold);
    RoutingDecision decision =
        new RoutingDecision(spec.router(), rate, threshold, route, failure, System.nanoTime() - start);
    if (record) {
      report(spec, decision);
    }
    return decision;
  }

  /** Counts a decision that went to an upstream: in the metrics, and in its router's target window. */
  private void report(RouteSpec spec, RoutingDecision d) {
    if (spec.auto()) {
      TargetController target = targets.get(spec.router());
      if (target != null) {
        // A failed router's 1.0 and a pin's route say nothing about the win rates: counted, not sketched.
        target.decided(d.fellBack() || d.pinned() ? Double.NaN : d.strongWinRate(), d.route());
      }
    }
    listener.decided(d);
  }

  @Override
  public void close() {
    if (pins != null) {
      pins.close();
    }
    if (scoring != null && !scoring.close(5_000)) {
      // A scoring thread is still inside a router's native code: closing its ONNX session under
      // it would be a use-after-free. The process is stopping; leave the routers to it.
      org.slf4j.LoggerFactory.getLogger(RoutingService.class)
          .warn("scoring threads still busy after shutdown; routers left open");
      return;
    }
    for (Router r : routers.values()) {
      try {
        r.close();
      } catch (Exception ignored) {
        // shutting down; nothing useful to do
      }
    }
  }
}
