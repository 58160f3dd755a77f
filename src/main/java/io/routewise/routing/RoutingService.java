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
  private final Ladder ladder;
  private final Map<String, LadderRule> rules; // per router: how the ladder's win rates become a rung
  // Valid model names seen, parsed: clients send a handful of names, and parsing one per request
  // (a stream sort, a regex, parseDouble) was ~2 % of the proxy's CPU. Capped; at the cap, emptied:
  // a client sending a thousand made-up names once kept every later new name from being kept.
  private static final int MAX_CACHED_SPECS = 1024;
  /** Longer names are parsed each time: a thousand names of megabytes each held the heap. */
  private static final int MAX_CACHED_NAME = 256;
  private final Map<String, RouteSpec> specs = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, TargetController> targets;
  private final SessionPins pins;
  private final boolean directUpstreams;

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
   *     were, with more they go through {@link Router#topWinRates} and the threshold rule
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, Ladder ladder) {
    this(routers, defaultRouter, defaultThreshold, listener, scoring, LadderRule.threshold(ladder), Map.of(), null);
  }

  /** As the constructor below, with one ladder rule for every router. */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, LadderRule rule, Map<String, TargetController> targets,
      SessionPins pins) {
    this(routers, defaultRouter, defaultThreshold, listener, scoring, sameRule(routers, rule), targets, pins);
  }

  private static Map<String, LadderRule> sameRule(Map<String, Router> routers, LadderRule rule) {
    Map<String, LadderRule> rules = new LinkedHashMap<>();
    routers.keySet().forEach(name -> rules.put(name, rule));
    return rules;
  }

  /**
   * @param rules each router's ladder rule ({@link LadderRule#forRouter}), all on one ladder
   * @param targets the controllers of the routers that have a target, by router name
   * @param pins session pins, or null when {@code routing.session_pinning} is off. Owned: closed with
   *     this service.
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, Map<String, LadderRule> rules,
      Map<String, TargetController> targets, SessionPins pins) {
    this(routers, defaultRouter, defaultThreshold, listener, scoring, rules, targets, pins, false);
  }

  /**
   * @param directUpstreams whether a model name {@code upstream-<name>} goes to that upstream without
   *     asking a router ({@code routing.direct_upstreams}); when not, it is a name like any other
   */
  public RoutingService(Map<String, Router> routers, String defaultRouter, double defaultThreshold,
      RoutingListener listener, ScoringPool scoring, Map<String, LadderRule> rules,
      Map<String, TargetController> targets, SessionPins pins, boolean directUpstreams) {
    this.directUpstreams = directUpstreams;
    if (!routers.containsKey(defaultRouter)) {
      throw new IllegalArgumentException("default router '" + defaultRouter + "' is not loaded: " + routers.keySet());
    }
    this.routers = Collections.unmodifiableMap(new LinkedHashMap<>(routers));
    this.defaultRouter = defaultRouter;
    this.defaultThreshold = defaultThreshold;
    this.listener = listener;
    this.scoring = scoring;
    this.defaultSpec = new RouteSpec(defaultRouter, defaultThreshold);
    if (!rules.keySet().containsAll(routers.keySet())) {
      throw new IllegalArgumentException("no ladder rule for some of " + routers.keySet() + ": " + rules.keySet());
    }
    this.rules = Map.copyOf(rules);
    this.ladder = this.rules.get(defaultRouter).ladder();
    if (this.rules.values().stream().anyMatch(r -> r.ladder() != ladder)) {
      throw new IllegalArgumentException("every router's ladder rule must be on one ladder");
    }
    this.targets = Map.copyOf(targets);
    this.pins = pins;
  }

  /** The upstreams decisions choose among, most capable first. */
  public Ladder ladder() {
    return ladder;
  }

  /** The rule {@code router} decides the ladder by. */
  public LadderRule ladderRule(String router) {
    return rules.get(router);
  }

  /** The target controllers, by router name (empty when no router has a target). */
  public Map<String, TargetController> targets() {
    return targets;
  }

  /** Whether {@code upstream-<name>} model names go straight to that upstream. */
  public boolean directUpstreams() {
    return directUpstreams;
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
   * @throws RouteSpec.InvalidRouteSpecException for a {@code router-...} name that does not parse,
   *     or that asks for {@code auto} on a router without a target; with direct upstreams on, for an
   *     {@code upstream-...} name that names none
   */
  public RouteSpec specFor(String model) {
    RouteSpec spec = model == null ? null : specs.get(model);
    if (spec == null) {
      java.util.Optional<RouteSpec> direct = directUpstreams
          ? RouteSpec.parseDirect(model, ladder.rungs().stream().map(Ladder.Rung::upstream).toList())
          : java.util.Optional.empty();
      spec = direct.isPresent() ? direct.get() : RouteSpec.parse(model, routers.keySet()).orElse(defaultSpec);
      if (spec.auto() && !targets.containsKey(spec.router())) {
        throw new RouteSpec.InvalidRouteSpecException("Router '" + spec.router() + "' in model '" + RouteSpec.shown(model)
            + "' has no target, so it has no auto threshold: give it one under routers." + spec.router()
            + ".target, or ask for a threshold (router-" + spec.router() + "-0.5)."
            + (targets.isEmpty() ? "" : " Routers with a target: " + String.join(", ", new java.util.TreeSet<>(targets.keySet())) + "."));
      }
      if (model != null && model.length() <= MAX_CACHED_NAME) {
        if (specs.size() >= MAX_CACHED_SPECS) {
          specs.clear(); // the names in use come back with their next requests
        }
        specs.put(model, spec);
      }
    }
    return spec;
  }

  /** How many model names {@link #specFor} keeps parsed. */
  int cachedSpecs() {
    return specs.size();
  }

  /** Whether {@link #specFor} keeps {@code model} parsed. */
  boolean keepsParsed(String model) {
    return specs.containsKey(model);
  }

  /** Decides a request's route and reports it to the listener (metrics). */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt) {
    return decide(spec, prompt, null, (String) null);
  }

  /**
   * As {@link #decide(RouteSpec, Prompt)}, for a request whose client can be watched: a decision
   * still waiting for a scoring thread when the client leaves is withdrawn.
   *
   * @throws ClientGoneException when that happened; nothing was decided or reported
   */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client) {
    return decide(spec, prompt, client, (String) null);
  }

  /**
   * As {@link #decide(RouteSpec, Prompt, ClientProbe)}, for a request that names its session
   * ({@code null}: none): with session pinning on, a session that has a pin takes its upstream
   * without asking the router, and a session's first turn pins the upstream it gets. A decision that
   * fell back to strong because the router failed pins nothing.
   */
  public RoutingDecision decide(RouteSpec spec, Prompt prompt, ClientProbe client, String session) {
    if (spec.isDirect()) {
      return direct(spec); // no router, no pin read or set, not routed traffic of any router
    }
    if (pins == null || session == null) {
      Scored s = score(spec, prompt, client);
      report(spec, s);
      return s.decision();
    }
    long start = System.nanoTime();
    String pin = pins.pinned(session);
    int pinned = pin == null ? -1 : ladder.indexOf(pin);
    for (int i = 0; i < 4 && pin != null && pinned < 0; i++) {
      // Pinned to an upstream no longer configured (renamed or removed; the pin kept by another replica
      // or the store): that pin would hold the store's set-if-absent for the rest of its life, leaving
      // the session unpinned. It is pinned afresh under a key of its own, the same on every replica.
      session = session + "\u0000after:" + pin;
      pin = pins.pinned(session);
      pinned = pin == null ? -1 : ladder.indexOf(pin);
    }
    if (pinned >= 0) {
      int taking = ladder.accepting(pinned, prompt.media()); // a turn with an image, pinned to a text-only upstream
      TargetController target = spec.auto() ? targets.get(spec.router()) : null;
      RoutingDecision d = new RoutingDecision(spec.router(), Double.NaN,
          target != null ? target.alpha() : spec.threshold(), taking == 0 ? Route.STRONG : Route.WEAK, null,
          System.nanoTime() - start, ladder.rung(taking).upstream(), true,
          taking == pinned ? null : ladder.rung(pinned).upstream());
      report(spec, new Scored(d, Double.NaN));
      return d;
    }
    Scored s = score(spec, prompt, client);
    RoutingDecision d = s.decision();
    if (!d.fellBack()) {
      int pinnedThere = ladder.indexOf(pins.pin(session, d.upstream()));
      int held = pinnedThere < 0 ? pinnedThere : ladder.accepting(pinnedThere, prompt.media()); // another replica's pin, as this one's
      if (held >= 0 && !ladder.rung(held).upstream().equals(d.upstream())) {
        // Another first turn of this session (another replica's, or one here at once) pinned it a moment
        // earlier: go where it went. The pin decided, not this turn's score (no win rate beside
        // x-routewise-pinned, as on a later turn).
        d = new RoutingDecision(d.router(), Double.NaN, d.threshold(), held == 0 ? Route.STRONG : Route.WEAK,
            null, d.nanos(), ladder.rung(held).upstream(), true,
            held == pinnedThere ? null : ladder.rung(pinnedThere).upstream());
        s = new Scored(d, Double.NaN);
      }
    }
    report(spec, s);
    return d;
  }

  /** Keys a stored response's upstream apart from the sessions' pins in the same store. */
  private static final String RESPONSE_PIN = "response\u0000";

  /**
   * Records, with session pinning on, that {@code upstream} answered (and holds) the stored response
   * {@code id}, as a pin of its own: shared through the state store, so another replica sends a
   * request that continues it there. A no-op without session pinning, or without a store that shares
   * pins: this replica's own record ({@code StoredResponses}) is all a pin kept here would repeat, and
   * it would take a session's place in the pin cache.
   */
  public void responseStored(String id, String upstream) {
    if (sharesPins()) {
      pins.pin(RESPONSE_PIN + id, upstream);
    }
  }

  /**
   * Where background responses' awaited usage is shared, so that another replica relaying the poll
   * that shows one done counts it: with shared pins (those polls reach the right upstream only then),
   * else null.
   */
  public SharedUsage sharedUsage() {
    return sharesPins() ? pins.sharedUsage() : null;
  }

  /** Whether pins are shared through a store now (session pinning with a Redis that holds them). */
  public boolean sharesPins() {
    return pins != null && pins.shared();
  }

  /** The upstream a stored response's pin names ({@link #responseStored}), or null: none, or no session pinning. */
  public String storedResponseAt(String id) {
    String at = sharesPins() ? pins.pinned(RESPONSE_PIN + id) : null;
    return at != null && ladder.indexOf(at) >= 0 ? at : null; // not an upstream no longer configured
  }

  /**
   * The decision for a request that only {@code upstream} can answer (it continues a response stored
   * there): that upstream, as a session's pin would choose it, and reported so (a pinned decision).
   * A request that named its upstream still gets the one it named.
   */
  public RoutingDecision held(RouteSpec spec, String upstream) {
    if (spec.isDirect()) {
      return direct(spec);
    }
    int rung = ladder.indexOf(upstream);
    if (rung < 0) {
      throw new IllegalArgumentException("no upstream " + upstream);
    }
    TargetController target = spec.auto() ? targets.get(spec.router()) : null;
    RoutingDecision d = new RoutingDecision(spec.router(), Double.NaN,
        target != null ? target.alpha() : spec.threshold(), rung == 0 ? Route.STRONG : Route.WEAK, null, 0,
        upstream, true);
    report(spec, new Scored(d, Double.NaN));
    return d;
  }

  /**
   * The decision without reporting it as routed traffic (a dry run such as {@code /v1/route}, so
   * probing does not skew the strong-call share). Router failures are still reported: they are real.
   */
  public Preview preview(RouteSpec spec, Prompt prompt) {
    return preview(spec, prompt, null);
  }

  /**
   * As {@link #preview(RouteSpec, Prompt)}, withdrawn as a chat decision is when its client leaves
   * while it waits for a scoring thread.
   *
   * @throws ClientGoneException when that happened
   */
  public Preview preview(RouteSpec spec, Prompt prompt, ClientProbe client) {
    if (spec.isDirect()) {
      return new Preview(direct(spec), null);
    }
    Scored s = score(spec, prompt, client);
    return new Preview(s.decision(), s.rates());
  }

  private RoutingDecision direct(RouteSpec spec) {
    int rung = ladder.indexOf(spec.upstream());
    return RoutingDecision.direct(spec.upstream(), rung == 0 ? Route.STRONG : Route.WEAK);
  }

  /**
   * A dry run's decision and, with more than two upstreams, the router's estimate that the top
   * beats each one ({@code topWinRates[i]} for {@link #ladder()}'s rung i; entry 0, the top, is 0),
   * what the ladder rule chose from; null with two upstreams or when the router failed.
   */
  public record Preview(RoutingDecision decision, double[] topWinRates) {}

  /**
   * What an answer to a request routed with {@code spec}, served by the priced upstream {@code served},
   * cost (its usage at the upstream's price, cached prompt tokens at theirs: priced where the price is
   * configured): counted as spend of the router's target when the spec was {@code auto}.
   */
  public void answered(RouteSpec spec, String served, double usd) {
    TargetController target = spec != null && spec.auto() ? targets.get(spec.router()) : null;
    int rung = target == null ? -1 : ladder.indexOf(served);
    if (rung >= 0 && ladder.rung(rung).priced() && Double.isFinite(usd)) {
      target.answered(rung == 0 ? Route.STRONG : Route.WEAK, usd);
    }
  }

  /**
   * A decision, and the win rate that the threshold decided the top (strong) upstream with: the
   * rate itself with two upstreams, the lowest of the ladder rule's values over the others with more
   * (the top is chosen exactly when that one is {@code >= α}; the price-weighted rule's is 0 when an
   * upstream at the top's price is predicted better, the top then chosen only at α = 0); NaN when no rate
   * decided (failure, pin).
   */
  private record Scored(RoutingDecision decision, double topRate, double[] rates) {
    Scored(RoutingDecision decision, double topRate) {
      this(decision, topRate, null);
    }
  }

  private Scored score(RouteSpec spec, Prompt prompt, ClientProbe client) {
    Router router = routers.get(spec.router());
    TargetController target = spec.auto() ? targets.get(spec.router()) : null;
    double threshold = target != null ? target.alpha() : spec.threshold();
    long start = System.nanoTime();
    double rate;
    double topRate;
    double[] rates = null;
    double[] acceptance = null;
    int rung = 0;
    String failure = null;
    try {
      if (!prompt.hasText()) {
        // An image, audio or system-only request: a router would read "" as a sure win for the
        // cheapest upstream, often one that cannot take it. Nothing to score: strong, as on failure.
        throw Prompt.noText();
      }
      if (ladder.size() > 2) {
        rates = checked(topWinRates(router, prompt, client));
        rate = rates[rates.length - 1];
        acceptance = rules.get(spec.router()).acceptance(rates);
        topRate = 1.0;
        for (int i = 1; i < acceptance.length; i++) {
          topRate = Math.min(topRate, acceptance[i]);
        }
        rung = ThresholdRule.rung(acceptance, threshold);
      } else {
        if (scoring != null && router.cpuBound()) {
          rate = router.cachedWinRate(prompt);
          if (Double.isNaN(rate)) {
            rate = scoring.score(router, prompt, client);
          }
        } else {
          rate = router.strongWinRate(prompt);
        }
        topRate = checked(rate);
        rung = ThresholdRule.route(rate, threshold) == Route.STRONG ? 0 : 1;
      }
    } catch (ClientGoneException e) {
      throw e; // not the router's failure: nobody is left to route for
    } catch (RouterException e) {
      failure = e.kind();
      listener.routerFailed(spec.router(), failure, e);
      rates = null;
      rate = 1.0;
      // A failure, like nothing to score, goes to the top at any α: a target counts it so, or the share overshoots.
      topRate = topRateWith(1.0, null, prompt.media());
      rung = 0;
    } catch (Exception | LinkageError e) {
      failure = "error";
      listener.routerFailed(spec.router(), failure, e);
      rates = null;
      rate = 1.0;
      topRate = topRateWith(1.0, null, prompt.media());
      rung = 0;
    }
    // The rule's choice may not take the request's images or audio.
    int chosen = rung;
    rung = ladder.accepting(rung, prompt.media());
    if (failure == null) {
      topRate = topRateWith(topRate, acceptance, prompt.media());
    }
    Route route = rung == 0 ? Route.STRONG : Route.WEAK;
    RoutingDecision decision = new RoutingDecision(spec.router(), rate, threshold, route, failure,
        System.nanoTime() - start, ladder.rung(rung).upstream(), false, rung == chosen ? null : ladder.rung(chosen).upstream());
    return new Scored(decision, topRate, rates);
  }

  /**
   * The rate at or below which the top gets a request with {@code media}, as a target's sketch needs
   * it: a request that only the top can take goes there at any α, and sketched at its own rate it
   * would read as one α could send elsewhere (a 20 % image share with a text-only weak and a 30 %
   * target sent 44 % strong). The top is chosen exactly when the rule's rung is one that moves up to
   * it, so α must not exceed any rule value of the rungs that keep a rung of their own.
   *
   * @param acceptance the rule's value per rung (more than two upstreams), or null ({@code topRate}
   *     is the two-way rate)
   */
  private double topRateWith(double topRate, double[] acceptance, java.util.Set<Media> media) {
    if (media.isEmpty()) {
      return topRate;
    }
    if (ladder.accepting(0, media) != 0) {
      return 0.0; // a top that cannot take them never gets them
    }
    double least = 1.0;
    for (int i = 1; i < ladder.size(); i++) {
      if (ladder.accepting(i, media) != 0) {
        least = Math.min(least, acceptance == null ? topRate : acceptance[i]);
      }
    }
    return least;
  }

  /**
   * Counts a decision that went to an upstream: in the metrics, and in its router's target window
   * (a pin says nothing about the win rates: counted, not sketched; a request the router failed on
   * or had nothing to score is sketched as the top's at any α).
   */
  private void report(RouteSpec spec, Scored s) {
    if (spec.auto()) {
      TargetController target = targets.get(spec.router());
      if (target != null) {
        target.decided(s.topRate(), s.decision().route());
      }
    }
    listener.decided(s.decision());
  }

  /** The N-way scores: on the request thread when cheap (or no pool), else on a scoring thread. */
  private double[] topWinRates(Router router, Prompt prompt, ClientProbe client) throws Exception {
    if (scoring != null && router.cpuBound()) {
      double[] cached = router.cachedTopWinRates(prompt, ladder);
      return cached != null ? cached : scoring.score(router, prompt, ladder, client);
    }
    return router.topWinRates(prompt, ladder);
  }

  private double[] checked(double[] rates) throws RouterException {
    return checked(rates, ladder);
  }

  /** A router's strong win rate as serve takes it: in [0, 1], else the router failed ({@code out_of_range}). */
  public static double checked(double rate) throws RouterException {
    if (!(rate >= 0.0 && rate <= 1.0)) {
      throw new RouterException("out_of_range", "win rate " + rate + " outside [0, 1]");
    }
    return rate;
  }

  /**
   * A router's rates for {@code ladder} as serve takes them: one per rung, each in [0, 1] (entry 0,
   * the top's own, is not looked at); else the router failed ({@code out_of_range}).
   */
  public static double[] checked(double[] rates, Ladder ladder) throws RouterException {
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

  /**
   * Whether {@link #close} closed the routers: false when a scoring thread was still busy, and then
   * nothing they score with (the shared ONNX sessions) may be closed either.
   */
  public boolean routersClosed() {
    return routersClosed;
  }

  private volatile boolean routersClosed;

  /**
   * {@link Router#cancelCalls} on every router, and the scoring threads' waiters released: the
   * shutdown's grace ran out with decisions still waiting.
   */
  public void cancelCalls() {
    if (scoring != null) {
      scoring.cancelWaiting();
    }
    for (Router r : routers.values()) {
      r.cancelCalls();
    }
  }

  @Override
  public void close() {
    close(5_000);
  }

  /** {@link #close}, waiting at most {@code scoringWaitMillis} (twice: queued, then cancelled) for the scoring threads. */
  void close(long scoringWaitMillis) {
    if (pins != null) {
      pins.close();
    }
    if (scoring != null && !scoring.close(scoringWaitMillis)) {
      // A scoring thread is still inside a router's native code: closing its ONNX session under
      // it would be a use-after-free. The process is stopping; leave the routers to it.
      org.slf4j.LoggerFactory.getLogger(RoutingService.class)
          .warn("scoring threads still busy after shutdown; routers and embedding models left open");
      return;
    }
    routersClosed = true;
    for (Router r : routers.values()) {
      try {
        r.close();
      } catch (Exception ignored) {
        // shutting down; nothing useful to do
      }
    }
  }
}
