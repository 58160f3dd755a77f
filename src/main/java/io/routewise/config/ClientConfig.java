package io.routewise.config;

import java.time.Duration;

/**
 * The one shared upstream HTTP client: its connection pool size, idle keep-alive, and how far ahead of
 * a stream's reader an HTTP/2 upstream may send.
 */
public record ClientConfig(int maxIdleConnections, Duration keepAlive, int http2StreamWindowBytes) {
  /** The default {@code http2_stream_window_bytes}: 1 MiB, not OkHttp's 16 (see HttpClients). */
  public static final int DEFAULT_HTTP2_STREAM_WINDOW_BYTES = 1 << 20;

  /** HTTP/2's own initial window, the least a stream may have; and OkHttp's, the most it lowers to. */
  public static final int MIN_HTTP2_STREAM_WINDOW_BYTES = 65_535;
  public static final int MAX_HTTP2_STREAM_WINDOW_BYTES = 16 << 20;

  public ClientConfig(int maxIdleConnections, Duration keepAlive) {
    this(maxIdleConnections, keepAlive, DEFAULT_HTTP2_STREAM_WINDOW_BYTES);
  }
}
