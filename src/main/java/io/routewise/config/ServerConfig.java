package io.routewise.config;

import java.util.List;

/**
 * @param host interface to bind
 * @param port TCP port
 * @param maxBodyBytes larger request bodies get 413
 * @param apiKeys when not empty, every {@code /v1/*} call must carry one of them as its bearer
 *     token (401 otherwise); {@code /health} and {@code /metrics} stay open
 */
public record ServerConfig(String host, int port, long maxBodyBytes, List<Secret> apiKeys) {
  public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;

  public ServerConfig {
    apiKeys = List.copyOf(apiKeys);
  }

  public ServerConfig(String host, int port, long maxBodyBytes) {
    this(host, port, maxBodyBytes, List.of());
  }

  public ServerConfig withPort(int newPort) {
    return new ServerConfig(host, newPort, maxBodyBytes, apiKeys);
  }
}
