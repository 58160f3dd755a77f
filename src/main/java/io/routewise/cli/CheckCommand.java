package io.routewise.cli;

import io.routewise.config.Price;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.routers.RouterCatalog;
import io.routewise.routers.causal.CausalLlmRouter;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code routewise check}: everything {@code serve} checks and loads before it listens ({@link Startup}),
 * then a summary instead of listening. Binds no port; contacts no upstream, judge or Redis.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Check a config as serve would start it (routers and their models loaded), without serving it:"
        + " exit 0 and a summary, or serve's problems and exit 2.")
public final class CheckCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(CheckCommand.class);

  @Mixin
  ConfigOptions options;

  @Override
  public Integer call() {
    try (Startup start = Startup.load(options.config, options.port)) {
      if (start == null) {
        return Startup.PROBLEM;
      }
      RoutewiseConfig cfg = start.config();
      ServeCommand.startWarnings(cfg, cfg.server().port()).forEach(LOG::warn);
      summary(options.config, start).forEach(System.out::println);
      return 0;
    }
  }

  /** What would be served: listen address, upstreams, routers, embedding, targets, shared state. */
  static List<String> summary(Path file, Startup start) {
    RoutewiseConfig cfg = start.config();
    List<String> out = new ArrayList<>();
    out.add(file + ": OK, serve would listen on " + ServeCommand.listenAddress(cfg.server().host(), cfg.server().port())
        + " (not bound by check; no upstream, judge or Redis contacted)");
    out.add("upstreams, most capable first:");
    for (UpstreamConfig u : start.checked().upstreams()) {
      out.add("  " + u.name() + ": " + u.model() + ", " + price(u.price()) + ", at " + shown(u.baseUrl())
          + (u.routerModel() != null ? " (router_model " + u.routerModel() + ")" : ""));
    }
    out.add("routers loaded (default " + cfg.routing().router() + " at " + cfg.routing().threshold() + ", ladder rule "
        + cfg.routing().ladderRule() + "):");
    start.checked().routers().forEach((name, router) -> {
      String from = RouterCatalog.modelDir(cfg, name).map(d -> " from " + d)
          .orElse(router instanceof CausalLlmRouter judge ? " asking " + judge.settings().model() + " at "
              + shown(judge.settings().baseUrl()) : "");
      out.add("  " + name + from);
    });
    var embeddings = start.embedders().loaded().keySet();
    out.add("embedding: " + (embeddings.isEmpty() ? "none loaded (no router uses one)"
        : String.join(", ", embeddings.stream().sorted().toList())));
    List<String> targets = new ArrayList<>();
    cfg.targets().forEach((name, t) -> targets.add("router-" + name + "-auto holds " + t.kind().key() + " = "
        + t.value() + " over " + t.window().toSeconds() + " s"));
    out.add("targets: " + (targets.isEmpty() ? "none" : String.join("; ", targets)));
    out.add("clients: " + clients(cfg.server().apiKeys()));
    out.add("state: " + (!cfg.state().shared() ? "per replica (no state.redis)"
        : "redis at " + cfg.state().redisAddress() + (start.checked().usesStore() ? ", shared"
            : ", set but not used (nothing shares state)")));
    return out;
  }

  private static String price(Price p) {
    return p == null ? "no price" : "$" + p.input() + "/$" + p.output() + " per M tokens in/out"
        + cacheRates(p);
  }

  private static String cacheRates(Price p) {
    java.util.List<String> rates = new java.util.ArrayList<>();
    if (p.cachedInput() != p.input()) {
      rates.add("$" + p.cachedInput() + " cached in");
    }
    if (p.cacheWrite() != p.input()) {
      rates.add("$" + p.cacheWrite() + " cache write");
    }
    if (p.audioInput() != p.input() || p.audioOutput() != p.output()) {
      rates.add("$" + p.audioInput() + "/$" + p.audioOutput() + " audio in/out");
    }
    return rates.isEmpty() ? "" : " (" + String.join(", ", rates) + ")";
  }

  /** Who may call /v1: the named clients with their limits, how many unnamed keys, or anyone. */
  private static String clients(List<io.routewise.config.ClientKey> keys) {
    if (keys.isEmpty()) {
      return "no server.api_keys: anyone who reaches the port may call /v1";
    }
    List<String> named = new ArrayList<>();
    for (io.routewise.config.ClientKey k : keys) {
      if (k.name() == null) {
        continue;
      }
      List<String> limits = new ArrayList<>();
      if (k.keys().size() != 1) {
        limits.add(k.keys().size() + " keys");
      }
      if (k.budget() != null) {
        limits.add("budget " + k.budget().usd() + " USD per " + k.budget().per().key());
      }
      if (k.rateLimit() != null) {
        limits.add(k.rateLimit().requests() + " requests per " + k.rateLimit().per().key());
      }
      if (k.models() != null) {
        limits.add("models " + String.join(" ", k.models()));
      }
      named.add(k.name() + (limits.isEmpty() ? "" : " (" + String.join(", ", limits) + ")"));
    }
    return named.isEmpty() ? keys.size() + " unnamed key" + (keys.size() == 1 ? "" : "s") : String.join(", ", named);
  }

  /** A URL as a log may show it: no user info, query or fragment. */
  private static String shown(URI u) {
    return u.getScheme() + "://" + u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort())
        + (u.getRawPath() == null ? "" : u.getRawPath());
  }
}
