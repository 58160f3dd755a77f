package io.routewise.config;

/**
 * @param host interface to bind
 * @param port TCP port
 * @param maxBodyBytes larger request bodies get 413
 */
public record ServerConfig(String host, int port, long maxBodyBytes) {
  public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;

  public ServerConfig withPort(int newPort) {
    return new ServerConfig(host, newPort, maxBodyBytes);
  }
}
