package io.routewise.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The whole configuration, validated. Router and embedding settings stay as {@link ConfigNode}s
 * here and are read into their own records by the router factories at start, against the same
 * {@link ConfigProblems}, so a start still reports every problem at once.
 *
 * @param strong the {@code strong} upstream, the most capable one (also in {@code upstreams})
 * @param weak the {@code weak} upstream (also in {@code upstreams})
 * @param modelsDir where shipped router models live (relative paths resolve against the working dir)
 * @param upstreams every entry under {@code upstreams:} in the order written, {@code strong} and
 *     {@code weak} included; with only those two, routing is two-way as it always was
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
    List<UpstreamConfig> upstreams,
    java.util.Map<String, TargetConfig> targets,
    StateConfig state) {

  public RoutewiseConfig {
    upstreams = List.copyOf(upstreams);
    targets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(targets));
  }

  /** Without targets, state local only. */
  public RoutewiseConfig(ServerConfig server, UpstreamConfig strong, UpstreamConfig weak, RoutingConfig routing,
      ClientConfig client, Path modelsDir, ConfigNode embedding, ConfigNode routers, List<UpstreamConfig> upstreams) {
    this(server, strong, weak, routing, client, modelsDir, embedding, routers, upstreams, java.util.Map.of(),
        StateConfig.LOCAL);
  }

  /** Two upstreams, strong and weak; no targets, state local only. */
  public RoutewiseConfig(ServerConfig server, UpstreamConfig strong, UpstreamConfig weak, RoutingConfig routing,
      ClientConfig client, Path modelsDir, ConfigNode embedding, ConfigNode routers) {
    this(server, strong, weak, routing, client, modelsDir, embedding, routers, List.of(strong, weak));
  }

  public RoutewiseConfig withPort(int port) {
    return withServer(server.withPort(port));
  }

  public RoutewiseConfig withServer(ServerConfig newServer) {
    return new RoutewiseConfig(newServer, strong, weak, routing, client, modelsDir, embedding, routers,
        upstreams, targets, state);
  }
}
