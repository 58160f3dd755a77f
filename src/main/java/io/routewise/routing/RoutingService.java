package io.routewise.routing;

import io.routewise.upstream.ClientProbe;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Holds the loaded routers and turns (model name, prompt) into a {@link RoutingDecision}. A router
 * that throws routes the request strong (RouteLLM's choice) and is reported to the listener.
 */
public final class RoutingService implements AutoCloseable {
  private final Map<String, Router> routers;
  private final String defaultRouter;
  private final double defaultThreshold;
  private final RoutingListener listener;
  private final ScoringPool scoring;
  private final RouteSpec defaultSpec;
  private final Ladder ladder;
  // Valid model names seen, parsed: clients send a handful of names, and parsing one per request
  // (a stream sort, a regex, parseDouble) was ~2 % of the proxy's CPU. Capped; past the cap, parse.
  private static final int MAX_CACHED_SPECS = 1024;
  private final Map<String, RouteSpec> specs = new java.util.concurrent.ConcurrentHashMap<>();

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
    this(routers, defaultRouter, defaultThreshold, listener, scoring, Ladder.twoWay("", ""));
  }

  /**
   * @param ladder the upstreams, most capable first; with two, decisions are two-way as they always
   *     were, with more they go through {@link Router#topWinRates} and {@link ThresholdRule#rung}
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, Ladder ladder) {
    if (!routers.containsKey(defaultRouter)) {
      throw new IllegalArgumentException("default router '" + defaultRouter + "' is not loaded: " + routers.keySet());
    }
    this.routers = Collections.unmodifiableMap(new LinkedHashMap<>(routers));
    this.defaultRouter = defaultRouter;
    this.defaultThreshold = defaultThreshold;
    this.listener = listener;
    this.scoring = scoring;
    this.defaultSpec = new RouteSpec(defaultRouter, defaultThreshold);
    this.ladder = ladder;
  }

  /** The upstreams decisions choose among, most capable first. */
  public Ladder ladder() {
    return ladder;
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
   * The decision without reporting it as routed traffic (a dry run such as {@code /v1/route}, so
   * probing does not skew the strong-call share). Router failures are still reported: they are real.
   */
  public RoutingDecision preview(RouteSpec spec, Prompt prompt) {
    return decide(spec, prompt, null, false);
  }

  private RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client, boolean record) {
    Router router = routers.get(spec.router());
    long start = System.nanoTime();
    double rate;
    int rung = 0;
    String failure = null;
    try {
      if (ladder.size() > 2) {
        double[] rates = checked(topWinRates(router, prompt, client));
        rate = rates[rates.length - 1];
        rung = ThresholdRule.rung(rates, spec.threshold());
      } else {
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
        rung = ThresholdRule.route(rate, spec.threshold()) == Route.STRONG ? 0 : 1;
      }
    } catch (ClientGoneException e) {
      throw e; // not the router's failure: nobody is left to route for
    } catch (RouterException e) {
      failure = e.kind();
      listener.routerFailed(spec.router(), failure, e);
      rate = 1.0;
      rung = 0;
    } catch (Exception | LinkageError e) {
      failure = "error";
      listener.routerFailed(spec.router(), failure, e);
      rate = 1.0;
      rung = 0;
    }
    Route route = rung == 0 ? Route.STRONG : Route.WEAK;
    RoutingDecision decision = new RoutingDecision(spec.router(), rate, spec.threshold(), route, failure,
        System.nanoTime() - start, ladder.rung(rung).upstream());
    if (record) {
      listener.decided(decision);
    }
    return decision;
  }

  /** The N-way scores: on the request thread when cheap (or no pool), else on a scoring thread. */
  private double[] topWinRates(Router router, Prompt prompt, ClientProbe client) throws Exception {
    if (scoring != null && router.cpuBound() && Double.isNaN(router.cachedWinRate(prompt))) {
      return scoring.score(router, prompt, ladder, client);
    }
    return router.topWinRates(prompt, ladder);
  }

  /** One rate per rung, each in [0, 1] (entry 0, the top's own, is not looked at). */
  private double[] checked(double[] rates) throws RouterException {
    if (rates == null || rates.length != ladder.size()) {
      throw new RouterException("out_of_range", "expected " + ladder.size() + " win rates, one per upstream, got "
          + (rates == null ? "none" : rates.length));
    }
    for (int i = 1; i < rates.length; i++) {
      if (!(rates[i] >= 0.0 && rates[i] <= 1.0)) {
        throw new RouterException("out_of_range", "win rate " + rates[i] + " over upstream '"
            + ladder.rung(i).upstream() + "' outside [0, 1]");
      }
    }
    return rates;
  }

  @Override
  public void close() {
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
