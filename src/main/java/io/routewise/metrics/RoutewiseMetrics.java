package io.routewise.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter.MeterProvider;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.routewise.routing.Route;
import io.routewise.routing.RoutingDecision;
import io.routewise.routing.RoutingListener;
import io.routewise.routing.SessionPins;
import io.routewise.routing.StateListener;
import io.routewise.routing.TargetController;
import io.routewise.upstream.UpstreamListener;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * routewise's Prometheus metrics, fed through listeners so routers and the upstream client know
 * nothing of Micrometer. Tag values are bounded: router names, upstream names from the config
 * (strong|weak with two), HTTP status codes, failure kinds. Never a prompt, a threshold or a user.
 *
 * <ul>
 *   <li>{@code routewise_requests_total{router,route,status}} routed requests (chat, Responses) by outcome
 *   <li>{@code routewise_http_refused_total{status}} requests the HTTP server answered itself, before any route
 *   <li>{@code routewise_routing_decision_seconds{router}} time to score and decide (histogram)
 *   <li>{@code routewise_routed_total{router,route}} and {@code routewise_strong_share{router}}
 *   <li>{@code routewise_router_failures_total{router,kind}} router errors (routed strong)
 *   <li>{@code routewise_scoring_active}, {@code routewise_scoring_queued} the scoring threads' load
 *   <li>{@code routewise_upstream_ttfb_seconds{upstream}} time to response headers (histogram)
 *   <li>{@code routewise_upstream_duration_seconds{upstream,outcome}} whole call (histogram)
 *   <li>{@code routewise_tokens_total{upstream,type}} prompt/completion tokens from {@code usage}
 *   <li>{@code routewise_proxy_overhead_seconds{router}} time routewise adds on top of the upstream
 *   <li>{@code routewise_failovers_total{from,reason}} requests sent to another upstream
 *   <li>{@code routewise_upstream_cooling{upstream}} 1 while an upstream cools down after failures in a row
 *   <li>{@code routewise_cost_usd_total{upstream}} USD spent, from {@code usage} and the upstream's price
 *   <li>{@code routewise_cost_saved_usd_total{upstream}} / {@code routewise_cost_extra_usd_total{upstream}}
 *       what the same tokens would have cost more (less) on the most capable upstream
 *   <li>{@code routewise_answers_unmetered_total{upstream}} answers without {@code usage}, uncounted above
 *   <li>{@code routewise_client_requests_total{client}}, {@code routewise_client_tokens_total{client,type}},
 *       {@code routewise_client_cost_usd_total{client}} per named client key ({@code server.api_keys}), and
 *       {@code routewise_client_budget_usd{client}}, {@code routewise_client_budget_spent_usd{client}} for a budget
 *   <li>{@code routewise_target_*{router}} each target controller's α, target and window
 *   <li>{@code routewise_pinned_decisions_total{router,route}}, {@code routewise_session_pin_lookups_total{result}},
 *       {@code routewise_session_pins}
 *   <li>{@code routewise_state_redis_up}, {@code routewise_state_redis_outages_total} the shared state
 * </ul>
 */
public final class RoutewiseMetrics implements RoutingListener, UpstreamListener, StateListener {
  private static final Logger LOG = LoggerFactory.getLogger(RoutewiseMetrics.class);

  private final PrometheusMeterRegistry registry;
  private final MeterProvider<Counter> requests;
  private final MeterProvider<Counter> routed;
  private final MeterProvider<Counter> routerFailures;
  private final MeterProvider<Timer> decision;
  private final MeterProvider<Timer> ttfb;
  private final MeterProvider<Timer> duration;
  private final MeterProvider<Counter> tokens;
  private final MeterProvider<Timer> overhead;
  private final MeterProvider<Counter> failovers;
  private final MeterProvider<Counter> passthroughs;
  private final Map<String, Counter> refused;
  private final MeterProvider<Timer> passthroughDuration;
  private final Map<String, Timer> passthroughTimers = new ConcurrentHashMap<>();
  // Meters by tag values, looked up per request: Micrometer's withTags builds, sorts and hashes a
  // fresh tag list and id on every call (~3 % of proxy CPU under load). Bounded like the meters:
  // label values are router names, routes, upstreams, outcomes and HTTP statuses.
  private final Map<Object, Counter> requestCounters = new ConcurrentHashMap<>();
  private final Map<Object, Counter> routedCounters = new ConcurrentHashMap<>();
  private final Map<Object, Counter> tokenCounters = new ConcurrentHashMap<>();
  private final Map<String, Timer> decisionTimers = new ConcurrentHashMap<>();
  private final Map<String, Timer> ttfbTimers = new ConcurrentHashMap<>();
  private final Map<Object, Timer> durationTimers = new ConcurrentHashMap<>();
  private final Map<String, Timer> overheadTimers = new ConcurrentHashMap<>();
  private final Map<Object, Counter> failoverCounters = new ConcurrentHashMap<>();
  private final Map<Object, Counter> passthroughCounters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongAdder[]> shares = new ConcurrentHashMap<>();
  /** Per priced upstream: its price and its cost counters; set once at start, read per answer. */
  private volatile Map<String, Costs> costs = Map.of();
  /** Per upstream: answers that came without usage (streams not asked for include_usage); set once at start. */
  private volatile Map<String, Counter> unmetered = Map.of();
  /** Per named client key: its counters; set once at start, read per request (no other name is ever a tag). */
  private volatile Map<String, ClientMeters> clients = Map.of();
  private final MeterProvider<Counter> pinnedDecisions;
  private final Map<Object, Counter> pinnedCounters = new ConcurrentHashMap<>();
  private final MeterProvider<Counter> mediaMoves;
  private final Map<Object, Counter> mediaMoveCounters = new ConcurrentHashMap<>();
  private final MeterProvider<Counter> pinLookups;
  private final Map<String, Counter> pinLookupCounters = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger redisUp = new java.util.concurrent.atomic.AtomicInteger();
  private final Counter redisOutages;
  private final MeterProvider<Counter> bodiesRefused;
  private final MeterProvider<Counter> accessRefused;
  private final MeterProvider<Counter> connectionsClosed;
  private final Set<String> loggedFailureKinds = ConcurrentHashMap.newKeySet();

  public RoutewiseMetrics() {
    this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  public RoutewiseMetrics(PrometheusMeterRegistry registry) {
    this.registry = registry;
    // before any meter (Micrometer warns about a filter added later): bindJvm's process_cpu_time_ns_total has
    // a unit abbreviation promtool rejects, and process_cpu_usage says it already
    registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.deny(
        id -> id.getName().equals("process.cpu.time")));
    MeterRegistry r = registry;
    requests = Counter.builder("routewise.requests")
        .description("Routed requests (chat completions and Responses) by router, route and HTTP status").withRegistry(r);
    routed = Counter.builder("routewise.routed")
        .description("Routing decisions by router and route").withRegistry(r);
    routerFailures = Counter.builder("routewise.router.failures")
        .description("Router errors; each such request was routed to the strong model").withRegistry(r);
    // from 1 µs: length, random and mf on the static table decide in a few µs, which a first bucket
    // at 10 µs held whole (a dashboard's p50 was its interpolation, not a measurement)
    decision = histogram("routewise.routing.decision", "Time to score a prompt and decide the route",
        Duration.ofNanos(1_000), Duration.ofSeconds(5));
    ttfb = histogram("routewise.upstream.ttfb", "Time from sending the upstream request to its response headers",
        Duration.ofNanos(50_000), Duration.ofMinutes(5));
    duration = histogram("routewise.upstream.duration",
        "Whole upstream call, until the body was relayed or the call failed",
        Duration.ofNanos(50_000), Duration.ofMinutes(10));
    overhead = histogram("routewise.proxy.overhead",
        "Time routewise adds to a routed request on top of the upstream: reading and parsing it, "
            + "routing, preparing the upstream call, and relaying a non-streamed body once read",
        Duration.ofNanos(10_000), Duration.ofSeconds(5));
    failovers = Counter.builder("routewise.failovers")
        .description("Requests sent to another upstream because theirs was unreachable or answered 429, 5xx, 401 or 403, "
            + "or was cooling down after failures in a row")
        .withRegistry(r);
    Map<String, Counter> refusedByStatus = new java.util.HashMap<>();
    for (String status : List.of("400", "414", "431", "other")) { // at 0 from the start, for rate() and alerts
      refusedByStatus.put(status, Counter.builder("routewise.http.refused")
          .description("Requests the HTTP server answered itself before any route ran (400: not HTTP, 414: URI too long, "
              + "431: header block over its limit, other: what else it refused); in no other request counter")
          .tag("status", status).register(r));
    }
    refused = Map.copyOf(refusedByStatus);
    passthroughs = Counter.builder("routewise.passthrough.requests")
        .description("Requests to other /v1 endpoints passed unchanged to the routing.passthrough upstream, by status")
        .withRegistry(r);
    passthroughDuration = histogram("routewise.passthrough.duration",
        "Whole passed-through request, from its first byte to the end of the answer",
        Duration.ofNanos(100_000), Duration.ofMinutes(10));
    tokens = Counter.builder("routewise.tokens")
        .description("Tokens reported in upstream usage, by upstream and type").withRegistry(r);
    pinnedDecisions = Counter.builder("routewise.pinned.decisions")
        .description("Decisions taken from a session's pin (its first turn's route), or from where a continued response is stored, rather than the threshold")
        .withRegistry(r);
    mediaMoves = Counter.builder("routewise.media.moves")
        .description("Decisions whose choice (the rule's or a pin's) could not take the request's images, audio or"
            + " files, by router and that upstream (accepts); the request went to the nearest that could")
        .withRegistry(r);
    pinLookups = Counter.builder("routewise.session.pin.lookups")
        .description("Session pin lookups by where the answer came from: local, shared, none, timeout, error, skipped")
        .withRegistry(r);
    bodiesRefused = Counter.builder("routewise.request.bodies.refused")
        .description("Request bodies turned away: memory (503, server.max_buffered_body_bytes reached) "
            + "or slow (408, below server.min_body_bytes_per_second)").withRegistry(r);
    accessRefused = Counter.builder("routewise.access.refused")
        .description("Requests on /v1/* refused before anything ran, by error code: invalid_api_key (401), "
            + "origin_not_allowed (403, a page's origin), host_not_allowed (403, a host a keyless instance does not know)")
        .withRegistry(r);
    connectionsClosed = Counter.builder("routewise.client.connections.closed")
        .description("Client connections closed by routewise: limit (server.max_connections reached, closed as accepted) "
            + "or headers (a request's headers not sent within server.header_timeout_ms)").withRegistry(r);
    redisOutages = Counter.builder("routewise.state.redis.outages")
        .description("Times the shared state in Redis stopped answering (each replica then held its targets alone)")
        .register(r);
  }

  /** Exposes each target controller: its α, target, and what its window saw (all replicas when shared). */
  public void targets(java.util.Collection<TargetController> controllers) {
    for (TargetController c : controllers) {
      String router = c.router();
      Gauge.builder("routewise.target.alpha", c, TargetController::alpha)
          .description("The threshold router-<router>-auto uses now").tag("router", router).register(registry);
      Gauge.builder("routewise.target.strong.share", c, TargetController::wantedShare)
          .description("The strong share the target asks for (for a budget: the share that spends it at the current traffic)")
          .tag("router", router).register(registry);
      if (c.target().kind() == io.routewise.config.TargetConfig.Kind.USD_PER_HOUR) {
        Gauge.builder("routewise.target.usd.per.hour", c, x -> x.target().value())
            .description("The spend rate the target holds, USD per hour").tag("router", router).register(registry);
      }
      Gauge.builder("routewise.target.observed.strong.share", c, TargetController::observedShare)
          .description("Share of the router's target traffic routed strong in the window, all replicas when shared")
          .tag("router", router).register(registry);
      Gauge.builder("routewise.target.window.spend.usd", c, TargetController::windowSpend)
          .description("USD the router's target traffic cost in the window (usage x upstreams' price)")
          .tag("router", router).register(registry);
      Gauge.builder("routewise.target.observed.usd.per.hour", c, TargetController::observedUsdPerHour)
          .description("The window's spend as a rate, USD per hour").tag("router", router).register(registry);
      Gauge.builder("routewise.target.replicas", c, TargetController::replicas)
          .description("Replicas whose windows the last estimate merged (1: local only)").tag("router", router)
          .register(registry);
      Gauge.builder("routewise.target.out.of.reach", c, x -> x.outOfReach() ? 1 : 0)
          .description("1 while the target cannot be held within [min_alpha, max_alpha] (or a budget is below "
              + "the cheaper side's cost): alpha sits at its bound; or tied scores leave no alpha within 2 points "
              + "of the share").tag("router", router).register(registry);
    }
  }

  /** Exposes the local session pin cache's size. */
  public void sessionPins(SessionPins pins) {
    Gauge.builder("routewise.session.pins", pins, SessionPins::size)
        .description("Session pins held in this replica's cache").register(registry);
  }

  /** Exposes whether the shared state answers (present only with state.redis). */
  public void sharedState() {
    Gauge.builder("routewise.state.redis.up", redisUp, java.util.concurrent.atomic.AtomicInteger::get)
        .description("1 while the shared state in Redis answers, 0 while each replica holds its targets alone")
        .register(registry);
  }

  @Override
  public void sharedStateDown(String store, Throwable cause) {
    redisUp.set(0);
    redisOutages.increment();
  }

  @Override
  public void sharedStateUp(String store) {
    redisUp.set(1);
  }

  @Override
  public void pinLookup(String outcome) {
    pinLookupCounters.computeIfAbsent(outcome, o -> pinLookups.withTags("result", o)).increment();
  }

  /** A timer published as a Prometheus histogram, its buckets bounded to the range it measures. */
  private MeterProvider<Timer> histogram(String name, String description, Duration min, Duration max) {
    return Timer.builder(name).description(description).publishPercentileHistogram()
        .minimumExpectedValue(min).maximumExpectedValue(max).withRegistry(registry);
  }

  /** Exposes one shared embedding cache: hits, misses (each a model run) and entries, by model. */
  public void embeddingCache(String model, io.routewise.embedding.CachingEmbedder cache) {
    io.micrometer.core.instrument.FunctionCounter.builder("routewise.embedding.cache.hits", cache,
            io.routewise.embedding.CachingEmbedder::hits)
        .description("Prompt embeddings answered from the shared LRU cache").tag("model", model).register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("routewise.embedding.cache.misses", cache,
            io.routewise.embedding.CachingEmbedder::misses)
        .description("Prompt embeddings computed by the ONNX model").tag("model", model).register(registry);
    Gauge.builder("routewise.embedding.cache.entries", cache, io.routewise.embedding.CachingEmbedder::size)
        .description("Entries in the shared LRU embedding cache").tag("model", model).register(registry);
  }

  /** Whether each upstream cools down after failures in a row (routing.failover_cooldown_ms): 1 or 0. */
  public void cooling(java.util.List<String> upstreams, java.util.function.ToDoubleFunction<String> cooling) {
    for (String upstream : upstreams) {
      Gauge.builder("routewise.upstream.cooling", upstream, cooling).strongReference(true)
          .description("1 while the upstream cools down after failing calls in a row: requests chosen for it go "
              + "to its failover upstream")
          .tag("upstream", upstream).register(registry);
    }
  }

  /** Requests being served right now (what a shutdown waits for). */
  public void inFlight(java.util.function.IntSupplier count) {
    Gauge.builder("routewise.requests.in.flight", count, c -> c.getAsInt()).strongReference(true)
        .description("HTTP requests being served, streams included (a scrape counts itself)").register(registry);
  }

  /** Bytes of request bodies and whole upstream answers held in memory now (server.max_buffered_body_bytes). */
  public void bufferedBodies(java.util.function.LongSupplier bytes) {
    Gauge.builder("routewise.buffered", bytes, b -> b.getAsLong()).strongReference(true)
        .baseUnit("bytes")
        .description("Request bodies and non-streamed upstream answers held in memory now, all requests together; "
            + "past server.max_buffered_body_bytes new request bodies get 503")
        .register(registry);
  }

  /** A request body turned away: {@code memory} (503, the shared limit was reached) or {@code slow} (408). */
  public void bodyRefused(String reason) {
    bodiesRefused.withTag("reason", reason).increment();
  }

  /** A request on {@code /v1/*} refused before it ran, by its error code (a key, an origin, a host). */
  public void accessRefused(String code) {
    accessRefused.withTag("reason", code).increment();
  }

  /** A client connection routewise closed: {@code limit} (server.max_connections) or {@code headers}. */
  public void connectionClosed(String reason) {
    connectionsClosed.withTag("reason", reason).increment();
  }

  /** Exposes the client connections open now. */
  public void clientConnections(java.util.function.IntSupplier count) {
    Gauge.builder("routewise.client.connections", count, c -> c.getAsInt()).strongReference(true)
        .description("Client connections open now (server.max_connections caps them)").register(registry);
    // both reasons from the start: a dashboard shows 0, not "no data", until the first close
    connectionsClosed.withTag("reason", "limit");
    connectionsClosed.withTag("reason", "headers");
  }

  /** Exposes the scoring threads' load: decisions being scored and waiting for a thread. */
  public void scoringPool(io.routewise.routing.ScoringPool pool) {
    Gauge.builder("routewise.scoring.active", pool, io.routewise.routing.ScoringPool::active)
        .description("Decisions of CPU-bound routers being scored now").register(registry);
    Gauge.builder("routewise.scoring.queued", pool, io.routewise.routing.ScoringPool::queued)
        .description("Decisions waiting for a scoring thread (beyond routing.scoring_queue: overloaded)")
        .register(registry);
  }

  /**
   * The process's own gauges, under Micrometer's standard names (what JVM dashboards read): heap and
   * non-heap memory, GC pauses, platform threads, classes, CPU, open files, uptime. Close the result
   * to stop listening for GC events.
   */
  public AutoCloseable bindJvm() {
    new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.FileDescriptorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(registry);
    io.micrometer.core.instrument.binder.jvm.JvmGcMetrics gc = new io.micrometer.core.instrument.binder.jvm.JvmGcMetrics();
    gc.bindTo(registry);
    return gc;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public String scrape() {
    return registry.scrape();
  }

  /** A request to another /v1 endpoint, passed through to {@code upstream}; not on the chat hot path. */
  public void passthrough(String upstream, int status, long nanos) {
    passthroughCounters.computeIfAbsent(List.of(upstream, status), k ->
        passthroughs.withTags("upstream", upstream, "status", Integer.toString(status))).increment();
    passthroughTimers.computeIfAbsent(upstream, u -> passthroughDuration.withTags("upstream", u))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** The HTTP server answered a request itself, before any route ran (one it could not read, or over a limit). */
  public void refused(int status) {
    Counter c = refused.get(Integer.toString(status));
    (c != null ? c : refused.get("other")).increment();
  }

  public void request(String router, String route, int status) {
    requestCounters.computeIfAbsent(List.of(router, route, status), k ->
        requests.withTags("router", router, "route", route, "status", Integer.toString(status))).increment();
  }

  @Override
  public void decided(RoutingDecision d) {
    decisionTimers.computeIfAbsent(d.router(), r -> decision.withTags("router", r))
        .record(d.nanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    routedCounters.computeIfAbsent(List.of(d.router(), d.upstream()), k ->
        routed.withTags("router", d.router(), "route", d.upstream())).increment();
    LongAdder[] counts = shares.computeIfAbsent(d.router(), this::registerShare);
    counts[d.route() == Route.STRONG ? 0 : 1].increment();
    if (d.pinned()) {
      pinnedCounters.computeIfAbsent(List.of(d.router(), d.upstream()), k ->
          pinnedDecisions.withTags("router", d.router(), "route", d.upstream())).increment();
    }
    if (d.movedFrom() != null) {
      mediaMove(d.router(), d.movedFrom()).increment();
    }
  }

  private Counter mediaMove(String router, String from) {
    return mediaMoveCounters.computeIfAbsent(List.of(router, from), k -> mediaMoves.withTags("router", router, "from", from));
  }

  /** Registers the media moves each router can make at 0: from every upstream that does not take all media. */
  public void mediaLimited(java.util.Collection<String> routers, List<String> upstreams) {
    for (String router : routers) {
      for (String upstream : upstreams) {
        mediaMove(router, upstream);
      }
    }
  }

  private LongAdder[] registerShare(String router) {
    LongAdder[] counts = {new LongAdder(), new LongAdder()};
    Gauge.builder("routewise.strong.share", counts, c -> {
          long strong = c[0].sum();
          long all = strong + c[1].sum();
          return all == 0 ? Double.NaN : (double) strong / all;
        })
        .description("Share of requests routed to the strong (most capable) upstream since start")
        .tag("router", router)
        .register(registry);
    return counts;
  }

  /** The proxy's own time in one forwarded request (see the meter's description). */
  public void overhead(String router, long nanos) {
    overheadTimers.computeIfAbsent(router, k -> overhead.withTags("router", k))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** A request failed over from upstream {@code from} (its name) for {@code reason}. */
  public void failover(String from, String reason) {
    failoverCounters.computeIfAbsent(List.of(from, reason), k -> failovers.withTags("from", from, "reason", reason))
        .increment();
  }

  @Override
  public void routerFailed(String router, String kind, Throwable error) {
    routerFailures.withTags("router", router, "kind", kind).increment();
    // Log each kind once: a dead judge endpoint must not flood the log, the counter keeps the count.
    if (loggedFailureKinds.add(router + "/" + kind)) {
      LOG.warn("router {} failed ({}): {}; routing to the strong model. Further '{}' failures are only counted "
          + "in routewise_router_failures_total.", router, kind, error.getMessage(), kind);
    }
  }

  @Override
  public void firstByte(String upstream, long nanos) {
    ttfbTimers.computeIfAbsent(upstream, u -> ttfb.withTags("upstream", u))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  @Override
  public void completed(String upstream, int status, String outcome, long nanos) {
    durationTimers.computeIfAbsent(List.of(upstream, outcome), k -> duration.withTags("upstream", upstream, "outcome", outcome))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** Why a request went to another upstream ({@code routewise_failovers_total{reason}}). */
  public static final List<String> FAILOVER_REASONS = List.of("unreachable", "429", "5xx", "auth", "invalid", "cooldown");

  /**
   * Creates at 0 the counters whose label values are known at start: each router's decisions and
   * answered requests per upstream, each upstream's tokens and (with failover) its failovers, and
   * the reasons a body is refused. Prometheus takes a series it first meets at 1 to have started
   * there, so without this the first decision of each kind never showed in rate() or increase()
   * (a rare route, a first failover), and a fresh instance's panels read "no data". Call once, before traffic.
   */
  public void known(java.util.Collection<String> routers, List<String> upstreams, boolean failover,
      boolean directUpstreams) {
    if (directUpstreams) { // upstream-<name>: counted under router "direct"
      for (String upstream : upstreams) {
        requestCounters.computeIfAbsent(List.of("direct", upstream, 200), k ->
            requests.withTags("router", "direct", "route", upstream, "status", "200"));
      }
    }
    for (String router : routers) {
      for (String upstream : upstreams) {
        routedCounters.computeIfAbsent(List.of(router, upstream), k ->
            routed.withTags("router", router, "route", upstream));
        requestCounters.computeIfAbsent(List.of(router, upstream, 200), k ->
            requests.withTags("router", router, "route", upstream, "status", "200"));
      }
    }
    for (String upstream : upstreams) {
      for (String type : List.of("prompt", "completion")) {
        tokenCounters.computeIfAbsent(List.of(upstream, type), k -> tokens.withTags("upstream", upstream, "type", type));
      }
      if (failover) {
        for (String reason : FAILOVER_REASONS) {
          failoverCounters.computeIfAbsent(List.of(upstream, reason),
              k -> failovers.withTags("from", upstream, "reason", reason));
        }
      }
    }
    bodiesRefused.withTag("reason", "memory");
    bodiesRefused.withTag("reason", "slow");
    for (String code : List.of("invalid_api_key", "origin_not_allowed", "host_not_allowed")) {
      accessRefused.withTag("reason", code); // at 0, for an alert on the first after an upgrade
    }
  }

  /**
   * The upstreams' prices, most capable first ({@code ladder.get(0)} is what savings are counted
   * against). Registers the cost counters of every priced upstream at once, so they read 0 before
   * the first answer (an unpriced upstream has none), and every upstream's unmetered-answers counter.
   * Call once, before traffic.
   */
  public void prices(List<io.routewise.config.UpstreamConfig> ladder) {
    io.routewise.config.Price top = ladder.get(0).price();
    Map<String, Costs> out = new java.util.HashMap<>();
    for (var u : ladder) {
      if (u.price() == null && u.modelPrices().isEmpty()) {
        continue;
      }
      Counter spent = Counter.builder("routewise.cost.usd")
          .description("USD spent on answers, from their usage and the upstream's price").tag("upstream", u.name())
          .register(registry);
      // priced by model_prices alone: its passed-through answers are spend, and routed ones unknown
      Counter saved = top == null || u.price() == null ? null : Counter.builder("routewise.cost.saved.usd")
          .description("USD the same tokens would have cost more on the most capable (strong) upstream")
          .tag("upstream", u.name()).register(registry);
      Counter extra = top == null || u.price() == null ? null : Counter.builder("routewise.cost.extra.usd")
          .description("USD the same tokens cost more than on the most capable (strong) upstream would have "
              + "(an upstream priced above it); net savings = saved - extra")
          .tag("upstream", u.name()).register(registry);
      out.put(u.name(), new Costs(u.price(), top, spent, saved, extra));
    }
    costs = Map.copyOf(out);
    Map<String, Counter> none = new java.util.HashMap<>();
    for (var u : ladder) { // every upstream from the start: a dashboard's "uncounted" panel reads 0, not "no data"
      none.put(u.name(), Counter.builder("routewise.answers.unmetered")
          .description("Whole answers without usage (a stream whose client did not set stream_options.include_usage, a "
              + "background response given up on, a passed-through answer for a priced model without usage): their "
              + "tokens and cost are not in routewise_tokens_total or routewise_cost_usd_total")
          .tag("upstream", u.name()).register(registry));
    }
    unmetered = Map.copyOf(none);
  }

  @Override
  public void unmetered(String upstream) {
    Counter c = unmetered.get(upstream);
    if (c != null) {
      c.increment();
    }
  }

  /**
   * The named client keys ({@code server.api_keys} written as a mapping), each with its requests,
   * tokens and spend at 0 from the start. Call once, before traffic.
   */
  public void clients(List<String> names) {
    Map<String, ClientMeters> out = new java.util.HashMap<>();
    for (String name : names) {
      out.put(name, new ClientMeters(
          Counter.builder("routewise.client.requests")
              .description("Requests on /v1 carrying a named client key (server.api_keys), every endpoint")
              .tag("client", name).register(registry),
          Counter.builder("routewise.client.tokens")
              .description("Tokens of the answers for a named client key, routed or passed through at a priced model")
              .tags("client", name, "type", "prompt").register(registry),
          Counter.builder("routewise.client.tokens")
              .description("Tokens of the answers for a named client key, routed or passed through at a priced model")
              .tags("client", name, "type", "completion").register(registry),
          Counter.builder("routewise.client.cost.usd")
              .description("USD spent on the answers for a named client key, routed or passed through at a priced model "
                  + "(usage times the price)")
              .tag("client", name).register(registry)));
    }
    clients = Map.copyOf(out);
  }

  /**
   * The named clients with a rate limit, each one's refusals at 0 from the start. Call once, before
   * traffic.
   */
  public void clientRateLimits(List<String> names) {
    Map<String, Counter> out = new java.util.HashMap<>();
    for (String name : names) {
      out.put(name, Counter.builder("routewise.client.rate.limited")
          .description("Requests of a named client refused for its rate limit (server.api_keys.<name>.rate_limit): "
              + "429 rate_limit_exceeded")
          .tag("client", name).register(registry));
    }
    rateLimited = Map.copyOf(out);
  }

  private volatile Map<String, Counter> rateLimited = Map.of();

  /** A request of {@code client} refused for its rate limit. */
  public void clientRateLimited(String client) {
    Counter c = rateLimited.get(client);
    if (c != null) {
      c.increment();
    }
  }

  /** A request on {@code /v1} that carried the named client key {@code client}. */
  public void clientRequest(String client) {
    ClientMeters m = clients.get(client);
    if (m != null) {
      m.requests.increment();
    }
  }

  /**
   * An answer's usage, routed for {@code client} (a name {@link #clients} was not given is not
   * counted); {@code usd} what it cost, NaN where its upstream has no price.
   */
  public void clientAnswered(String client, long promptTokens, long completionTokens, double usd) {
    ClientMeters m = client == null ? null : clients.get(client);
    if (m == null) {
      return;
    }
    if (promptTokens > 0) {
      m.prompt.increment(promptTokens);
    }
    if (completionTokens > 0) {
      m.completion.increment(completionTokens);
    }
    if (usd > 0) {
      m.cost.increment(usd);
    }
  }

  /**
   * Each named client's budget a period and what it spent in the current one (every replica, as
   * last added up with them).
   */
  public void clientBudgets(io.routewise.routing.ClientBudgets budgets) {
    Map<String, Counter> refused = new java.util.HashMap<>();
    for (String client : budgets.clients()) {
      for (BudgetRefusal reason : BudgetRefusal.values()) {
        refused.put(client + '\n' + reason.label, Counter.builder("routewise.client.budget.refused")
            .description("Requests of a named client with a budget refused: its budget spent (reason spent: 429 "
                + "insufficient_quota), the rest held by its requests under way (reason in_flight: 429 "
                + "rate_limit_exceeded, retried), or a passthrough request routewise cannot meter (reason "
                + "unmetered: 403, 400 or 415)")
            .tag("client", client).tag("reason", reason.label).register(registry));
      }
      Gauge.builder("routewise.client.budget.held.usd", budgets, b -> b.held(client)).strongReference(true)
          .description("What a named client's requests under way on this replica hold of its budget, USD (their "
              + "likely cost, until they end)")
          .tag("client", client).register(registry);
      Gauge.builder("routewise.client.budget.usd", budgets, b -> b.budget(client)).strongReference(true)
          .description("A named client's budget a period (server.api_keys.<name>.budget), USD").tag("client", client)
          .register(registry);
      Gauge.builder("routewise.client.budget.spent.usd", budgets, b -> b.spentThisPeriod(client)).strongReference(true)
          .description("What a named client with a budget spent on metered answers in the current period, USD "
              + "(every replica, as last added up with them); at its budget, its metered requests get 429")
          .tag("client", client).register(registry);
    }
    budgetRefusals = Map.copyOf(refused);
  }

  /** Why a request of a client with a budget was refused. */
  public enum BudgetRefusal {
    /** Its budget is spent for the period. */
    SPENT("spent"),
    /** Its requests under way hold the rest of it. */
    IN_FLIGHT("in_flight"),
    /** A passthrough request whose cost routewise cannot meter (budget {@code unpriced: refuse}). */
    UNMETERED("unmetered");

    private final String label;

    BudgetRefusal(String label) {
      this.label = label;
    }
  }

  /** A request of {@code client}, which has a budget, refused for {@code reason}. */
  public void clientBudgetRefused(String client, BudgetRefusal reason) {
    Counter c = budgetRefusals.get(client + '\n' + reason.label);
    if (c != null) {
      c.increment();
    }
  }

  private volatile Map<String, Counter> budgetRefusals = Map.of();

  private record ClientMeters(Counter requests, Counter prompt, Counter completion, Counter cost) {}

  /** An upstream's price, the top's, and its counters (saved and extra null when the top has no price). */
  private record Costs(io.routewise.config.Price price, io.routewise.config.Price top, Counter spent, Counter saved,
      Counter extra) {
    void add(io.routewise.upstream.Usage usage, boolean routed) {
      double cost = usage.cost(price);
      spent.increment(cost);
      if (top != null && routed) { // the same tokens on the top, its prompt cache assumed to read and write the same parts
        double difference = usage.cost(top) - cost;
        (difference >= 0 ? saved : extra).increment(Math.abs(difference));
      }
    }
  }

  /**
   * A passed-through answer's usage, at the price of the model it named ({@code usd}, NaN when
   * unknown): tokens and spend, never a saving (no router chose it).
   */
  public void passedThrough(String upstream, long promptTokens, long completionTokens, double usd) {
    Costs c = costs.get(upstream);
    if (c != null && usd > 0) {
      c.spent().increment(usd);
    }
    countTokens(upstream, promptTokens, completionTokens);
  }

  @Override
  public void tokens(String upstream, io.routewise.upstream.Usage usage, boolean routed) {
    Costs c = costs.get(upstream);
    if (c != null && c.price() != null && (usage.prompt() > 0 || usage.completion() > 0)) {
      c.add(usage, routed);
    }
    countTokens(upstream, usage.prompt(), usage.completion());
  }

  private void countTokens(String upstream, long promptTokens, long completionTokens) {
    if (promptTokens > 0) {
      tokenCounters.computeIfAbsent(List.of(upstream, "prompt"), k -> tokens.withTags("upstream", upstream, "type", "prompt"))
          .increment(promptTokens);
    }
    if (completionTokens > 0) {
      tokenCounters.computeIfAbsent(List.of(upstream, "completion"),
          k -> tokens.withTags("upstream", upstream, "type", "completion")).increment(completionTokens);
    }
  }
}
