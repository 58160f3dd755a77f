package io.routewise.config;

import java.nio.file.Path;

/**
 * The whole configuration, validated. Router and embedding settings stay as {@link ConfigNode}s
 * here and are read into their own records by the router factories at start, against the same
 * {@link ConfigProblems}, so a start still reports every problem at once.
 *
 * @param modelsDir where shipped router models live (relative paths resolve against the working dir)
 * @param targets {@code routers.<name>.target} by router name, for the routers that have one
 * @param state where targets and session pins are shared between replicas (top-level {@code state:})
 */
public record RoutewiseConfig(
    ServerConfig server,
    UpstreamConfig strong,
    UpstreamConfig weak,
    RoutingConfig routing,
    ClientConfig client,
    Path modelsDir,
    ConfigNode embedding,
    ConfigNode routers,
    java.util.Map<String, TargetConfig> targets,
    StateConfig state) {

  public RoutewiseConfig {
    targets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(targets));
  }

  /** Without targets, state local only. */
  public RoutewiseConfig(ServerConfig server, UpstreamConfig strong, UpstreamConfig weak, RoutingConfig routing,
      ClientConfig client, Path modelsDir, ConfigNode embedding, ConfigNode routers) {
    this(server, strong, weak, routing, client, modelsDir, embedding, routers, java.util.Map.of(), StateConfig.LOCAL);
  }

  public RoutewiseConfig withPort(int port) {
    return new RoutewiseConfig(server.withPort(port), strong, weak, routing, client, modelsDir, embedding, routers,
        targets, state);
  }
}
