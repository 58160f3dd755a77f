package io.routewise.cli;

import io.routewise.Routewise;
import io.routewise.config.ConfigException;
import io.routewise.config.ConfigLoader;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.routers.RouterCatalog;
import java.nio.file.Path;

/**
 * What {@code serve} reads, checks and loads before it listens, and all {@code check} does: one code
 * path, so a config {@code check} passes starts but for what only a start meets (the port, and then
 * the upstreams, the judge and Redis, which a start does not contact either).
 *
 * @param config the config as loaded, {@code --port} applied
 * @param embedders the embedders the routers were loaded with
 * @param checked the routers loaded and what start decided from the config
 */
record Startup(RoutewiseConfig config, Embedders embedders, Routewise.Checked checked) implements AutoCloseable {
  /** The exit code of a config or start problem. */
  static final int PROBLEM = 2;

  /**
   * Loads {@code configFile} (with the environment's variables) and everything it names; a problem is
   * printed as one {@code routewise: ...} line (or the config's list of them) and gives null.
   */
  static Startup load(Path configFile, Integer port) {
    try {
      RoutewiseConfig cfg = ConfigLoader.fromSystemEnv().load(configFile);
      if (port != null) {
        if (port < 0 || port > 65535) {
          return refused("--port must be between 0 and 65535, got " + port);
        }
        cfg = cfg.withPort(port);
      }
      ConfigProblems problems = new ConfigProblems();
      EmbeddingSettings embedding = EmbeddingSettings.from(cfg.embedding().reportingTo(problems), cfg.modelsDir());
      problems.throwIfAny();
      Embedders embedders = new Embedders(embedding);
      try {
        return new Startup(cfg, embedders, Routewise.check(cfg, RouterCatalog.standard(), embedders));
      } catch (RuntimeException e) {
        embedders.close();
        throw e;
      }
    } catch (ConfigException e) {
      return refused(e.messageIn(configFile.toString()));
    }
  }

  /** Says why routewise does not start, as serve says it. */
  static Startup refused(String why) {
    System.err.println("routewise: " + why);
    return null;
  }

  /** Closes what was loaded, for a command that does not go on to serve it. */
  @Override
  public void close() {
    checked.close();
    embedders.close();
  }
}
