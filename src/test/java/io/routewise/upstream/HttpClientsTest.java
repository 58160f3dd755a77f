package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.config.ClientConfig;
import java.time.Duration;
import java.util.List;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

class HttpClientsTest {
  @Test
  void http2OnlyWhereWaitingInsideSynchronizedNoLongerPinsCarrierThreads() {
    assertEquals(List.of(Protocol.HTTP_1_1), HttpClients.protocols(21));
    assertEquals(List.of(Protocol.HTTP_2, Protocol.HTTP_1_1), HttpClients.protocols(24));
  }

  /** The pool's cleanup runs on PoolCleanup's cadence: idle connections must still go after keep-alive. */
  @Test
  void idleConnectionsAreReusedThenClosedAfterKeepAlive() throws Exception {
    WireMockServer server = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
    OkHttpClient client = HttpClients.shared(new ClientConfig(4, Duration.ofMillis(300)));
    try {
      server.stubFor(WireMock.get("/x").willReturn(WireMock.ok("x")));
      for (int i = 0; i < 3; i++) {
        try (Response r = client.newCall(new Request.Builder().url(server.baseUrl() + "/x").build()).execute()) {
          assertEquals("x", r.body().string());
        }
      }
      assertEquals(1, client.connectionPool().connectionCount(), "one keep-alive connection served all three");
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (client.connectionPool().connectionCount() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertEquals(0, client.connectionPool().connectionCount(), "the idle connection outlived keep-alive by 5 s");
      assertTrue(PoolCleanup.MAX_LAG_NANOS <= Duration.ofSeconds(1).toNanos());
      // Read timeouts are IdleTimeouts' job, so HTTP/2 liveness must come from pings (see HttpClients).
      assertTrue(client.pingIntervalMillis() > 0, "HTTP/2 connections must be pinged");
    } finally {
      HttpClients.shutdown(client);
      server.stop();
    }
  }

  /**
   * A prompt over 8 KiB leaves in two writes; with Nagle on, the second waited for the upstream's
   * delayed ACK, ~40 ms on every other request (measured through routewise: 20 and 60 KB prompts
   * took 34-39 ms on alternate calls, 1-3 ms with Nagle off). The connection to the upstream must
   * have it off.
   */
  @Test
  void upstreamConnectionsHaveNaglesAlgorithmOff() throws Exception {
    WireMockServer server = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
    OkHttpClient shared = HttpClients.shared(new ClientConfig(4, Duration.ofSeconds(30)));
    java.util.concurrent.atomic.AtomicReference<Boolean> noDelay = new java.util.concurrent.atomic.AtomicReference<>();
    OkHttpClient client = shared.newBuilder().eventListener(new okhttp3.EventListener() {
      @Override
      public void connectionAcquired(okhttp3.Call call, okhttp3.Connection connection) {
        try {
          noDelay.set(connection.socket().getTcpNoDelay());
        } catch (java.net.SocketException e) {
          throw new IllegalStateException(e);
        }
      }
    }).build();
    try {
      server.stubFor(WireMock.post("/v1/chat/completions").willReturn(WireMock.ok("{}")));
      byte[] longPrompt = ("{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(20_000) + "\"}]}")
          .getBytes(java.nio.charset.StandardCharsets.UTF_8);
      try (Response r = client.newCall(new Request.Builder().url(server.baseUrl() + "/v1/chat/completions")
          .post(okhttp3.RequestBody.create(longPrompt, okhttp3.MediaType.get("application/json"))).build()).execute()) {
        assertEquals(200, r.code());
      }
      assertEquals(Boolean.TRUE, noDelay.get(), "TCP_NODELAY on the upstream connection");
    } finally {
      HttpClients.shutdown(shared);
      server.stop();
    }
  }
}
