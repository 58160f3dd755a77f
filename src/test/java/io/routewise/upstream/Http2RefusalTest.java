package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.routewise.config.ClientConfig;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.SocketEffect;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.internal.http2.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/2 upstream may refuse a stream before processing it (REFUSED_STREAM), which is also how
 * OkHttp reports the streams a GOAWAY left out when a server rotates its connections. Such a request
 * is safe to send again (RFC 9113 §8.7); before, with OkHttp's own retries off, it was a 502, or a
 * failover to a dearer model. Any other reset may come after the upstream did the work, and is not
 * resent.
 */
class Http2RefusalTest {
  private static final String ANSWER = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[]}";

  private MockWebServer server;
  private IdleTimeouts timeouts;
  private OkHttpClient shared;
  private UpstreamClient upstream;

  @BeforeEach
  void start() throws Exception {
    server = new MockWebServer();
    server.setProtocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)); // HTTP/2 without TLS, both sides
    server.start(java.net.InetAddress.getLoopbackAddress(), 0);
    timeouts = IdleTimeouts.forTimeouts(Duration.ofSeconds(5));
    shared = HttpClients.shared(new ClientConfig(4, Duration.ofSeconds(30))).newBuilder()
        .protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)).build();
    upstream = new UpstreamClient(new UpstreamConfig("strong", server.url("/v1").uri(), Secret.of("none"), "m",
        Duration.ofSeconds(5), Duration.ofSeconds(5)), shared, timeouts, UpstreamListener.NONE);
  }

  @AfterEach
  void stop() {
    HttpClients.shutdown(shared);
    timeouts.close();
    server.close();
  }

  private String call() throws Exception {
    try (UpstreamResponse r = upstream.send("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8), false)) {
      assertEquals(200, r.status());
      return new String(r.bodyBytes(1 << 20), StandardCharsets.UTF_8);
    }
  }

  /**
   * Exactly {@code n} requests reached the server: the server may record a refused one just after
   * the client has heard the refusal, so each is waited for, and then a moment for one too many.
   */
  private void assertRequests(int n) throws InterruptedException {
    for (int i = 0; i < n; i++) {
      org.junit.jupiter.api.Assertions.assertNotNull(server.takeRequest(5, java.util.concurrent.TimeUnit.SECONDS),
          "request " + (i + 1) + " of " + n);
    }
    org.junit.jupiter.api.Assertions.assertNull(server.takeRequest(300, java.util.concurrent.TimeUnit.MILLISECONDS),
        "more than " + n + " requests");
  }

  private static MockResponse resetWith(ErrorCode code) {
    return new MockResponse.Builder().onRequestStart(new SocketEffect.CloseStream(code.getHttpCode())).build();
  }

  @Test
  void aStreamRefusedBeforeProcessingIsSentAgain() throws Exception {
    server.enqueue(resetWith(ErrorCode.REFUSED_STREAM));
    server.enqueue(new MockResponse.Builder().body(ANSWER).build());
    assertEquals(ANSWER, call(), "the refused request went again and was answered");
    assertRequests(2);
  }

  @Test
  void aSecondRefusalIsTheClientsAnswerNotALoop() throws Exception {
    server.enqueue(resetWith(ErrorCode.REFUSED_STREAM));
    server.enqueue(resetWith(ErrorCode.REFUSED_STREAM));
    server.enqueue(new MockResponse.Builder().body(ANSWER).build());
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals(false, e.isTimeout(), "a 502, not a 504");
    assertRequests(2); // one resend, no more
  }

  @Test
  void anyOtherResetMayComeAfterTheWorkAndIsNotResent() throws Exception {
    server.enqueue(resetWith(ErrorCode.INTERNAL_ERROR));
    server.enqueue(new MockResponse.Builder().body(ANSWER).build());
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals(false, e.isTimeout(), "a 502, not a 504");
    assertRequests(1);
  }
}
