package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.http.Fault;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** What an upstream that drops a request, or asks clients not to retry, gets from routewise. */
class UpstreamReplayTest {

  @Test
  void aRequestTheUpstreamDroppedIsSentOnceHoweverManyConnectionsArePooled() throws Exception {
    try (ProxyFixture f = new ProxyFixture("")) {
      List<CompletableFuture<HttpResponse<String>>> warm = new ArrayList<>();
      for (int i = 0; i < 6; i++) { // six at once: six pooled connections to strong
        warm.add(CompletableFuture.supplyAsync(() -> {
          try {
            return f.chat("router-random-0", "hi");
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }));
      }
      for (var w : warm) {
        assertEquals(200, w.get().statusCode());
      }
      f.strong.resetAll();
      // Reads the whole request, then closes the connection without an answer (a crashed worker).
      f.strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions"))
          .willReturn(aResponse().withFault(Fault.EMPTY_RESPONSE)));
      HttpResponse<String> r = f.chat("router-random-0", "hi");
      assertEquals(502, r.statusCode(), r.body());
      f.strong.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    }
  }

  /**
   * OkHttp resends a request once, unseen, when a 503 says {@code Retry-After: 0}: a chat went twice
   * to an overloaded upstream before failover or the client heard of it, and a passthrough upload
   * twice (a review's leftover). The client and failover decide retries, and count them.
   */
  @Test
  void aServiceUnavailableThatSaysRetryAtOnceIsNotResentBehindTheClientsBack() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("", "passthrough: strong")) {
      f.strong.resetAll();
      f.strong.stubFor(WireMock.any(WireMock.anyUrl()).willReturn(aResponse().withStatus(503)
          .withHeader("Content-Type", "application/json").withHeader("Retry-After", "0")
          .withBody("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}")));
      HttpResponse<String> r = f.chat("router-random-0", "hi");
      assertEquals(503, r.statusCode(), r.body());
      assertEquals("0", r.headers().firstValue("retry-after").orElse(null));
      f.strong.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));
      HttpResponse<String> upload = f.post("/v1/embeddings", "{\"model\":\"e\",\"input\":\"hi\"}");
      assertEquals(503, upload.statusCode(), upload.body());
      f.strong.verify(1, postRequestedFor(urlEqualTo("/v1/embeddings")));
    }
  }

  @Test
  void theSdksRetryHintsReachTheClient() throws Exception {
    try (ProxyFixture f = new ProxyFixture("")) {
      f.strong.resetAll();
      f.strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(500)
          .withHeader("Content-Type", "application/json").withHeader("x-should-retry", "false")
          .withHeader("retry-after-ms", "50").withBody("{\"error\":{\"message\":\"no\",\"type\":\"server_error\"}}")));
      HttpResponse<String> r = f.chat("router-random-0", "hi");
      assertEquals(500, r.statusCode());
      assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null));
      assertEquals("50", r.headers().firstValue("retry-after-ms").orElse(null));
    }
  }

  @Test
  void aRequestWithNoUserTextGoesStrongAsARouterFailureNotToTheCheapest() throws Exception {
    try (ProxyFixture f = new ProxyFixture("routers: {length: {}}")) {
      HttpResponse<String> r = f.post("/v1/route", "{\"model\":\"router-length-0.5\",\"messages\":[{\"role\":\"user\","
          + "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}}]}]}");
      assertEquals(200, r.statusCode(), r.body());
      org.junit.jupiter.api.Assertions.assertTrue(r.body().contains("\"route\":\"strong\"")
          && r.body().contains("\"router_error\":\"no_text\""), r.body());
    }
  }
}
