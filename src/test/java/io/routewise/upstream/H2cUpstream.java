package io.routewise.upstream;

import io.routewise.config.ClientConfig;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;

/** A MockWebServer speaking HTTP/2 without TLS, and routewise's upstream client to it, as serve builds one. */
final class H2cUpstream implements AutoCloseable {
  final MockWebServer server = new MockWebServer();
  final IdleTimeouts timeouts = IdleTimeouts.forTimeouts(Duration.ofSeconds(5));
  final OkHttpClient shared;
  final UpstreamClient upstream;

  H2cUpstream() throws java.io.IOException {
    this(new ClientConfig(4, Duration.ofSeconds(30)));
  }

  H2cUpstream(ClientConfig client) throws java.io.IOException {
    server.setProtocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)); // HTTP/2 without TLS, both sides
    server.start(java.net.InetAddress.getLoopbackAddress(), 0);
    shared = HttpClients.shared(client).newBuilder()
        .protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)).build();
    upstream = new UpstreamClient(new UpstreamConfig("strong", server.url("/v1").uri(), Secret.of("none"), "m",
        Duration.ofSeconds(5), Duration.ofSeconds(5)), shared, timeouts, UpstreamListener.NONE);
  }

  @Override
  public void close() {
    HttpClients.shutdown(shared);
    timeouts.close();
    server.close();
  }
}
