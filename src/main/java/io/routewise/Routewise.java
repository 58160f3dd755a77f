package io.routewise;

import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.EmbedderSource;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Ladder;
import io.routewise.routing.Router;
import io.routewise.routing.RoutingService;
import io.routewise.routing.ScoringPool;
import io.routewise.server.ProxyServer;
import io.routewise.upstream.HttpClients;
import io.routewise.upstream.IdleTimeouts;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamListener;
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
  /** The JVM metrics' GC listener and the embedders' native sessions, released last. */
  private final AutoCloseable closeLast;

  private Routewise(RoutingService routing, OkHttpClient http, IdleTimeouts timeouts, ProxyServer server,
      RoutewiseMetrics metrics, AutoCloseable closeLast) {
    this.routing = routing;
    this.http = http;
    this.timeouts = timeouts;
    this.server = server;
    this.metrics = metrics;
    this.closeLast = closeLast;
  }

  /**
   * Loads routers and starts serving.
   *
   * @throws io.routewise.config.ConfigException listing every problem with routers or their models
   */
  public static Routewise start(RoutewiseConfig config, RouterCatalog catalog, EmbedderSource embedders,
      AutoCloseable closeEmbedders) {
    ConfigProblems problems = config.routers().problems();
    Map<String, Router> routers = catalog.load(config, embedders, problems);
    problems.throwIfAny();
    RoutewiseMetrics metrics = new RoutewiseMetrics();
    AutoCloseable jvmMetrics = metrics.bindJvm();
    if (embedders instanceof io.routewise.embedding.Embedders shared) {
      shared.loaded().forEach(metrics::embeddingCache);
    }
    ScoringPool scoring = config.routing().scoringThreads() > 0
        && routers.values().stream().anyMatch(Router::cpuBound)
        ? new ScoringPool(config.routing().scoringThreads(), config.routing().scoringQueue(),
            config.routing().scoringTimeout()) : null;
    if (scoring != null) {
      metrics.scoringPool(scoring);
    }
    List<UpstreamConfig> upstreams = RouterCatalog.inLadderOrder(config);
    Ladder ladder = RouterCatalog.ladder(config);
    if (upstreams.size() > 2) {
      LOG.info("routing among {} upstreams, most capable first: {}", upstreams.size(), describe(upstreams));
    }
    List<String> unpriced = upstreams.stream().filter(u -> u.price() == null).map(UpstreamConfig::name).toList();
    if (!unpriced.isEmpty()) {
      LOG.info("no price for upstream(s) {} (upstreams.<name>.price): their cost is unknown and not counted in "
          + "routewise_cost_usd_total{}", unpriced, upstreams.size() > 2 && unpriced.size() < upstreams.size()
          ? "; on the ladder they count as free, below the priced ones" : "");
    }
    UpstreamConfig top = upstreams.get(0);
    upstreams.stream().filter(u -> top.price() != null && u.price() != null
            && u.price().input() + u.price().output() > top.price().input() + top.price().output())
        .forEach(u -> LOG.warn("upstream {} is priced above strong; strong stays the most capable (the top of the "
            + "ladder, where failed routers send requests, and what savings are counted against)", u.name()));
    metrics.prices(upstreams);
    RoutingService routing = new RoutingService(routers, config.routing().router(), config.routing().threshold(),
        metrics, scoring, ladder);
    OkHttpClient http = HttpClients.shared(config.client());
    IdleTimeouts timeouts = IdleTimeouts.forTimeouts(
        upstreams.stream().map(UpstreamConfig::timeout).toArray(java.time.Duration[]::new));
    try {
      List<UpstreamClient> clients =
          upstreams.stream().map(u -> new UpstreamClient(u, http, timeouts, metrics)).toList();
      // Its own client, so passed-through calls (embeddings, files) stay out of the chat calls' latency metrics.
      UpstreamClient passthrough = upstreams.stream().filter(u -> u.name().equals(config.routing().passthrough()))
          .findFirst().map(u -> new UpstreamClient(u, http, timeouts, UpstreamListener.NONE)).orElse(null);
      ProxyServer server = new ProxyServer(config.server(), routing, clients, metrics,
          config.routing().failover(), passthrough).start();
      return new Routewise(routing, http, timeouts, server, metrics, () -> {
        jvmMetrics.close();
        closeEmbedders.close();
      });
    } catch (RuntimeException e) {
      // Port in use, say: release the threads and native sessions started above before failing.
      timeouts.close();
      HttpClients.shutdown(http);
      routing.close();
      closeQuietly(jvmMetrics);
      throw e;
    }
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

  @Override
  public void close() {
    server.close();
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
}
