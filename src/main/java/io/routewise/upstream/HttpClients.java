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

  public static void shutdown(OkHttpClient client) {
    // Calls still waiting on an upstream (past the shutdown grace: their clients' connections are
    // closed): cancelled, since the watchdog that would time them out stops next and nothing else would.
    client.dispatcher().cancelAll();
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }
}
