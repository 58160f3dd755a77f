package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.RedisServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** A routed Responses answer's pin (shared through Redis): it takes no session's place, and no answer waits on it. */
class ResponsePinsTest {

  private static String model(HttpResponse<String> r) {
    return r.headers().firstValue("x-routewise-model").orElseThrow();
  }

  /**
   * Without a shared store a response pin duplicates StoredResponses, and only takes a slot in the
   * session pins' LRU: routed Responses answers evict live sessions' pins (which move upstream), and
   * the routewise_session_pins gauge counts response ids.
   */
  @Test
  void responseAnswersDoNotEvictSessionPinsWithoutASharedStore() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}",
        "session_pinning: true, session_cache_entries: 2")) {
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "0.9", "conv-1")));
      ResponsesRoutingTest.answers(f.weak, "resp_a", "weak");
      assertEquals(200, f.post("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"hi\"}").statusCode());
      ResponsesRoutingTest.answers(f.weak, "resp_b", "weak");
      assertEquals(200, f.post("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"hi\"}").statusCode());

      HttpResponse<String> next = f.chatInSession("router-scored-0.5", "0.1", "conv-1");
      assertEquals("strong strong-model", model(next), "the session's pin was evicted by two response pins");
      String scrape = f.get("/metrics").body();
      assertEquals(1.0, TargetRoutingTest.metric(scrape, "routewise_session_pins"), scrape);
    }
  }

  /**
   * A response's pin and a session's share one namespace of hashed keys, kept apart by the response
   * pin's "response\0" prefix; a session named in a JSON field (session_key: user or
   * prompt_cache_key) may hold a NUL, so a client naming its session "response\0resp_a" read (and,
   * first, set) the pin of response resp_a: its chat went where that response is stored, pinned, not
   * where its router sent it; set first, it sent a continuation of resp_a there.
   */
  @Test
  void aSessionIdCannotNameAResponsesPin() throws Exception {
    try (RedisServer redis = RedisServer.start();
        ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}\nstate: {redis: \"" + redis.url()
            + "\", timeout_ms: 2000, pin_timeout_ms: 1000}", "session_pinning: true, session_key: user");
        redis.clients.jedis.Jedis j = redis.client()) {
      ResponsesRoutingTest.answers(f.weak, "resp_a", "weak");
      assertEquals(200, f.post("/v1/responses", "{\"model\":\"router-scored-0.5\",\"input\":\"0.1\"}").statusCode());
      for (int i = 0; i < 200 && j.keys("routewise:pin:*").isEmpty(); i++) {
        Thread.sleep(10); // the response's pin, written off the answer's path
      }
      assertEquals(1, j.keys("routewise:pin:*").size());

      HttpResponse<String> chat = f.post("/v1/chat/completions", "{\"model\":\"router-scored-0.5\","
          + "\"user\":\"response\\u0000resp_a\",\"messages\":[{\"role\":\"user\",\"content\":\"0.9\"}]}");
      assertEquals("strong strong-model", model(chat), "a session's first turn goes where its router sends it");
      assertTrue(chat.headers().firstValue("x-routewise-pinned").isEmpty());
    }
  }

  /**
   * The pin write runs after the stream's last event but before the handler returns, so the chunked
   * body's end (which an SDK's stream loop reads to) waits for it: up to pin_timeout_ms while Redis is
   * slow but not yet seen down.
   */
  @Test
  void aStreamsEndDoesNotWaitOnTheResponsePinWrite() throws Exception {
    WireMockServer strong = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    WireMockServer weak = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    strong.start();
    weak.start();
    try (RedisServer redis = RedisServer.start()) {
      String yaml = TestConfigs.yaml(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", """
          state: {redis: "%s", sync_ms: 60000, timeout_ms: 10000, pin_timeout_ms: 1000}
          """.formatted(redis.url()));
      try (Routewise r = Routewise.start(TestConfigs.config(TestConfigs.withRouting(yaml, "session_pinning: true")),
          io.routewise.routers.RouterCatalog.standard(), id -> null, () -> {})) {
        weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
            .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_s", true))));
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port() + "/v1/responses"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-random-1\",\"input\":\"hi\",\"stream\":true}"))
            .build();
        assertEquals(200, http.send(req, HttpResponse.BodyHandlers.ofString()).statusCode()); // warm
        weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
            .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_t", true))));
        redis.stall(2.5); // Redis slow; the sync (every minute) has not seen it yet
        Thread.sleep(200);
        long t0 = System.nanoTime();
        HttpResponse<String> s = http.send(req, HttpResponse.BodyHandlers.ofString());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(200, s.statusCode());
        assertTrue(s.body().contains("response.completed"), s.body());
        // waiting on the write, it ended after the 1 s pin timeout; a loaded box takes far less than that
        assertTrue(ms < 900, "the stream ended " + ms + " ms after it was asked for: its end waited on the pin write");
      }
    } finally {
      strong.stop();
      weak.stop();
    }
  }
}
