package io.routewise.config;

import java.nio.file.Path;

/**
 * The whole configuration, validated. Router and embedding settings stay as {@link ConfigNode}s
 * here and are read into their own records by the router factories at start, against the same
 * {@link ConfigProblems}, so a start still reports every problem at once.
 *
 * @param modelsDir where shipped router models live (relative paths resolve against the working dir)
 */
public record RoutewiseConfig(
    ServerConfig server,
    UpstreamConfig strong,
    UpstreamConfig weak,
    RoutingConfig routing,
    ClientConfig client,
    Path modelsDir,
    ConfigNode embedding,
    ConfigNode routers) {

  public RoutewiseConfig withPort(int port) {
    return new RoutewiseConfig(server.withPort(port), strong, weak, routing, client, modelsDir, embedding, routers);
  }
}
