package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** server.api_keys: without them anyone who reaches the port spends the upstream keys. */
class ApiKeysTest {
  static final String CHAT = "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  final HttpClient http = HttpClient.newHttpClient();

  HttpResponse<String> send(int port, String method, String path, String key) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    b = method.equals("POST") ? b.POST(HttpRequest.BodyPublishers.ofString(CHAT)) : b.GET();
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void onlyClientsWithAConfiguredKeyReachTheApiWhileHealthAndMetricsStayOpen() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + closed + "/v1";
    String yaml = TestConfigs.yaml(url, url, "").replace("server: {host: 127.0.0.1, port: 0}",
        "server: {host: 127.0.0.1, port: 0, api_keys: [team-a-key, \"\", team-b-key]}");
    try (Routewise rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {})) {
      int port = rw.port();
      for (String key : new String[] {null, "wrong", "team-a-keyX"}) {
        HttpResponse<String> r = send(port, "POST", "/v1/chat/completions", key);
        assertEquals(401, r.statusCode(), r.body());
        assertEquals("invalid_api_key", new ObjectMapper().readTree(r.body()).path("error").path("code").asText());
        assertFalse(r.body().contains("team-a-key"), r.body());
        assertEquals(401, send(port, "GET", "/v1/models", key).statusCode());
        assertEquals(401, send(port, "POST", "/v1/route", key).statusCode());
      }
      // past the key check: the (unreachable) upstream answers for itself
      assertEquals(502, send(port, "POST", "/v1/chat/completions", "team-b-key").statusCode());
      assertEquals(200, send(port, "GET", "/v1/models", "team-a-key").statusCode());
      assertEquals(200, send(port, "GET", "/health", null).statusCode());
      assertEquals(200, send(port, "GET", "/metrics", null).statusCode());
    }
  }

  /**
   * A named client over its rate_limit gets OpenAI's 429 for it, with the wait in its headers (and the
   * CORS headers, so a page can read it), counted under its name; other clients are not held back.
   */
  @Test
  void aClientOverItsRateLimitGets429WithTheWaitAndOthersGoOn() throws Exception {
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", "")
        .replace("server: {host: 127.0.0.1, port: 0}", "server: {host: 127.0.0.1, port: 0, cors_origins: "
            + "[\"http://app.test\"], api_keys: {batch: {key: sk-batch, rate_limit: {requests: 2, per: hour}}, ui: sk-ui, "
            + "fast: {key: sk-fast, rate_limit: {requests: 2, per: minute}}}}");
    try (Routewise rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {})) {
      int port = rw.port();
      assertEquals(200, send(port, "GET", "/v1/models", "sk-batch").statusCode());
      assertEquals(200, send(port, "POST", "/v1/route", "sk-batch").statusCode());
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
          + "/v1/chat/completions")).header("Authorization", "Bearer sk-batch").header("Origin", "http://app.test")
          .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(429, r.statusCode(), r.body());
      com.fasterxml.jackson.databind.JsonNode error = new ObjectMapper().readTree(r.body()).path("error");
      assertEquals("rate_limit_exceeded", error.path("code").asText());
      assertEquals("requests", error.path("type").asText());
      assertTrue(error.path("message").asText().contains("2 requests per hour (server.api_keys.batch.rate_limit)"),
          r.body());
      long retryMs = Long.parseLong(r.headers().firstValue("retry-after-ms").orElseThrow());
      assertTrue(retryMs > 1_700_000 && retryMs <= 1_800_000, "half an hour: " + retryMs);
      assertEquals(Long.toString((retryMs + 999) / 1000), r.headers().firstValue("Retry-After").orElseThrow());
      assertEquals("2", r.headers().firstValue("x-ratelimit-limit-requests").orElseThrow());
      assertEquals("0", r.headers().firstValue("x-ratelimit-remaining-requests").orElseThrow());
      assertTrue(r.headers().firstValue("x-ratelimit-reset-requests").orElseThrow()
          .matches("59m\\d+s|1h0m0s"), r.headers().map().toString()); // both back within the hour
      assertEquals("http://app.test", r.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
      assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null),
          "half an hour: the SDKs would retry at once, into the same 429");
      assertEquals(429, send(port, "GET", "/v1/models", "sk-batch").statusCode(), "every /v1 request counts");
      for (int i = 0; i < 5; i++) {
        assertEquals(200, send(port, "GET", "/v1/models", "sk-ui").statusCode(), "ui has no limit");
      }
      // two a minute, not one a second: a loaded machine's second between two requests must not pass the test's 429
      assertEquals(200, send(port, "GET", "/v1/models", "sk-fast").statusCode());
      assertEquals(200, send(port, "GET", "/v1/models", "sk-fast").statusCode());
      HttpResponse<String> soon = send(port, "GET", "/v1/models", "sk-fast");
      assertEquals(429, soon.statusCode());
      assertTrue(soon.headers().firstValue("x-should-retry").isEmpty(), "half a minute: the SDKs wait, then retry");
      String metrics = send(port, "GET", "/metrics", null).body();
      assertTrue(metrics.contains("routewise_client_rate_limited_total{client=\"batch\"} 2.0"), metrics);
      assertFalse(metrics.contains("routewise_client_rate_limited_total{client=\"ui\"}"), metrics);
      assertTrue(metrics.contains("routewise_client_requests_total{client=\"batch\"} 4.0"), metrics);
    }
  }

  /**
   * A client with a rate_limit reads its own standing in every answer's x-ratelimit-*-requests, as
   * OpenAI's answers carry them: they had the upstream account's (its limit, shared by every client),
   * so an SDK pacing itself on them paced on the wrong limit. The upstream's token headers still pass,
   * and a client without a limit still sees the upstream's.
   */
  @Test
  void aRateLimitedClientsAnswersCarryItsOwnRequestLimit() throws Exception {
    ProxyFixture f = ProxyFixture.edited("", yaml -> TestConfigs.withServer(yaml, "access_log: false, api_keys: {batch: "
        + "{key: sk-batch, rate_limit: {requests: 5, per: minute}}, ui: sk-ui}"));
    try {
      f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(
          com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/chat/completions"))
          .willReturn(com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(200)
              .withHeader("Content-Type", "application/json").withHeader("x-ratelimit-limit-requests", "10000")
              .withHeader("x-ratelimit-remaining-requests", "9999").withHeader("x-ratelimit-reset-requests", "6ms")
              .withHeader("x-ratelimit-limit-tokens", "2000000")
              .withBody(ProxyFixture.COMPLETION.formatted("strong-model", "strong"))));
      for (int i = 0; i < 2; i++) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
            .header("Authorization", "Bearer sk-batch").header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("5", r.headers().firstValue("x-ratelimit-limit-requests").orElse(null));
        assertEquals(Integer.toString(4 - i), r.headers().firstValue("x-ratelimit-remaining-requests").orElse(null));
        String reset = r.headers().firstValue("x-ratelimit-reset-requests").orElseThrow();
        assertTrue(reset.matches("(1[12]|2[34])(\\.\\d+)?s"), "one or two intervals of 12 s: " + reset);
        assertEquals("2000000", r.headers().firstValue("x-ratelimit-limit-tokens").orElse(null), "the upstream's");
        assertEquals(1, r.headers().allValues("x-ratelimit-limit-requests").size());
      }
      HttpResponse<String> models = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
          .header("Authorization", "Bearer sk-batch").build(), HttpResponse.BodyHandlers.ofString());
      assertEquals("2", models.headers().firstValue("x-ratelimit-remaining-requests").orElse(null), "every /v1 answer");
      HttpResponse<String> ui = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Authorization", "Bearer sk-ui").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals("10000", ui.headers().firstValue("x-ratelimit-limit-requests").orElse(null), "no limit: the upstream's");
    } finally {
      f.close();
    }
  }

  /**
   * A passthrough answer that breaks off before a byte reached the client is routewise's 502, and still
   * carries the client's own x-ratelimit-*-requests (it was counted against the limit): the reset that
   * drops the upstream's headers for the 502 dropped them too, so this answer alone had none. And one
   * Date, as every answer: the headers kept across the reset were taken with the server's own Date
   * among them, which the reset puts back, so it went out twice (the Node SDK read {@code date: <d>, <d>}).
   */
  @Test
  void aPassthrough502StillCarriesTheClientsOwnRequestLimitAndOneDate() throws Exception {
    ProxyFixture f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "access_log: false, api_keys: {batch: {key: sk-batch, rate_limit: {requests: 5, per: minute}}}"),
        "passthrough: strong"));
    try {
      f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(
          com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/embeddings"))
          .willReturn(com.github.tomakehurst.wiremock.client.WireMock.aResponse()
              .withFault(com.github.tomakehurst.wiremock.http.Fault.MALFORMED_RESPONSE_CHUNK)));
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/embeddings")))
          .header("Authorization", "Bearer sk-batch").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(502, r.statusCode(), r.body());
      assertEquals(java.util.List.of("5"), r.headers().allValues("x-ratelimit-limit-requests"), r.headers().map().toString());
      assertEquals("4", r.headers().firstValue("x-ratelimit-remaining-requests").orElse(null));
      assertEquals(1, r.headers().allValues("date").size(), r.headers().map().toString());
    } finally {
      f.close();
    }
  }

  /**
   * Replicas sharing a Redis hold a client to one rate limit: a burst at both at once, then one request
   * at a time at either, let through the limit once in all (before, each let through the whole limit:
   * twice it).
   */
  @Test
  void replicasSharingARedisHoldAClientToOneRateLimit() throws Exception {
    try (io.routewise.RedisServer redis = io.routewise.RedisServer.start()) {
      String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", "")
          .replace("server: {host: 127.0.0.1, port: 0}", "server: {host: 127.0.0.1, port: 0, api_keys: {batch: "
              + "{key: sk-batch, rate_limit: {requests: 8, per: hour}}}}\nstate: {redis: \"" + redis.url()
              + "\", sync_ms: 100, timeout_ms: 500}");
      try (Routewise a = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
          Routewise b = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {})) {
        Thread.sleep(500); // a few syncs: each has seen the other
        java.util.List<java.util.concurrent.Future<HttpResponse<String>>> burst = new java.util.ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
          for (int i = 0; i < 6; i++) {
            for (Routewise r : new Routewise[] {a, b}) {
              burst.add(pool.submit(() -> send(r.port(), "GET", "/v1/models", "sk-batch")));
            }
          }
        }
        int admitted = 0;
        for (var f : burst) {
          HttpResponse<String> answer = f.get();
          if (answer.statusCode() == 200) {
            admitted++;
          } else {
            assertEquals(429, answer.statusCode(), answer.body());
            assertTrue(answer.body().contains("\"code\":\"rate_limit_exceeded\""), answer.body());
          }
        }
        assertTrue(admitted >= 2 && admitted <= 8, admitted + " of 12 at once; the limit is 8");
        for (int i = 0; i < 40 && admitted < 8; i++) { // the rest, a sync or two apart
          Thread.sleep(250);
          admitted += send((i % 2 == 0 ? a : b).port(), "GET", "/v1/models", "sk-batch").statusCode() == 200 ? 1 : 0;
        }
        assertEquals(8, admitted, "the whole limit, in all");
        Thread.sleep(300); // each has the other's count
        for (Routewise r : new Routewise[] {a, b, a, b}) {
          HttpResponse<String> over = send(r.port(), "GET", "/v1/models", "sk-batch");
          assertEquals(429, over.statusCode(), "the limit is spent at every replica: " + over.body());
          long retryMs = Long.parseLong(over.headers().firstValue("retry-after-ms").orElseThrow());
          assertTrue(retryMs > 60_000, "an interval of the hour's limit, not the next sync: " + retryMs);
        }
      }
    }
  }

  /**
   * A client without a key that asks to continue before a large body (curl does past 1 MB) hears the 401
   * at once: before, routewise said 100 Continue and read the whole body (3 MB) before refusing it.
   */
  @Test
  void aRefusedKeyIsAnsweredBeforeA100ContinueSoTheBodyIsNeverSent() throws Exception {
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", "")
        .replace("server: {host: 127.0.0.1, port: 0}", "server: {host: 127.0.0.1, port: 0, api_keys: [team-a-key]}");
    try (Routewise rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
        java.net.Socket s = new java.net.Socket("127.0.0.1", rw.port())) {
      s.setSoTimeout(5_000);
      s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n"
          + "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 3000000\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 401"), head);
      byte[] body = s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
      assertEquals("invalid_api_key", new ObjectMapper().readTree(body).path("error").path("code").asText());
      assertEquals(-1, s.getInputStream().read(), "closed: the body it never sent is not waited for");
    }
  }

  /** OpenAI's x-ratelimit-reset-* durations. */
  @Test
  void waitsAreWrittenAsOpenAiWritesThem() {
    assertEquals("1ms", ProxyServer.duration(1));
    assertEquals("250ms", ProxyServer.duration(250_000_000L));
    assertEquals("1s", ProxyServer.duration(1_000_000_000L));
    assertEquals("1.5s", ProxyServer.duration(1_500_000_000L));
    assertEquals("6m0s", ProxyServer.duration(360 * 1_000_000_000L));
    assertEquals("1h2m4s", ProxyServer.duration(3_723 * 1_000_000_000L + 1));
  }
}
