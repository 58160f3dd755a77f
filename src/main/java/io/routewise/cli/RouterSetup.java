package io.routewise.cli;

import io.routewise.config.ClientConfig;
import io.routewise.config.ConfigException;
import io.routewise.config.ConfigLoader;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.RoutingConfig;
import io.routewise.config.Secret;
import io.routewise.config.ServerConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Router;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds routers for the offline commands (score, calibrate, eval) the same way {@code serve} does:
 * through {@link RouterCatalog}, from a config file or, without one, from defaults.
 *
 * <p>A router argument is {@code NAME} or {@code NAME=MODEL_DIR} (e.g. {@code mf=models/mf-heldout}),
 * which sets that router's {@code model_dir}. {@code strongModel}/{@code weakModel}, when given, play
 * the upstreams' model names (the trained model ids the learned routers compare).
 */
final class RouterSetup implements AutoCloseable {
  private final RoutewiseConfig base;
  private final RoutewiseConfig configured; // the --config file as loaded, every upstream kept (null without one)
  private final Embedders embedders;

  /** The commands' shared options; {@code cacheEntries} >= 0 overrides the embedding LRU size (0 = no cache, for timing). */
  RouterSetup(RouterOptions opts, String strongModel, int cacheEntries) {
    this(opts.config, opts.modelsDir, strongModel, opts.embeddingCache, cacheEntries, opts.embeddingModel);
  }

  RouterSetup(RouterOptions opts, String strongModel) {
    this(opts, strongModel, -1);
  }

  /**
   * {@code cacheEntries} >= 0 overrides the embedding LRU size (0 = no cache, for timing);
   * {@code embeddingModel}, when not null, overrides {@code embedding.model}.
   */
  RouterSetup(Path configFile, Path modelsDir, String strongModel, Path embeddingStore, int cacheEntries,
      String embeddingModel) {
    RoutewiseConfig cfg = configFile != null ? ConfigLoader.offline().load(configFile) : null; // no upstream called
    this.configured = cfg;
    ConfigProblems problems = new ConfigProblems();
    UpstreamConfig strong = cfg != null ? cfg.strong() : upstream("strong", strongModel);
    UpstreamConfig weak = cfg != null ? cfg.weak() : upstream("weak", null);
    Path models = modelsDir != null ? modelsDir : cfg != null ? cfg.modelsDir() : Path.of("models");
    ConfigNode embedding = cfg != null ? cfg.embedding() : ConfigNode.empty("embedding", problems);
    ConfigNode routers = cfg != null ? cfg.routers() : ConfigNode.empty("routers", problems);
    this.base = new RoutewiseConfig(new ServerConfig("127.0.0.1", 0, 1), strong, weak,
        new RoutingConfig("random", 0.5), new ClientConfig(1, Duration.ofSeconds(1)), models, embedding, routers);
    // read as serve reads it, its problems thrown here: the loader's list, thrown before, never sees them
    EmbeddingSettings settings = EmbeddingSettings.from(embedding.reportingTo(problems), models, embeddingModel);
    if (embeddingModel != null) {
      String unknown = EmbeddingSettings.unknownModel(embeddingModel, models);
      if (unknown != null) {
        problems.add("--embedding-model", unknown);
      }
    }
    problems.throwIfAny();
    if (embeddingStore != null) {
      settings = settings.withStoreDir(embeddingStore);
    }
    if (cacheEntries >= 0) {
      settings = settings.withCacheEntries(cacheEntries);
    }
    this.embedders = new Embedders(settings);
  }

  private static UpstreamConfig upstream(String name, String model) {
    return new UpstreamConfig(name, URI.create("http://localhost"), Secret.of("none"), model == null ? "" : model,
        Duration.ofSeconds(1), Duration.ofSeconds(1));
  }

  /** Loads one router by its argument; throws {@link ConfigException} listing every problem. */
  Router load(String arg, String strongModel, String weakModel) {
    return load(arg, strongModel, weakModel, false);
  }

  /**
   * With {@code pinModels}, the given model ids become the router's {@code strong_model} /
   * {@code weak_model} settings (mf, sw_ranking), so an id the router does not know is an error
   * rather than a silent fall-back to the manifest's default pair (score, calibrate). Without it
   * they only play the upstreams' model names (eval: a benchmark's ids need not be trained ones).
   */
  Router load(String arg, String strongModel, String weakModel, boolean pinModels) {
    String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
    String dir = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1) : null;
    ConfigProblems problems = new ConfigProblems();
    Map<String, Object> settings = settings(name, dir, problems);
    if (pinModels && PAIR_ROUTERS.contains(name)) {
      if (strongModel != null) {
        settings.put("strong_model", strongModel);
      }
      if (weakModel != null) {
        settings.put("weak_model", weakModel);
      }
    }
    Map<String, Object> routersMap = new LinkedHashMap<>();
    routersMap.put(name, settings);
    UpstreamConfig strong = strongModel == null ? base.strong() : upstream("strong", strongModel);
    UpstreamConfig weak = weakModel == null ? base.weak() : upstream("weak", weakModel);
    RoutewiseConfig cfg = new RoutewiseConfig(base.server(), strong, weak, new RoutingConfig(name, 0.5),
        base.client(), base.modelsDir(), base.embedding(), new ConfigNode("routers", routersMap, problems));
    Map<String, Router> loaded = RouterCatalog.standard().load(cfg, embedders, problems);
    problems.throwIfAny();
    loaded.forEach((k, r) -> {
      if (!k.equals(name)) {
        r.close();
      }
    });
    return loaded.get(name);
  }

  /**
   * Loads one router for a ladder of upstreams (eval's N-way mode), each upstream's {@code model}
   * being a benchmark model id: learned routers place every one of them on a trained model, and an
   * id they do not know is an error, as at {@code serve}.
   */
  Router load(String arg, List<UpstreamConfig> upstreams) {
    String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
    String dir = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1) : null;
    ConfigProblems problems = new ConfigProblems();
    Map<String, Object> settings = settings(name, dir, problems);
    UpstreamConfig strong = upstreams.stream().filter(u -> u.name().equals("strong")).findFirst().orElseThrow();
    UpstreamConfig weak = upstreams.stream().filter(u -> u.name().equals("weak")).findFirst().orElseThrow();
    RoutewiseConfig cfg = new RoutewiseConfig(base.server(), strong, weak, new RoutingConfig(name, 0.5),
        base.client(), base.modelsDir(), base.embedding(), new ConfigNode("routers", Map.of(name, settings), problems),
        upstreams);
    Map<String, Router> loaded = RouterCatalog.standard().load(cfg, embedders, problems);
    problems.throwIfAny();
    loaded.forEach((k, r) -> {
      if (!k.equals(name)) {
        r.close();
      }
    });
    return loaded.get(name);
  }

  /** The router's settings from the config, with {@code dir} as its model directory when given. */
  private Map<String, Object> settings(String name, String dir, ConfigProblems problems) {
    Map<String, Object> settings = new LinkedHashMap<>();
    if (base.routers().has(name) && !base.routers().hasMapping(name)) {
      base.routers().reportingTo(problems).child(name); // "must be a mapping", as serve says (not its defaults, silently)
      problems.throwIfAny();
    }
    ConfigNode configured = base.routers().children().get(name);
    if (configured != null) {
      // The target is the controller's, not the router's (see RouterCatalog.load).
      configured.keys().stream().filter(k -> !k.equals("target")).forEach(k -> settings.put(k, rawValue(configured, k)));
    }
    if (dir != null) {
      settings.put("model_dir", dir);
    }
    if (name.equals(io.routewise.routers.causal.CausalLlmRouter.NAME)) {
      // every prompt of a file is asked: a judge's cooldown would count its prompts as failures to save
      // waits no user sits through (serve's requests go strong meanwhile; a file's figures would change)
      settings.put("cooldown_ms", 0);
    }
    return settings;
  }

  /** An upstream standing for one benchmark model, at a price (USD per million input, output tokens). */
  static UpstreamConfig upstream(String name, String model, double inputPrice, double outputPrice) {
    return upstream(name, model).withPrice(new io.routewise.config.Price(inputPrice, outputPrice));
  }

  /** Routers whose settings name the trained model ids standing for the two upstreams. */
  private static final java.util.Set<String> PAIR_ROUTERS =
      java.util.Set.of(io.routewise.routers.mf.MfRouter.NAME, io.routewise.routers.sw.SwRankingRouter.NAME);

  private static Object rawValue(ConfigNode node, String key) {
    // ConfigNode exposes typed getters only; the offline commands need the value back as YAML gave it.
    // A list (e.g. bert's weak_ok_labels) fails string() and is read as a list; the problem string()
    // records lands in the constructor's problem list, already checked.
    String s = node.string(key, null);
    return s != null ? s : node.stringList(key, null);
  }

  /** The config file given with {@code --config}, as {@code serve} would load it; empty without one. */
  java.util.Optional<RoutewiseConfig> configured() {
    return java.util.Optional.ofNullable(configured);
  }

  Embedders embedders() {
    return embedders;
  }

  @Override
  public void close() {
    embedders.close();
  }
}
