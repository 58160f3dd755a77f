package io.routewise.config;

import java.time.Duration;
import java.util.List;

/**
 * @param host interface to bind
 * @param port TCP port
 * @param maxBodyBytes larger request bodies get 413
 * @param apiKeys when not empty, every {@code /v1/*} call must carry one of them as its bearer
 *     token (401 otherwise); {@code /health} and {@code /metrics} stay open
 * @param shutdownGrace on shutdown, how long requests already in flight may take to finish while new
 *     chat requests get 503; zero stops at once
 * @param corsOrigins browser origins (e.g. {@code https://app.example.com}, or {@code *}) allowed to
 *     call {@code /v1/*} from their pages; empty: no CORS headers, as before
 * @param accessLog one log line per API request (decision, status, time, request ids), never the prompt
 */
public record ServerConfig(String host, int port, long maxBodyBytes, List<Secret> apiKeys, Duration shutdownGrace,
    List<String> corsOrigins, boolean accessLog) {
  public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;
  /** Under Kubernetes' default termination grace (30 s), so the drain ends before the SIGKILL. */
  public static final long DEFAULT_SHUTDOWN_GRACE_MS = 25_000;

  public ServerConfig {
    apiKeys = List.copyOf(apiKeys);
    corsOrigins = List.copyOf(corsOrigins);
  }

  public ServerConfig(String host, int port, long maxBodyBytes) {
    this(host, port, maxBodyBytes, List.of(), Duration.ofMillis(DEFAULT_SHUTDOWN_GRACE_MS), List.of(), false);
  }

  public ServerConfig withPort(int newPort) {
    return new ServerConfig(host, newPort, maxBodyBytes, apiKeys, shutdownGrace, corsOrigins, accessLog);
  }
}
