package io.routewise.routers;

import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.EmbedderSource;
import io.routewise.routers.bert.BertRouter;
import io.routewise.routers.causal.CausalLlmRouter;
import io.routewise.routers.length.LengthRouter;
import io.routewise.routers.mf.MfRouter;
import io.routewise.routers.random.RandomRouter;
import io.routewise.routers.sw.SwRankingRouter;
import io.routewise.routing.Ladder;
import io.routewise.routing.Router;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every router routewise knows, by name: one line per router, no reflection. It lives here rather
 * than in {@code routing} because it names the concrete routers, and {@code routing} must not depend
 * on them.
 *
 * <p>{@code random} is always loaded; any other router is loaded when it has an entry under
 * {@code routers:} in the config ({@code mf: {}} takes its defaults).
 */
public final class RouterCatalog {
  private final Map<String, RouterFactory> factories = new LinkedHashMap<>();

  public static RouterCatalog standard() {
    return new RouterCatalog()
        .with(RandomRouter.NAME, RandomRouter::create)
        .with(LengthRouter.NAME, LengthRouter::create)
        .with(MfRouter.NAME, MfRouter::create)
        .with(SwRankingRouter.NAME, SwRankingRouter::create)
        .with(BertRouter.NAME, BertRouter::create)
        .with(CausalLlmRouter.NAME, CausalLlmRouter::create);
  }

  /** The configured upstreams as a ladder, most capable first ({@link Ladder#byPrice}). */
  public static Ladder ladder(RoutewiseConfig config) {
    return Ladder.byPrice(config.upstreams().stream().map(u -> new Ladder.Rung(u.name(), u.model(),
            u.price() == null ? Double.NaN : u.price().input(), u.price() == null ? Double.NaN : u.price().output(),
            u.accepts().stream().map(k -> io.routewise.routing.Media.valueOf(k.toUpperCase(java.util.Locale.ROOT)))
                .collect(java.util.stream.Collectors.toSet()))).toList(),
        config.routing().tokenMix()[0], config.routing().tokenMix()[1]);
  }

  /** The configured upstreams in {@link #ladder} order. */
  public static List<UpstreamConfig> inLadderOrder(RoutewiseConfig config) {
    Map<String, UpstreamConfig> byName = new LinkedHashMap<>();
    config.upstreams().forEach(u -> byName.put(u.name(), u));
    return ladder(config).rungs().stream().map(r -> byName.get(r.upstream())).toList();
  }

  /** The routers that load a model directory ({@code model_dir}, else {@code <models_dir>/<name>}). */
  private static final Set<String> WITH_MODEL_DIR = Set.of(MfRouter.NAME, SwRankingRouter.NAME, BertRouter.NAME);

  /** The model directory {@code router} loads under {@code config}; empty for a router that loads none. */
  public static java.util.Optional<java.nio.file.Path> modelDir(RoutewiseConfig config, String router) {
    if (!WITH_MODEL_DIR.contains(router)) {
      return java.util.Optional.empty();
    }
    ConfigNode settings = config.routers().children().get(router);
    return java.util.Optional.of(ModelDir.dirFor(settings != null ? settings
        : ConfigNode.empty("routers." + router, new ConfigProblems()), config.modelsDir(), router));
  }

  public RouterCatalog with(String name, RouterFactory factory) {
    factories.put(name, factory);
    return this;
  }

  public Set<String> names() {
    return Collections.unmodifiableSet(factories.keySet());
  }

  public RouterFactory factory(String name) {
    return factories.get(name);
  }

  /**
   * Builds the configured routers. Every problem (unknown router name, bad settings, missing or
   * corrupt model files) is recorded in {@code problems}; the caller throws them all together.
   * Routers built before a problem are closed before returning an empty map.
   */
  public Map<String, Router> load(RoutewiseConfig config, EmbedderSource embedders, ConfigProblems problems) {
    Map<String, Router> loaded = new LinkedHashMap<>();
    Map<String, ConfigNode> wanted = new LinkedHashMap<>();
    wanted.put(RandomRouter.NAME, ConfigNode.empty("routers." + RandomRouter.NAME, problems));
    // The routers node was parsed against the loader's problems, which have already been thrown;
    // settings problems found now must land in ours.
    for (var e : config.routers().reportingTo(problems).children().entrySet()) {
      if (!factories.containsKey(e.getKey())) {
        problems.add(e.getValue().path(), "unknown router (known routers: " + String.join(", ", factories.keySet()) + ")");
      } else {
        wanted.put(e.getKey(), e.getValue());
      }
    }
    for (var e : wanted.entrySet()) {
      String name = e.getKey();
      ConfigNode settings = e.getValue();
      try {
        Router r = factories.get(name).create(
            new RouterContext(name, settings, config.modelsDir(), embedders, inLadderOrder(config)));
        settings.readElsewhere("target"); // the router's target: the config loader reads it, the router never sees it
        settings.rejectUnknownKeys();
        loaded.put(name, r);
      } catch (Exception | LinkageError ex) {
        problems.add(settings.path(), "cannot load router: " + ex.getMessage());
      }
    }
    if (!loaded.containsKey(config.routing().router()) && !problems.list().stream()
        .anyMatch(p -> p.startsWith("routers." + config.routing().router()))) {
      problems.add("routing.router", "'" + config.routing().router() + "' is not loaded (loaded: "
          + String.join(", ", loaded.keySet()) + "; add it under routers: to load it)");
    }
    if (!problems.isEmpty()) {
      loaded.values().forEach(Router::close);
      return Map.of();
    }
    return loaded;
  }
}
