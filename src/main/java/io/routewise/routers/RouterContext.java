package io.routewise.routers;

import io.routewise.config.ConfigNode;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.EmbedderSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a router factory gets at start.
 *
 * @param name the router's catalog name
 * @param settings its {@code routers.<name>} config mapping (possibly empty); the factory reads it
 *     with the typed getters and calls {@code rejectUnknownKeys()}
 * @param modelsDir the configured models directory (default {@code models/})
 * @param embedders shared sentence embedders
 * @param upstreams every upstream in ladder order, most capable ({@code strong}) first (see
 *     {@link io.routewise.routing.Ladder}); routers that score models one by one place each of them
 *     on a trained model ({@link ModelDir#placeUpstreams})
 */
public record RouterContext(
    String name, ConfigNode settings, Path modelsDir, EmbedderSource embedders, List<UpstreamConfig> upstreams) {

  public RouterContext {
    upstreams = List.copyOf(upstreams);
  }

  /**
   * Two upstreams; either may be null (a router loaded for training or a test).
   *
   * @param strong the strong upstream (its model name helps pick defaults)
   * @param weak the weak upstream
   */
  public RouterContext(String name, ConfigNode settings, Path modelsDir, EmbedderSource embedders,
      UpstreamConfig strong, UpstreamConfig weak) {
    this(name, settings, modelsDir, embedders, nonNull(strong, weak));
  }

  private static List<UpstreamConfig> nonNull(UpstreamConfig... upstreams) {
    List<UpstreamConfig> out = new ArrayList<>();
    for (UpstreamConfig u : upstreams) {
      if (u != null) {
        out.add(u);
      }
    }
    return out;
  }

  /** The {@code strong} upstream, or null. */
  public UpstreamConfig strong() {
    return named("strong");
  }

  /** The {@code weak} upstream, or null. */
  public UpstreamConfig weak() {
    return named("weak");
  }

  private UpstreamConfig named(String upstream) {
    return upstreams.stream().filter(u -> u.name().equals(upstream)).findFirst().orElse(null);
  }
}
