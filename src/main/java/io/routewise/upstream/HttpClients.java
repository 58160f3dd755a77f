package io.routewise.upstream;

import io.routewise.config.ClientConfig;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.internal.connection.ConnectionListener;
import java.util.List;

/** Builds the one OkHttp client that every upstream shares. */
public final class HttpClients {
  static final java.time.Duration H2_PING_INTERVAL = java.time.Duration.ofSeconds(5);

  /** OkHttp's connection's HTTP/2 side; null where another OkHttp has none by that name (Http2WindowTest fails). */
  private static final java.lang.reflect.Field HTTP2_CONNECTION = http2ConnectionField();

  private static java.lang.reflect.Field http2ConnectionField() {
    try {
      java.lang.reflect.Field f = okhttp3.internal.connection.RealConnection.class.getDeclaredField("http2Connection");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      // OkHttp is pinned in the pom: only a changed pin gets here, and then the window stays OkHttp's
      return null;
    }
  }

  private HttpClients() {}

  public static OkHttpClient shared(ClientConfig config) {
    Dispatcher dispatcher = new Dispatcher();
    // Only async calls use the dispatcher; keep its limits out of the way of concurrent streams.
    dispatcher.setMaxRequests(Math.max(64, config.maxIdleConnections()));
    dispatcher.setMaxRequestsPerHost(Math.max(64, config.maxIdleConnections()));
    return new OkHttpClient.Builder()
        .connectionPool(new ConnectionPool(config.maxIdleConnections(), config.keepAlive().toMillis(),
            TimeUnit.MILLISECONDS, PoolCleanup.RUNNER, ConnectionListener.Companion.getNONE()))
        .dispatcher(dispatcher)
        .socketFactory(new NoDelaySocketFactory())
        .dns(UpstreamClient.DNS)
        .protocols(protocols(Runtime.version().feature()))
        // Off: OkHttp would replay a POST on each pooled connection that dropped it, so one request
        // whose upstream crashed or cut it off ran (and was billed) once per idle connection.
        // Failover, when on, is the one retry, and it is counted.
        .retryOnConnectionFailure(false)
        .followRedirects(false)
        // HTTP/2 only: retires a connection whose peer stopped answering. OkHttp's own check rides on
        // per-read timeouts, which IdleTimeouts replaces; without this a half-open h2 connection would
        // keep taking calls (each a 504) until the kernel gives up on it.
        .pingInterval(H2_PING_INTERVAL)
        // The most an HTTP/2 upstream may send ahead of what a stream's reader took: OkHttp's 16 MiB
        // window is held on the heap per stream (it acknowledges the connection's window on receipt),
        // so each client not reading a large stream or download held up to 16 MiB (20 such clients:
        // 270 MB) where HTTP/1.1 leaves it in the kernel's socket buffers. A chat stream never nears
        // 1 MiB; one large download runs at about half a window a round trip (a review, through nginx:
        // ~10 MB/s at 50 ms, ~5 MB/s at 100 ms), so client.http2_stream_window_bytes can raise it.
        .addNetworkInterceptor(chain -> {
          limitStreamWindow(chain.connection(), config.http2StreamWindowBytes());
          okhttp3.Response response = chain.proceed(chain.request());
          retireIfClosing(chain.connection(), response);
          return response;
        })
        .build();
  }

  /**
   * HTTP/2 only on JDK 24+: OkHttp's HTTP/2 streams wait inside {@code synchronized} blocks, which
   * before JDK 24 pin a virtual thread's carrier for the whole wait; a few hundred slow streams
   * would then stall every request. HTTP/1.1 has no such waits.
   */
  public static List<Protocol> protocols(int javaFeatureVersion) {
    return javaFeatureVersion >= 24 ? List.of(Protocol.HTTP_2, Protocol.HTTP_1_1) : List.of(Protocol.HTTP_1_1);
  }

  /**
   * Lowers a new HTTP/2 connection's stream window to {@code windowBytes} (a SETTINGS
   * frame, sent before any later stream's headers, so the upstream opens those with it); once per
   * connection. OkHttp has no option for it, so its connection is reached by reflection. A server that
   * applies a SETTINGS frame only after the frames behind it (against RFC 9113 §6.5.3; OkHttp's own
   * MockWebServer does, nginx, Go, Envoy and Netty do not) may send a connection's first stream past
   * the smaller window, which OkHttp then resets (FLOW_CONTROL_ERROR): a 502 there.
   */
  static void limitStreamWindow(okhttp3.Connection connection, int windowBytes) {
    if (HTTP2_CONNECTION == null || !(connection instanceof okhttp3.internal.connection.RealConnection real)
        || connection.protocol() != Protocol.HTTP_2 && connection.protocol() != Protocol.H2_PRIOR_KNOWLEDGE) {
      return;
    }
    okhttp3.internal.http2.Http2Connection h2;
    try {
      h2 = (okhttp3.internal.http2.Http2Connection) HTTP2_CONNECTION.get(real);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
    if (h2 != null && h2.getOkHttpSettings().getInitialWindowSize() > windowBytes) {
      try {
        h2.setSettings(new okhttp3.internal.http2.Settings()
            .set(okhttp3.internal.http2.Settings.INITIAL_WINDOW_SIZE, windowBytes));
      } catch (java.io.IOException e) {
        // shut down meanwhile (a GOAWAY): the request fails, or is resent, as it would have without this
      }
    }
  }

  /**
   * An HTTP/1.0 answer without {@code Connection: keep-alive} ends its connection (RFC 9112 section
   * 9.3; Python's http.server answers so), which OkHttp pools all the same (it looks only for {@code
   * Connection: close}): the next request, drawn within the second before {@link StaleConnections}
   * looks, was written into the closed connection and failed. Such a connection is not handed out again.
   */
  static void retireIfClosing(okhttp3.Connection connection, okhttp3.Response response) {
    if (response.protocol() == Protocol.HTTP_1_0 && connection instanceof okhttp3.internal.connection.RealConnection real
        && response.headers("Connection").stream()
            .noneMatch(v -> v.toLowerCase(java.util.Locale.ROOT).contains("keep-alive"))) {
      real.noNewExchanges();
    }
  }

  public static void shutdown(OkHttpClient client) {
    // Calls still waiting on an upstream (past the shutdown grace: their clients' connections are
    // closed): cancelled, since the watchdog that would time them out stops next and nothing else would.
    client.dispatcher().cancelAll();
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }
}
