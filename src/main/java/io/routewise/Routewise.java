package io.routewise;

import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.EmbedderSource;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.routers.RouterCatalog;
import io.routewise.config.SessionPinning;
import io.routewise.routing.Ladder;
import io.routewise.routing.LadderRule;
import io.routewise.routing.Router;
import io.routewise.routing.RoutingService;
import io.routewise.routing.ScoringPool;
import io.routewise.routing.ClientBudgets;
import io.routewise.routing.ClientRateLimits;
import io.routewise.routing.SessionPins;
import io.routewise.routing.StateStore;
import io.routewise.routing.StateSync;
import io.routewise.routing.TargetController;
import io.routewise.state.RedisStateStore;
import io.routewise.server.ProxyServer;
import io.routewise.upstream.HttpClients;
import io.routewise.upstream.IdleTimeouts;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamListener;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import okhttp3.OkHttpClient;

/**
 * A running routewise: routers loaded, upstream clients built, HTTP server listening. The one place
 * where the parts are put together; {@link #close()} takes them apart in reverse.
 */
public final class Routewise implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Routewise.class);
  private final RoutingService routing;
  private final OkHttpClient http;
  private final IdleTimeouts timeouts;
  private final ProxyServer server;
  private final RoutewiseMetrics metrics;
  private final StateSync sync;
  /** The JVM metrics' GC listener and the embedders' native sessions, released last. */
  private final AutoCloseable closeLast;

  private Routewise(RoutingService routing, OkHttpClient http, IdleTimeouts timeouts, ProxyServer server,
      RoutewiseMetrics metrics, StateSync sync, AutoCloseable closeLast) {
    this.sync = sync;
    this.routing = routing;
    this.http = http;
    this.timeouts = timeouts;
    this.server = server;
    this.metrics = metrics;
    this.closeLast = closeLast;
  }

  /**
   * Loads routers and starts serving: {@link #check}, then {@link #start(Checked, EmbedderSource, AutoCloseable)}.
   *
   * @throws io.routewise.config.ConfigException listing every problem with routers or their models
   */
  public static Routewise start(RoutewiseConfig config, RouterCatalog catalog, EmbedderSource embedders,
      AutoCloseable closeEmbedders) {
    return start(check(config, catalog, embedders), embedders, closeEmbedders);
  }

  /**
   * What a start has checked and decided before anything runs: every router loaded (its model files,
   * the embedding, each upstream placed on a trained model), the ladder and each router's rule on it,
   * and whether Redis is used. Closing it closes the routers; a start takes them over instead.
   *
   * @param usesStore whether {@code state.redis} is set and something shares state through it
   */
  public record Checked(RoutewiseConfig config, Map<String, Router> routers, List<UpstreamConfig> upstreams,
      Ladder ladder, Map<String, LadderRule> rules, boolean usesStore) implements AutoCloseable {
    @Override
    public void close() {
      routers.values().forEach(Router::close);
    }
  }

  /**
   * Everything a start checks and warns of, with nothing started: no port bound, no upstream, judge
   * or Redis contacted ({@code routewise check}, and the first half of every start). What it warns
   * of is logged here, once.
   *
   * @throws io.routewise.config.ConfigException listing every problem with routers or their models
   */
  public static Checked check(RoutewiseConfig config, RouterCatalog catalog, EmbedderSource embedders) {
    ConfigProblems problems = config.routers().problems();
    String ruleSetting = config.routing().ladderRule();
    LadderRule.Kind.byConfigName(ruleSetting).flatMap(kind -> LadderRule.unsupported(RouterCatalog.ladder(config), kind))
        .ifPresent(why -> problems.add("routing.ladder_rule", why)); // auto never fails: it falls back to threshold
    Map<String, Router> routers = catalog.load(config, embedders, problems); // none when there are problems
    problems.throwIfAny();
    List<UpstreamConfig> upstreams = RouterCatalog.inLadderOrder(config);
    Ladder ladder = RouterCatalog.ladder(config);
    Map<String, LadderRule> rules = new LinkedHashMap<>();
    routers.forEach((name, router) -> rules.put(name, LadderRule.forRouter(ladder, ruleSetting, router)));
    if (upstreams.size() > 2) {
      LOG.info("routing among {} upstreams, most capable first: {}; ladder rule {}", upstreams.size(),
          describe(upstreams), describe(ruleSetting, rules));
    }
    List<String> unpriced = upstreams.stream().filter(u -> !u.pricesAny()).map(UpstreamConfig::name).toList();
    if (unpriced.size() == upstreams.size()) {
      LOG.info("no price for any upstream (upstreams.<name>.price): costs are unknown, routewise_cost_usd_total "
          + "is not exposed");
    }
    ladderWarnings(upstreams, ruleSetting, rules, config.routing().tokenMix()).forEach(LOG::warn);
    List<String> unmeteredStreams = upstreams.stream().filter(u -> !u.streamUsage()).map(UpstreamConfig::name).toList();
    config.targets().forEach((name, target) -> {
      if (target.kind() == io.routewise.config.TargetConfig.Kind.USD_PER_HOUR && !unmeteredStreams.isEmpty()) {
        // a budget sees only answers that carry usage: streams that did not ask for it leave it blind
        LOG.warn("routers.{}.target usd_per_hour: streams whose client did not ask for usage are not metered on {} "
            + "(set stream_usage: true on them); a budget with no metered answer keeps its initial_alpha", name,
            unmeteredStreams);
      }
      LOG.info("router-{}-auto holds {} = {} over {} s, α from {} within [{}, {}]", name, target.kind().key(),
          target.value(), target.window().toSeconds(), target.initialAlpha(), target.minAlpha(), target.maxAlpha());
    });
    Map<String, io.routewise.config.ClientKey.Budget> budgeted = budgets(config);
    List<String> named = config.server().apiKeys().stream().map(io.routewise.config.ClientKey::name)
        .filter(java.util.Objects::nonNull).toList();
    if (!named.isEmpty()) {
      LOG.info("client keys named {}: requests, tokens and spend counted per client (routewise_client_*)", named);
    }
    budgeted.forEach((name, b) -> LOG.info("client {} may spend {} USD per {} (UTC) on metered answers", name, b.usd(),
        b.per().key()));
    boolean rateLimited = config.server().apiKeys().stream().anyMatch(k -> k.rateLimit() != null);
    config.server().apiKeys().stream().filter(k -> k.rateLimit() != null).forEach(k -> LOG.info(
        "client {} may make {} requests per {} {}", k.name(), k.rateLimit().requests(), k.rateLimit().per().key(),
        config.state().shared() ? "across the replicas (state.redis)" : "at each replica (no state.redis)"));
    meteringWarnings(config, upstreams, budgeted).forEach(LOG::warn);
    List<String> refusing = budgeted.entrySet().stream().filter(e -> !e.getValue().allowUnpriced())
        .map(Map.Entry::getKey).toList();
    if (!refusing.isEmpty() && !config.routing().passthrough().equals("none")) {
      LOG.info("clients {} have budgets that refuse what cannot be metered: their passthrough requests to {} that "
          + "generate get 403, 400 or 415 unless they name a model it prices (model_prices) on an endpoint whose answer "
          + "carries usage; their priced answers without usage are charged what they held (budget unpriced: allow: "
          + "neither)", refusing, config.routing().passthrough());
    }
    if (!budgeted.isEmpty() && !config.state().shared()) {
      LOG.info("client budgets are held per replica (no state.redis): behind N replicas a client may spend N times "
          + "its budget");
    }
    // Redis only when there is something to share: a target's window, session pins, a client's spend or requests.
    boolean usesStore = config.state().shared() && (!config.targets().isEmpty()
        || config.routing().sessionPinning().enabled() || !budgeted.isEmpty() || rateLimited);
    if (config.state().shared() && !usesStore) {
      LOG.warn("state.redis is set but nothing shares state (no router has a target, routing.session_pinning is "
          + "off, no client has a budget or rate_limit): Redis is not used");
    }
    return new Checked(config, routers, upstreams, ladder, rules, usesStore);
  }

  /** The client keys' budgets, by client name. */
  private static Map<String, io.routewise.config.ClientKey.Budget> budgets(RoutewiseConfig config) {
    Map<String, io.routewise.config.ClientKey.Budget> budgeted = new LinkedHashMap<>();
    config.server().apiKeys().stream().filter(k -> k.budget() != null).forEach(k -> budgeted.put(k.name(), k.budget()));
    return budgeted;
  }

  /**
   * Starts serving what {@link #check} loaded: its routers are this server's from now on.
   *
   * @param embedders what the routers were loaded with (their caches' metrics)
   */
  public static Routewise start(Checked checked, EmbedderSource embedders, AutoCloseable closeEmbedders) {
    RoutewiseConfig config = checked.config();
    Map<String, Router> routers = checked.routers();
    List<UpstreamConfig> upstreams = checked.upstreams();
    Ladder ladder = checked.ladder();
    Map<String, LadderRule> rules = checked.rules();
    RoutewiseMetrics metrics = new RoutewiseMetrics();
    AutoCloseable jvmMetrics = metrics.bindJvm();
    if (embedders instanceof io.routewise.embedding.Embedders shared) {
      shared.loaded().forEach((id, e) -> {
        if (e instanceof io.routewise.embedding.CachingEmbedder cache) {
          metrics.embeddingCache(id, cache);
        }
      });
    }
    ScoringPool scoring = config.routing().scoringThreads() > 0
        && routers.values().stream().anyMatch(Router::cpuBound)
        ? new ScoringPool(config.routing().scoringThreads(), config.routing().scoringQueue(),
            config.routing().scoringTimeout()) : null;
    if (scoring != null) {
      metrics.scoringPool(scoring);
    }
    metrics.prices(upstreams);
    metrics.known(routers.keySet(), upstreams.stream().map(UpstreamConfig::name).toList(), config.routing().failover(),
        config.routing().directUpstreams());
    metrics.mediaLimited(routers.keySet(), ladder.rungs().stream()
        .filter(r -> !r.accepts().containsAll(java.util.EnumSet.allOf(io.routewise.routing.Media.class)))
        .map(io.routewise.routing.Ladder.Rung::upstream).toList());
    Map<String, TargetController> targets = new LinkedHashMap<>();
    double priceRatio = ladder.belowTopPriceRatio();
    config.targets().forEach((name, target) ->
        targets.put(name, new TargetController(name, target, System::currentTimeMillis, priceRatio)));
    SessionPinning pinning = config.routing().sessionPinning();
    ClientBudgets budgets = new ClientBudgets(budgets(config), System::currentTimeMillis);
    StateStore store = checked.usesStore() ? new RedisStateStore(config.state()) : null;
    StateSync sync = targets.isEmpty() && store == null ? null
        : new StateSync(targets.values(), store, config.state().sync(), metrics);
    SessionPins pins = pinning.enabled()
        ? new SessionPins(pinning.ttl(), pinning.localEntries(), store, sync != null ? sync::storeUp : () -> false,
            // a pin's life is measured here and handed to Redis as time left, never as a date: a
            // monotonic clock, so an NTP step of the wall clock neither expires every pin nor keeps them
            config.state().pinTimeout(), metrics, () -> System.nanoTime() / 1_000_000L)
        : null;
    if (sync != null && pins != null) {
      sync.shareWith(pins);
    }
    if (sync != null && budgets.any()) {
      sync.shareWith(budgets);
    }
    ClientRateLimits rateLimits = new ClientRateLimits(config.server().apiKeys(), System::nanoTime);
    if (sync != null && store != null && rateLimits.any()) {
      sync.shareWith(rateLimits);
    }
    metrics.clientBudgets(budgets);
    metrics.targets(targets.values());
    if (pins != null) {
      metrics.sessionPins(pins);
    }
    if (store != null) {
      metrics.sharedState();
    }
    RoutingService routing = new RoutingService(routers, config.routing().router(), config.routing().threshold(),
        metrics, scoring, rules, targets, pins, config.routing().directUpstreams());
    warnUnusableModels(config.server().apiKeys(), routing);
    AutoCloseable closeState = () -> {
      if (sync != null) {
        sync.close();
      }
      if (store != null) {
        store.close();
      }
    };
    OkHttpClient http = HttpClients.shared(config.client());
    IdleTimeouts timeouts = IdleTimeouts.forTimeouts(
        upstreams.stream().map(UpstreamConfig::timeout).toArray(java.time.Duration[]::new));
    try {
      List<UpstreamClient> clients =
          upstreams.stream().map(u -> new UpstreamClient(u, http, timeouts, metrics)).toList();
      // Its own client, so passed-through calls (embeddings, files) stay out of the chat calls' latency metrics.
      UpstreamClient passthrough = upstreams.stream().filter(u -> u.name().equals(config.routing().passthrough()))
          .findFirst().map(u -> new UpstreamClient(u, http, timeouts, UpstreamListener.NONE)).orElse(null);
      if (sync != null) {
        sync.start(); // the first exchange runs now, so α and the store's state are known before any request
      }
      ProxyServer server = new ProxyServer(config.server(), routing, clients, metrics, config.routing(), passthrough,
          budgets, rateLimits).start();
      return new Routewise(routing, http, timeouts, server, metrics, sync, () -> {
        closeState.close();
        jvmMetrics.close();
        if (routing.routersClosed()) { // else a scoring thread may still run on an embedder's ONNX session
          closeEmbedders.close();
        }
      });
    } catch (RuntimeException e) {
      // Port in use, say: release the threads and native sessions started above before failing.
      closeQuietly(closeState);
      timeouts.close();
      HttpClients.shutdown(http);
      routing.close();
      closeQuietly(jvmMetrics);
      throw e;
    }
  }

  /**
   * What the start log warns about metering: {@code model_prices} on an upstream that is not the
   * passthrough (never read), and for client budgets, the answers they cannot see (chat streams
   * without usage, upstreams without a price, passthrough to models not priced).
   */
  static List<String> meteringWarnings(RoutewiseConfig config, List<UpstreamConfig> upstreams,
      Map<String, io.routewise.config.ClientKey.Budget> budgets) {
    java.util.Set<String> budgeted = budgets.keySet();
    List<String> allowingUnpriced = budgets.entrySet().stream().filter(e -> e.getValue().allowUnpriced())
        .map(Map.Entry::getKey).toList();
    List<String> out = new java.util.ArrayList<>();
    String passthrough = config.routing().passthrough();
    for (UpstreamConfig u : upstreams) {
      if (!u.modelPrices().isEmpty() && !u.name().equals(passthrough)) {
        out.add("upstreams." + u.name() + ".model_prices does nothing: only passthrough traffic names other models, and "
            + u.name() + " is not routing.passthrough");
      }
    }
    if (budgeted.isEmpty()) {
      return out;
    }
    // a stream without usage is charged its hold at the price of the upstream that answered it: nothing at a free one
    List<String> noUsage = upstreams.stream().filter(u -> !u.streamUsage() && u.price() != null
        && u.price().cost(1, 1) > 0).map(UpstreamConfig::name).toList();
    List<String> noPrice = upstreams.stream().filter(u -> u.price() == null).map(UpstreamConfig::name).toList();
    if (!noUsage.isEmpty()) {
      out.add("client budgets (" + budgeted + "): chat streams from " + noUsage + " whose client did not ask for usage "
          + "are charged what they held, a guess (unpriced: allow: nothing); set stream_usage: true on them");
    }
    if (!noPrice.isEmpty()) {
      out.add("client budgets (" + budgeted + "): answers from " + noPrice + ", which have no price, cost a client "
          + "nothing");
    }
    List<String> endpoints = config.routing().passthroughEndpoints();
    if (!allowingUnpriced.isEmpty() && !passthrough.equals("none") && (endpoints.isEmpty() || endpoints.stream()
        .anyMatch(e -> List.of("responses", "completions", "chat/completions", "images", "audio", "embeddings")
            .contains(e)))) {
      out.add("client budgets with unpriced: allow (" + allowingUnpriced + "): passthrough to " + passthrough + " ("
          + (endpoints.isEmpty() ? "every endpoint" : endpoints) + ") is metered, and refused past a budget, only for "
          + "models " + passthrough + " prices (its model, model_prices), and for streams that carry "
          + "usage: a client past its budget can still generate there with others (a snapshot id, another model)"
          + (endpoints.isEmpty() ? "; routing.passthrough_endpoints limits what passes" : ""));
    }
    return out;
  }

  /**
   * What the start log warns about a ladder (upstreams most capable first): some upstreams priced and
   * others not (a forgotten price moves an upstream to the bottom and the ladder off price weighting);
   * upstreams priced above strong, which stays the top all the same.
   */
  public static List<String> ladderWarnings(List<UpstreamConfig> upstreams, String ruleSetting, Map<String, LadderRule> rules) {
    return ladderWarnings(upstreams, ruleSetting, rules, new double[] {1, 1});
  }

  /** As {@link #ladderWarnings(List, String, Map)}, prices weighed by {@code routing.token_mix} as the ladder weighs them. */
  public static List<String> ladderWarnings(List<UpstreamConfig> upstreams, String ruleSetting, Map<String, LadderRule> rules,
      double[] mix) {
    java.util.function.ToDoubleFunction<io.routewise.config.Price> order = p -> mix[0] * p.input() + mix[1] * p.output();
    List<String> warnings = new java.util.ArrayList<>();
    UpstreamConfig top = upstreams.get(0);
    List<String> unpriced = upstreams.stream().filter(u -> u.price() == null).map(UpstreamConfig::name).toList();
    if (!unpriced.isEmpty() && unpriced.size() < upstreams.size()) {
      // some priced, some not: more likely a forgotten price than a free model, and it moves the upstream
      StringBuilder w = new StringBuilder("no price for upstream(s) " + unpriced + " while the others have one: "
          + "their answers' cost is unknown and not in routewise_cost_usd_total");
      List<String> below = unpriced.stream().filter(name -> !name.equals(top.name())).toList();
      if (upstreams.size() > 2 && !below.isEmpty()) {
        w.append("; on the ladder ").append(below).append(" count as free (price 0: below every upstream that costs"
            + " something; weak goes below its equals)");
      }
      if (top.price() == null) {
        w.append("; ").append(top.name()).append(" has none, so no saving is counted");
      }
      if (upstreams.size() > 2 && LadderRule.AUTO.equals(ruleSetting)) {
        w.append("; ladder_rule auto decides by threshold for every router (price weighting needs every price)");
      }
      warnings.add(w.append("; a local model: price: {input: 0, output: 0}").toString());
    }
    // said once: a missing price above already says auto falls back
    boolean autoOnLadder = upstreams.size() > 2 && LadderRule.AUTO.equals(ruleSetting) && warnings.isEmpty();
    upstreams.stream().filter(u -> top.price() != null && u.price() != null
            && order.applyAsDouble(u.price()) > order.applyAsDouble(top.price()))
        .forEach(u -> warnings.add("upstream " + u.name() + " is priced above strong; strong stays the most capable "
            + "(the top of the ladder, where failed routers send requests, and what savings are counted against)"
            + (upstreams.size() > 2 ? ", so routers never send to " + u.name() + " (strong does at least as well for"
                + " less; it still serves upstream-" + u.name() + " and failover)" : "")
            + (autoOnLadder ? "; ladder_rule auto decides by threshold for every router (price weighting needs "
                + "strong the dearest)" : "")));
    if (autoOnLadder && unpriced.isEmpty() && upstreams.stream()
        .allMatch(u -> order.applyAsDouble(u.price()) == order.applyAsDouble(top.price()))) {
      warnings.add("every upstream has the same price: ladder_rule auto decides by threshold for every router "
          + "(nothing to weigh)");
    }
    return warnings;
  }

  /** "threshold", or for auto which routers got which rule: "auto (threshold: random, length; price_weighted: mf)". */
  private static String describe(String setting, Map<String, LadderRule> rules) {
    if (!LadderRule.AUTO.equals(setting)) {
      return setting;
    }
    Map<String, List<String>> byKind = new LinkedHashMap<>();
    rules.forEach((router, rule) -> byKind.computeIfAbsent(rule.kind().configName(), k -> new java.util.ArrayList<>())
        .add(router));
    StringBuilder b = new StringBuilder("auto (");
    byKind.forEach((kind, names) -> b.append(b.length() > 6 ? "; " : "").append(kind).append(": ")
        .append(String.join(", ", names)));
    return b.append(')').toString();
  }

  /** {@code strong (gpt-4o, $2.5/$10 per M) > mini (gpt-4o-mini, $0.15/$0.6 per M) > weak (llama3.1:8b, no price)} */
  private static String describe(List<UpstreamConfig> ladder) {
    return String.join(" > ", ladder.stream().map(u -> u.name() + " (" + u.model() + ", " + (u.price() == null
        ? "no price" : "$" + u.price().input() + "/$" + u.price().output() + " per M") + ")").toList());
  }

  public int port() {
    return server.port();
  }

  public RoutingService routing() {
    return routing;
  }

  public RoutewiseMetrics metrics() {
    return metrics;
  }

  /** The background task behind targets and shared state, or null when there is neither. */
  public StateSync stateSync() {
    return sync;
  }

  @Override
  public void close() {
    server.close();
    if (sync != null) {
      sync.close(); // before the routers and pins it steps and the store it talks to
    }
    routing.close();
    HttpClients.shutdown(http);
    timeouts.close();
    closeQuietly(closeLast);
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // shutting down
    }
  }

  /**
   * A client's {@code models} entry that no request could use as meant: a {@code router-…} name chat
   * refuses (a typo of a router, a bad α: the client locked out of it without a word), or an {@code
   * upstream-…} one while {@code direct_upstreams} is off (a name like any other, the default router's).
   */
  private static void warnUnusableModels(List<io.routewise.config.ClientKey> clients, RoutingService routing) {
    for (io.routewise.config.ClientKey c : clients) {
      for (String m : c.models() == null ? List.<String>of() : c.models()) {
        if (m.endsWith("*")) {
          continue;
        }
        if (io.routewise.routing.RouteSpec.isRouteSpec(m)) {
          try {
            routing.specFor(m);
          } catch (io.routewise.routing.RouteSpec.InvalidRouteSpecException e) {
            LOG.warn("server.api_keys.{}.models lists {}, which chat refuses: {}", c.name(), m, e.getMessage());
          }
        } else if (m.startsWith(io.routewise.routing.RouteSpec.DIRECT_PREFIX) && !routing.directUpstreams()) {
          LOG.warn("server.api_keys.{}.models lists {}, but routing.direct_upstreams is off: it is routed as any "
              + "other name, by routing.router", c.name(), m);
        }
      }
    }
  }
}
