package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ChatCompletionsProxyTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static ProxyFixture f;

  @BeforeAll
  static void start() {
    f = new ProxyFixture("");
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @BeforeEach
  void reset() {
    f.stubCompletions();
  }

  @Test
  void thresholdZeroAlwaysRoutesStrong() throws Exception {
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = f.chat("router-random-0", "hi " + i);
      assertEquals(200, r.statusCode());
      assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
      assertTrue(r.body().contains("hello from strong"));
    }
    assertEquals(20, f.strong.countRequestsMatching(postRequestedFor(urlEqualTo("/v1/chat/completions")).build()).getCount());
    assertEquals(0, f.weak.countRequestsMatching(postRequestedFor(urlEqualTo("/v1/chat/completions")).build()).getCount());
  }

  @Test
  void thresholdOneRoutesWeakUnlessTheWinIsCertain() throws Exception {
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = f.chat("router-random-1", "hi " + i);
      assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
      assertTrue(r.body().contains("hello from weak"));
    }
  }

  @Test
  void randomRouterAtOneHalfSplitsTraffic() throws Exception {
    int strong = 0;
    int n = 200;
    for (int i = 0; i < n; i++) {
      if (f.chat("router-random-0.5", "q").headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong")) {
        strong++;
      }
    }
    // Binomial(200, 0.5): outside [70, 130] has probability < 1e-5.
    assertTrue(strong > 70 && strong < 130, "strong share " + strong + "/" + n);
  }

  @Test
  void routesStrongWhenWinRateEqualsThresholdAndShowsTheDecision() throws Exception {
    HttpResponse<String> atRate = f.chat("router-fixed-0.5", "x");
    assertEquals("strong strong-model", atRate.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("fixed", atRate.headers().firstValue("x-routewise-router").orElseThrow());
    assertEquals(0.5, Double.parseDouble(atRate.headers().firstValue("x-routewise-win-rate").orElseThrow()));
    assertEquals(0.5, Double.parseDouble(atRate.headers().firstValue("x-routewise-threshold").orElseThrow()));
    HttpResponse<String> above = f.chat("router-fixed-0.51", "x");
    assertEquals("weak weak-model", above.headers().firstValue("x-routewise-model").orElseThrow());
  }

  @Test
  void modelNamesThatAreNotRouteSpecsUseTheConfiguredDefault() throws Exception {
    HttpResponse<String> r = f.chat("gpt-4o", "x");
    assertEquals(200, r.statusCode());
    assertEquals("random", r.headers().firstValue("x-routewise-router").orElseThrow());
    assertEquals("0.5", r.headers().firstValue("x-routewise-threshold").orElseThrow());
  }

  @Test
  void aFailingRouterRoutesStrongAndTheRequestSucceeds() throws Exception {
    HttpResponse<String> r = f.chat("router-broken-0.99", "x");
    assertEquals(200, r.statusCode());
    assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("boom", r.headers().firstValue("x-routewise-router-error").orElseThrow());
    assertFalse(r.headers().firstValue("x-routewise-win-rate").isPresent(), "the router gave no estimate");
    JsonNode route = JSON.readTree(f.post("/v1/route", "{\"model\":\"router-broken-0.99\",\"messages\":"
        + "[{\"role\":\"user\",\"content\":\"x\"}]}").body());
    assertTrue(route.get("strong_win_rate").isNull(), route.toString());
    assertEquals("boom", route.get("router_error").asText());
    assertTrue(f.get("/metrics").body().contains("routewise_router_failures_total{kind=\"boom\",router=\"broken\"} 2.0"),
        "the chat's failure and /v1/route's");
  }

  @Test
  void forwardsEveryFieldUntouchedExceptModelAndNeverTheClientKey() throws Exception {
    String body = """
        {"model":"router-random-0","messages":[{"role":"user","content":"weather?"}],
         "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
         "tool_choice":"auto","response_format":{"type":"json_object"},"logprobs":true,"top_logprobs":3,"n":2,
         "seed":42,"stop":["\\n\\n"],"stream_options":{"include_usage":true},"temperature":0.25,
         "x_field_from_next_year":{"nested":[1,2.5e-3,null,"\\u00e9"]}}""";
    HttpResponse<String> r = f.post("/v1/chat/completions", body);
    assertEquals(200, r.statusCode());
    var received = f.strong.findAll(postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertEquals(1, received.size());
    JsonNode sent = JSON.readTree(body);
    JsonNode got = JSON.readTree(received.get(0).getBodyAsString());
    assertEquals("strong-model", got.get("model").asText());
    ((ObjectNode) sent).put("model", "strong-model");
    assertEquals(sent, got);
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  /** Trace ids cross the hop, so the upstream's logs join the client's; the SDK's own headers do not. */
  @Test
  void traceAndRequestIdsGoUpstreamButNotTheClientsOtherHeaders() throws Exception {
    String traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    HttpResponse<String> r = f.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(f.url("/v1/chat/completions")))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-client-key")
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=opaque")
        .header("X-Client-Request-Id", "client-req-7")
        .header("X-Stainless-Lang", "python")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withHeader("traceparent", equalTo(traceparent))
        .withHeader("tracestate", equalTo("vendor=opaque"))
        .withHeader("x-client-request-id", equalTo("client-req-7"))
        .withHeader("X-Stainless-Lang", absent())
        .withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  /** The strong stub sends an x-request-id, the weak one none: routewise names that answer itself. */
  @Test
  void everyAnswerHasARequestIdTheUpstreamsOwnWhenItSentOne() throws Exception {
    assertEquals("req-strong", f.chat("router-random-0", "x").headers().firstValue("x-request-id").orElseThrow());
    String first = f.chat("router-random-1", "x").headers().firstValue("x-request-id").orElseThrow();
    String second = f.chat("router-random-1", "x").headers().firstValue("x-request-id").orElseThrow();
    assertTrue(first.matches("rw-[0-9a-f]{16}"), first);
    assertTrue(!first.equals(second), first + " twice");
    assertTrue(f.chat("router-nope-0.5", "x").headers().firstValue("x-request-id").orElseThrow().startsWith("rw-"),
        "routewise's own errors have one too");
  }

  /**
   * A 200 chat for router-random-0 over a raw socket, with {@code headers} (CRLF-ended lines, bytes as
   * ISO-8859-1) as written: an HTTP client would refuse or normalise them.
   */
  private void rawChat(String headers) throws java.io.IOException {
    byte[] body = "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\n" + headers
          + "Content-Length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      s.getOutputStream().write(body);
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 200"), head);
    }
  }

  /** HTTP clients refuse to send a non-ASCII header value; such a trace id is dropped, not a 500. */
  @Test
  void aTraceIdThatCannotBeSentUpstreamIsLeftOut() throws Exception {
    rawChat("X-Request-Id: caf\u00e9\r\ntracestate: ok=1\r\n");
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withHeader("tracestate", equalTo("ok=1"))
        .withHeader("X-Request-Id", absent()));
  }

  /**
   * A header the client names in Connection is for its hop alone (RFC 9110 7.6.1: a proxy removes it
   * before forwarding): such a request id went upstream all the same.
   */
  @Test
  void aHeaderTheClientNamesInConnectionDoesNotGoUpstream() throws Exception {
    rawChat("Connection: keep-alive, X-Client-Request-Id\r\nX-Client-Request-Id: hop-only\r\ntracestate: ok=1\r\n");
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withHeader("tracestate", equalTo("ok=1"))
        .withHeader("X-Client-Request-Id", absent()));
  }

  @Test
  void weakUpstreamWithKeyNoneGetsNoAuthorizationHeader() throws Exception {
    f.chat("router-random-1", "x");
    f.weak.verify(postRequestedFor(urlEqualTo("/v1/chat/completions")).withHeader("Authorization", absent()));
  }

  @Test
  void upstreamErrorsPassThroughWithStatusBodyAndHeaders() throws Exception {
    String err = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json").withHeader("retry-after", "7")
        .withHeader("x-ratelimit-remaining-requests", "0").withBody(err)));
    HttpResponse<String> r = f.chat("router-random-0", "x");
    assertEquals(429, r.statusCode());
    assertEquals(err, r.body());
    assertEquals("7", r.headers().firstValue("retry-after").orElseThrow());
    assertEquals("0", r.headers().firstValue("x-ratelimit-remaining-requests").orElseThrow());

    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "text/plain").withBody("overloaded")));
    HttpResponse<String> r2 = f.chat("router-random-1", "x");
    assertEquals(503, r2.statusCode());
    assertEquals("overloaded", r2.body());
  }

  /**
   * An upstream header too long for the client's header buffer is left out, and the answer the
   * upstream produced (and billed) still reaches the client; it was a 500 naming a Jetty class.
   */
  @Test
  void anOversizedUpstreamHeaderIsLeftOutNotTheAnswer() throws Exception {
    byte[] answer = ProxyFixture.COMPLETION.formatted("weak-model", "weak").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpResponse<String> r = fromJdkWeak(exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.getResponseHeaders().add("x-ratelimit-limit-requests", "500");
      exchange.getResponseHeaders().add("x-ratelimit-huge", "x".repeat(40_000));
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
    });
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from weak"), r.body());
    assertEquals("500", r.headers().firstValue("x-ratelimit-limit-requests").orElseThrow());
    assertTrue(r.headers().firstValue("x-ratelimit-huge").isEmpty());
  }

  /**
   * An upstream's request id too long to pass on is replaced by routewise's own: every answer carries
   * one (README, Forwarding). It was left out, and the answer had none at all.
   */
  @Test
  void anUpstreamRequestIdTooLongToPassOnIsReplacedByRoutewisesOwn() throws Exception {
    byte[] answer = ProxyFixture.COMPLETION.formatted("weak-model", "weak").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpResponse<String> r = fromJdkWeak(exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.getResponseHeaders().add("x-request-id", "req-" + "x".repeat(2_000));
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
    });
    assertEquals(200, r.statusCode(), r.body());
    String id = r.headers().firstValue("x-request-id").orElse(null);
    assertNotNull(id, "no x-request-id at all: " + r.headers().map());
    assertTrue(id.matches("rw-[0-9a-f]{16}"), id);
  }

  /**
   * A header the upstream names in its Connection is for that hop alone (RFC 9110 7.6.1), not the
   * client's: a rate-limit header so named was passed on all the same.
   */
  @Test
  void aHeaderTheUpstreamNamesInConnectionIsNotPassedOn() throws Exception {
    byte[] answer = ProxyFixture.COMPLETION.formatted("weak-model", "weak").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpResponse<String> r = fromJdkWeak(exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.getResponseHeaders().add("Connection", "keep-alive, X-RateLimit-Remaining-Requests");
      exchange.getResponseHeaders().add("x-ratelimit-remaining-requests", "7");
      exchange.getResponseHeaders().add("x-ratelimit-limit-requests", "500");
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
    });
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("500", r.headers().firstValue("x-ratelimit-limit-requests").orElseThrow());
    assertTrue(r.headers().firstValue("x-ratelimit-remaining-requests").isEmpty(), r.headers().map().toString());
  }

  /**
   * A 200 that cannot be a chat completion (an HTML page from a base_url pointing at a web app, a
   * cut body) is the upstream's failure, a 502, not a success an SDK then fails to parse; so is a
   * status HTTP does not have. Both were passed on as they came.
   */
  @Test
  void anAnswerThatIsNotAChatCompletionIsA502() throws Exception {
    for (String[] bad : new String[][] {{"text/html", "<html><body>Welcome to nginx!</body></html>"},
        {"application/json", "{\"choices\": [ {\"message\": "}, {"application/json", ""},
        {"application/json", "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"}{\"}}"}}) { // cut after a brace
      byte[] page = bad[1].getBytes(java.nio.charset.StandardCharsets.UTF_8);
      HttpResponse<String> r = fromJdkWeak(exchange -> {
        exchange.getResponseHeaders().add("Content-Type", bad[0]);
        exchange.sendResponseHeaders(200, page.length == 0 ? -1 : page.length);
        exchange.getResponseBody().write(page);
      });
      assertEquals(502, r.statusCode(), bad[1] + " -> " + r.body());
      JsonNode error = JSON.readTree(r.body()).get("error");
      assertEquals("upstream_invalid_response", error.get("code").asText());
      assertTrue(error.get("message").asText().contains(bad[0].equals("text/html")
          ? "with a web page (text/html), not an API answer" : "not a JSON object"), r.body());
    }
    HttpResponse<String> r = fromJdkWeak(exchange -> exchange.sendResponseHeaders(600, -1));
    assertEquals(502, r.statusCode(), r.body());
    assertEquals("upstream_invalid_response", JSON.readTree(r.body()).get("error").get("code").asText());
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null));
    // an answer without usage is still an answer
    byte[] plain = "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[]}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    r = fromJdkWeak(exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, plain.length);
      exchange.getResponseBody().write(plain);
    });
    assertEquals(200, r.statusCode(), r.body());
    // nor is one with a byte that is not UTF-8 in its text (some clients read through it), or a stream
    // sent under another content type: the shape is checked, not the parse
    for (byte[] odd : new byte[][] {"{\"choices\":[{\"message\":{\"content\":\"caf\u00e9\"}}]}\n"
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
        "data: {\"choices\":[]}\n\ndata: [DONE]\n\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)}) {
      r = fromJdkWeak(exchange -> {
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, odd.length);
        exchange.getResponseBody().write(odd);
      });
      assertEquals(200, r.statusCode(), r.body());
    }
  }

  /** A chat request routed weak, answered by a JDK server running {@code answer} (WireMock's Jetty will not send some answers). */
  private static HttpResponse<String> fromJdkWeak(com.sun.net.httpserver.HttpHandler answer) throws Exception {
    com.sun.net.httpserver.HttpServer upstream = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    upstream.createContext("/v1/chat/completions", exchange -> {
      exchange.getRequestBody().readAllBytes();
      answer.handle(exchange);
      exchange.close();
    });
    upstream.start();
    try {
      return viaWeakAt(upstream.getAddress().getPort(), false);
    } finally {
      upstream.stop(0);
    }
  }

  private static HttpResponse<String> viaWeakAt(int port, boolean stream) throws Exception {
    String url = "http://127.0.0.1:" + port + "/v1";
    try (ProxyFixture g = ProxyFixture.edited("", yaml -> yaml.replaceFirst("(weak: \\{base_url: \")[^\"]*\"", "$1" + url + "\""))) {
      return stream ? g.post("/v1/chat/completions", "{\"model\":\"router-random-1\",\"stream\":true,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}") : g.chat("router-random-1", "x");
    }
  }

  /**
   * An upstream that ends a stream's body by closing its connection (no length, no chunks) gives no
   * sign of a cut but the missing end: a stream without [DONE] or a finish_reason ended as if whole.
   * It now ends with the error event a stream broken off any other way gets; one that reached its
   * finish_reason does not.
   */
  @Test
  void aCloseDelimitedStreamCutBeforeItsEndSaysSo() throws Exception {
    String chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hel\"},\"finish_reason\":null}]}\n\n";
    String last = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{},\"finish_reason\": \"stop\"}]}\n\n";
    HttpResponse<String> cut = viaWeakAt(closeDelimited(chunk), true);
    assertEquals(200, cut.statusCode());
    assertTrue(cut.body().startsWith(chunk), cut.body());
    assertTrue(cut.body().contains("\"code\":\"upstream_stream_failed\""), cut.body());
    HttpResponse<String> whole = viaWeakAt(closeDelimited(chunk + last), true);
    assertEquals(chunk + last, whole.body(), "ended at its finish_reason: whole");
  }

  /**
   * With {@code n: 2} each choice has its own finish_reason: a stream cut after the first choice's,
   * while the second still ran, ended as if whole (no error event; the client's SDK had a choice
   * without its end). Both finished, it is whole.
   */
  @Test
  void aStreamOfTwoChoicesCutAfterOnlyOneFinishedSaysSo() throws Exception {
    String start = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hel\"},\"finish_reason\":null}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":1,"
        + "\"delta\":{\"content\":\"bon\"},\"finish_reason\":null}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    String second = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":1,"
        + "\"delta\":{},\"finish_reason\":\"length\"}]}\n\n";
    String body = "{\"model\":\"router-random-1\",\"stream\":true,\"n\":2,"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    HttpResponse<String> cut = postViaWeakAt(closeDelimited(start), body);
    assertEquals(200, cut.statusCode());
    assertTrue(cut.body().startsWith(start), cut.body());
    assertTrue(cut.body().contains("\"code\":\"upstream_stream_failed\""), cut.body());
    HttpResponse<String> whole = postViaWeakAt(closeDelimited(start + second), body);
    assertEquals(start + second, whole.body(), "both choices ended: whole");
  }

  private static HttpResponse<String> postViaWeakAt(int port, String body) throws Exception {
    String url = "http://127.0.0.1:" + port + "/v1";
    try (ProxyFixture g = ProxyFixture.edited("", yaml -> yaml.replaceFirst("(weak: \\{base_url: \")[^\"]*\"", "$1" + url + "\""))) {
      return g.post("/v1/chat/completions", body);
    }
  }

  /**
   * An upstream that fails mid-stream sends an error event; its org and project ids are the
   * operator's account and are masked as in an error body. They went to the client in clear.
   */
  @Test
  void anErrorEventInAStreamMasksTheOperatorsAccountIds() throws Exception {
    String chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hel\"},\"finish_reason\":null}]}\n\n";
    String error = "data: {\"error\":{\"message\":\"Rate limit reached in organization org-AbCdEfGh12345678IjKlMnOp"
        + " (project proj_AbCdEfGh12345678IjKlMnOp)\",\"type\":\"requests\"}}\n\n";
    HttpResponse<String> r = viaWeakAt(closeDelimited(chunk + error + "data: [DONE]\n\n"), true);
    assertEquals(200, r.statusCode());
    assertTrue(r.body().startsWith(chunk), r.body());
    assertTrue(r.body().contains("in organization org-*** (project proj_***)"), r.body());
    assertFalse(r.body().contains("AbCdEfGh"), r.body());
  }

  /**
   * The same event split inside the org id, in two writes 100 ms apart (two reads of the relay), with
   * and without the usage chunk filter: the part after the split went to the client in clear.
   */
  @Test
  void anErrorEventSplitBetweenReadsIsMaskedWhole() throws Exception {
    String chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"hel\"},\"finish_reason\":null}]}\n\n";
    String error = "data: {\"error\":{\"message\":\"Rate limit reached in organization org-AbCdEfGh12345678IjKlMnOp"
        + " (project proj_AbCdEfGh12345678IjKlMnOp)\",\"type\":\"requests\"}}\n\n";
    int split = error.indexOf("IjKl");
    for (String streamUsage : List.of("false", "true")) {
      int port = closeDelimited(chunk + error.substring(0, split), error.substring(split) + "data: [DONE]\n\n");
      String url = "http://127.0.0.1:" + port + "/v1";
      try (ProxyFixture g = ProxyFixture.edited("", yaml -> yaml.replaceFirst("(weak: \\{base_url: \")[^\"]*\"",
          "$1" + url + "\", stream_usage: " + streamUsage))) {
        HttpResponse<String> r = g.post("/v1/chat/completions", "{\"model\":\"router-random-1\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertEquals(200, r.statusCode());
        assertTrue(r.body().startsWith(chunk), r.body());
        assertTrue(r.body().contains("in organization org-*** (project proj_***)"), streamUsage + ": " + r.body());
        assertFalse(r.body().contains("IjKlMnOp"), streamUsage + ": " + r.body());
      }
    }
  }

  /**
   * A one-shot upstream that answers a stream, each of {@code parts} in a write of its own 100 ms
   * after the one before, and ends it by closing the connection; its port.
   */
  private static int closeDelimited(String... parts) throws Exception {
    java.net.ServerSocket server = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      try (server; java.net.Socket s = server.accept()) {
        io.routewise.RawHttp.readHead(s.getInputStream());
        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        for (int i = 0; i < parts.length; i++) {
          if (i > 0) {
            Thread.sleep(100);
          }
          s.getOutputStream().write(parts[i].getBytes(java.nio.charset.StandardCharsets.UTF_8));
          s.getOutputStream().flush();
        }
      } catch (java.io.IOException | InterruptedException ignored) {
        // the test reads what arrived
      }
    });
    return server.getLocalPort();
  }

  @Test
  void upstreamTimeoutIsA504InOpenAiShape() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withFixedDelay(4000).withBody("{}")));
    long start = System.nanoTime();
    HttpResponse<String> r = f.chat("router-random-0", "x");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(504, r.statusCode());
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals("upstream_timeout", e.get("code").asText());
    assertEquals("upstream_error", e.get("type").asText());
    assertTrue(e.get("message").asText().contains("1500 ms"));
    assertFalse(r.body().contains("sk-strong-secret"));
    assertTrue(ms < 3500, "took " + ms + " ms with a 1500 ms timeout");
    // the upstream got the request and is working on it: the SDKs' two default retries would buy it twice more
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null));
  }

  @Test
  void anUpstreamBodyThatStallsMidwayIsA504() throws Exception {
    // Headers at once, then the body in two halves 3 s apart: each wait is timed, not only the first.
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")
        .withBody(ProxyFixture.COMPLETION.formatted("strong-model", "strong")).withChunkedDribbleDelay(2, 6000)));
    HttpResponse<String> r = f.chat("router-random-0", "x");
    assertEquals(504, r.statusCode(), r.body());
    assertEquals("upstream_timeout", JSON.readTree(r.body()).get("error").get("code").asText());
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null));
  }

  @Test
  void anUpstreamBodyThatBreaksOffAfterItsHeadersIsA502ThatSaysSo() throws Exception {
    // the upstream was reached: its answer broke off, which "could not reach" would misstate
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions"))
        .willReturn(aResponse().withFault(com.github.tomakehurst.wiremock.http.Fault.MALFORMED_RESPONSE_CHUNK)));
    HttpResponse<String> r = f.chat("router-random-0", "x");
    assertEquals(502, r.statusCode(), r.body());
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals("upstream_unreachable", e.get("code").asText());
    assertTrue(e.get("message").asText().startsWith("The strong upstream's answer broke off: "), r.body());
    // generated and billed before it broke off: not to be bought again by the SDK's retries (SDK trial)
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null));
  }

  @Test
  void badRequestsGet400WithTheParameterNamed() throws Exception {
    record Case(String body, String param) {}
    for (Case c : List.of(
        new Case("{not json", null),
        new Case("{\"model\":\"x\"}", "messages"),
        new Case("{\"model\":\"x\",\"messages\":[]}", "messages"),
        new Case("{\"model\":\"x\",\"messages\":{\"role\":\"user\"}}", "messages"),
        new Case("{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content"),
        new Case("{\"model\":\"x\",\"stream\":1,\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "stream"),
        new Case("{\"model\":\"router-nope-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "model"),
        new Case("{\"model\":\"router-random-2\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "model"),
        new Case("", null))) {
      HttpResponse<String> r = f.post("/v1/chat/completions", c.body());
      assertEquals(400, r.statusCode(), c.body());
      JsonNode e = JSON.readTree(r.body()).get("error");
      assertNotNull(e, r.body());
      assertEquals("invalid_request_error", e.get("type").asText());
      assertEquals(c.param() == null ? "null" : c.param(), e.get("param").asText(), c.body());
      assertFalse(e.get("message").asText().isBlank());
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /**
   * Go's JSON decoder (Ollama's OpenAI layer, the default weak upstream) matches field names in any case,
   * the last copy winning: a "Model" after the rewritten model chose the upstream's model for the
   * client, "MESSAGES" was the prompt answered while routewise scored the other, "Stream" a stream the
   * request had not asked for. Refused as a second copy is, before any upstream call.
   */
  @Test
  void aFieldRoutingReadsSpelledInAnotherCaseIsA400NotForwarded() throws Exception {
    String m = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    for (String[] c : new String[][] {
        {"{\"model\":\"router-random-1\"," + m + ",\"Model\":\"llama3.1:70b\"}", "Model"},
        {"{\"model\":\"router-random-1\"," + m + ",\"MESSAGES\":[{\"role\":\"user\",\"content\":\"prove it\"}]}",
            "MESSAGES"},
        {"{\"model\":\"router-random-1\"," + m + ",\"Stream\":true}", "Stream"},
        // routewise adds "include_usage":true to the options, and Go read the client's false after it: no usage
        {"{\"model\":\"router-random-1\",\"stream\":true,\"stream_options\":{\"Include_Usage\":false}," + m + "}",
            "stream_options.Include_Usage"},
        {"{\"model\":\"router-random-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"Content\":\"prove it\"}]}",
            "messages[0].Content"}}) {
      HttpResponse<String> r = f.post("/v1/chat/completions", c[0]);
      assertEquals(400, r.statusCode(), c[0] + " -> " + r.body());
      JsonNode e = JSON.readTree(r.body()).get("error");
      assertEquals(c[1], e.get("param").asText(), r.body());
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  private static String routedSeries(String scrape) {
    return String.join("\n", scrape.lines().filter(l -> (l.startsWith("routewise_routed_total")
        || l.startsWith("routewise_strong_share")) && l.contains("router=\"fixed\"")).toList());
  }

  @Test
  void unknownRouterErrorListsTheValidRouters() throws Exception {
    HttpResponse<String> r = f.chat("router-nope-0.5", "x");
    assertTrue(r.body().contains("broken, fixed, random"), r.body());
  }

  /** A gzip body was parsed as JSON and answered "malformed JSON": now it says what is wrong. */
  @Test
  void aCompressedChatBodyIsA415() throws Exception {
    java.io.ByteArrayOutputStream packed = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(packed)) {
      z.write("{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    HttpResponse<String> r = f.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(f.url("/v1/chat/completions")))
        .header("Content-Type", "application/json").header("Content-Encoding", "gzip")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(packed.toByteArray())).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(415, r.statusCode(), r.body());
    assertEquals("unsupported_content_encoding", JSON.readTree(r.body()).get("error").get("code").asText());
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /**
   * Every Content-Encoding line counts: with "identity" on the first and "gzip" on a second, only the first
   * was read, and the compressed prompt was answered 400 "not UTF-8 JSON" instead of the 415 that says
   * what is wrong.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"/v1/chat/completions", "/v1/route"})
  void aCompressedBodyBehindAnIdentityLineIsA415(String path) throws Exception {
    java.io.ByteArrayOutputStream packed = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(packed)) {
      z.write("{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(10_000);
      java.io.OutputStream out = s.getOutputStream();
      out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: " + packed.size() + "\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.write(packed.toByteArray());
      out.flush();
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      byte[] body = s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
      assertTrue(head.startsWith("HTTP/1.1 415"), head + new String(body, java.nio.charset.StandardCharsets.UTF_8));
      JsonNode error = JSON.readTree(body).get("error");
      assertEquals("unsupported_content_encoding", error.get("code").asText());
      assertTrue(error.get("message").asText().contains("'gzip'"), error.toString());
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /**
   * Transfer-Encoding: gzip, chunked: only the chunks were undone, and the compressed prompt was answered
   * "must be UTF-8 JSON", as if the client had sent bad JSON. A coding routewise does not undo is a 501
   * (RFC 9112 6.1) that says so, not retried.
   */
  @Test
  void aBodyUnderATransferCodingOtherThanChunkedIsA501() throws Exception {
    java.io.ByteArrayOutputStream packed = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(packed)) {
      z.write("{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(10_000);
      java.io.OutputStream out = s.getOutputStream();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Transfer-Encoding: gzip, chunked\r\n\r\n" + Integer.toHexString(packed.size()) + "\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.write(packed.toByteArray());
      out.write("\r\n0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.flush();
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      byte[] body = s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
      assertTrue(head.startsWith("HTTP/1.1 501"), head + new String(body, java.nio.charset.StandardCharsets.UTF_8));
      assertEquals("unsupported_transfer_encoding", JSON.readTree(body).get("error").get("code").asText());
      assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("x-should-retry: false"), head);
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  @Test
  void bodyOverTheLimitIsA413() throws Exception {
    String big = "x".repeat(5 * 1024 * 1024);
    HttpResponse<String> r = f.chat("router-random-0", big);
    assertEquals(413, r.statusCode());
    assertEquals("request_too_large", JSON.readTree(r.body()).get("error").get("code").asText());
  }

  /**
   * Every SDK sends the whole body before reading the answer. Cut off after the headers, such a
   * client got a reset instead of the 413 (a 6 MB prompt: 10 of 10 broken pipes), and the OpenAI
   * SDKs retry a reset, sending it all again.
   */
  @Test
  void aClientSendingItsWholeTooLargeBodyFirstStillReadsThe413() throws Exception {
    byte[] body = ("{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + "x".repeat(6_000_000) + "\"}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(10_000);
      java.io.OutputStream out = s.getOutputStream();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
      StringBuilder answer = new StringBuilder();
      byte[] buf = new byte[4096];
      for (int n; !answer.toString().contains("request_too_large") && (n = s.getInputStream().read(buf)) > 0; ) {
        answer.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8));
      }
      assertTrue(answer.toString().startsWith("HTTP/1.1 413"), answer.toString());
      assertTrue(answer.toString().contains("\"code\":\"request_too_large\""), answer.toString());
    }
  }

  /**
   * A client that sends Expect: 100-continue (curl for a body over 1 MB, .NET, Java's expectContinue)
   * waits before sending its body: a request refused before its body is read is answered at once, with
   * no 100 Continue before it (which had it upload megabytes only to hear the refusal), and the connection
   * closes after, the body never sent.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.CsvSource({
      "a body declared over the limit, POST, /v1/chat/completions, 5000000, , 413, request_too_large",
      "a compressed body, POST, /v1/chat/completions, 3000000, gzip, 415, unsupported_content_encoding",
      "a method the path does not take, PUT, /v1/chat/completions, 3000000, , 405, method_not_allowed",
      "a path routewise does not serve, POST, /v1/nothing, 3000000, , 404, unknown_url"})
  void aRefusalGoesBeforeA100ContinueAndTheUnsentBodyIsNotAwaited(String what, String method, String path,
      long length, String encoding, int status, String code) throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(5_000);
      s.getOutputStream().write((method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + (encoding == null ? "" : "Content-Encoding: " + encoding + "\r\n")
          + "Expect: 100-continue\r\nContent-Length: " + length + "\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 " + status), head);
      byte[] body = s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
      assertEquals(code, JSON.readTree(body).get("error").get("code").asText());
      assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), head);
      assertEquals(-1, s.getInputStream().read(), "closed: the body it never sent is not waited for");
    }
  }

  /** What Jetty rejects before any route runs leaves in OpenAI's shape too, not as an HTML page. */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.CsvSource({
      "a header block over the limit, 431, request_header_fields_too_large",
      "a request line that is not HTTP, 400, bad_request",
      "a URI over the limit, 414, uri_too_long"})
  void requestsJettyRejectsGetOpenAiErrors(String what, int status, String code) throws Exception {
    String request = status == 431
        ? "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "j".repeat(9_000)
            + "\r\nContent-Length: 2\r\n\r\n{}"
        : status == 414 ? "POST /v1/chat/completions?q=" + "q".repeat(9_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        : "POST /v1/chat completions HTTP/1.1 junk\r\nHost: 127.0.0.1\r\n\r\n";
    String series = "routewise_http_refused_total{status=\"" + status + "\"}";
    double before = MetricsEndpointTest.value(f.get("/metrics").body(), series);
    io.routewise.RawHttp.Answer a = io.routewise.RawHttp.exchange(f.routewise.port(), request);
    String head = a.head();
    byte[] body = a.body();
    assertTrue(head.startsWith("HTTP/1.1 " + status), head);
    assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("content-type: application/json"), head);
    JsonNode e = JSON.readTree(body).get("error");
    assertEquals(code, e.get("code").asText(), new String(body, java.nio.charset.StandardCharsets.UTF_8));
    assertEquals("invalid_request_error", e.get("type").asText());
    assertTrue(head.toLowerCase(java.util.Locale.ROOT).contains("x-request-id: rw-"), head);
    // counted: before, no counter had these requests, which clients saw refused
    assertEquals(before + 1, MetricsEndpointTest.value(f.get("/metrics").body(), series));
  }

  /**
   * Jetty's error handler writes its page for GET, POST and HEAD only: a DELETE, PUT or PATCH (passthrough
   * takes them) or a browser's preflight that it refused got an empty body, outside every counter (a review).
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"DELETE", "PUT", "PATCH", "OPTIONS"})
  void requestsJettyRejectsGetOpenAiErrorsWhateverTheirMethod(String method) throws Exception {
    for (String[] c : new String[][] {
        {"431", "request_header_fields_too_large", method + " /v1/files/file-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
            + "j".repeat(9_000) + "\r\nContent-Length: 0\r\n\r\n"},
        {"400", "bad_request", method + " /v1/files/file-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: other\r\n"
            + "Content-Length: 0\r\n\r\n"}}) {
      String series = "routewise_http_refused_total{status=\"" + c[0] + "\"}";
      double before = MetricsEndpointTest.value(f.get("/metrics").body(), series);
      io.routewise.RawHttp.Answer a = io.routewise.RawHttp.exchange(f.routewise.port(), c[2]);
      String head = a.head();
      byte[] body = a.body();
      assertTrue(head.startsWith("HTTP/1.1 " + c[0]), head);
      assertTrue(body.length > 0, "a body to read: " + head);
      assertEquals(c[1], JSON.readTree(body).get("error").get("code").asText(), head);
      assertEquals(before + 1, MetricsEndpointTest.value(f.get("/metrics").body(), series), c[0]);
    }
  }

  /**
   * README: a request line without HTTP/1.x is 505 http_version_not_supported. HTTP/2.0 (what a client
   * speaking h2c with prior knowledge sends first) got Jetty's 426 Upgrade Required, which names no
   * Upgrade to make, and the preface itself an empty 426 no counter had.
   */
  @Test
  void anHttp2RequestLineIsAnsweredAsAVersionNotSupported() throws Exception {
    for (String request : new String[] {"GET /v1/models HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}) {
      String series = "routewise_http_refused_total{status=\"other\"}";
      double before = MetricsEndpointTest.value(f.get("/metrics").body(), series);
      io.routewise.RawHttp.Answer a = io.routewise.RawHttp.exchange(f.routewise.port(), request);
      String head = a.head();
      byte[] body = a.body();
      assertTrue(head.startsWith("HTTP/1.1 505"), request + ": " + head);
      JsonNode e = JSON.readTree(body).get("error");
      assertNotNull(e, head);
      assertEquals("http_version_not_supported", e.get("code").asText());
      assertEquals("server_error", e.get("type").asText());
      assertEquals(before + 1, MetricsEndpointTest.value(f.get("/metrics").body(), series), request);
    }
  }

  /** Jetty warned once per such request, without bound: any client could flood the log (a security trial). */
  @Test
  void malformedRequestsAreRefusedWithoutALogLineEach() throws Exception {
    String logged;
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      for (String request : new String[] {
          "GET /health HTTP/1.1\r\nHost: x\r\nHost: " + "A".repeat(200) + "\r\n\r\n",
          "GET /health HTTP/1.1\r\nHost: y\u0085z\r\n\r\n"}) {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
          s.setSoTimeout(10_000);
          s.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
          s.getOutputStream().flush();
          String head = io.routewise.RawHttp.readHead(s.getInputStream());
          assertTrue(head.startsWith("HTTP/1.1 400"), head);
        }
      }
      logged = log.text();
    }
    assertFalse(logged.contains("WARN"), logged);
    // the test's logging config says what the shipped one does
    String shipped = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/resources/simplelogger.properties"));
    for (String logger : new String[] {"org.eclipse.jetty.http.HttpParser=error", "org.eclipse.jetty.util.HostPort=error"}) {
      assertTrue(shipped.contains("org.slf4j.simpleLogger.log." + logger), shipped);
    }
  }

  /** The OpenAI SDKs' models.retrieve, for the ids a client may use as its model. */
  @Test
  void aSingleModelCanBeLookedUp() throws Exception {
    for (String id : List.of("router-random-0.116", "router-fixed-1", "strong-model", "weak-model")) {
      HttpResponse<String> r = f.get("/v1/models/" + id);
      assertEquals(200, r.statusCode(), id + " " + r.body());
      assertEquals(id, JSON.readTree(r.body()).get("id").asText());
      assertEquals("model", JSON.readTree(r.body()).get("object").asText());
    }
    for (String id : List.of("router-nope-0.5", "router-random-2", "gpt-4o", "org/model")) {
      HttpResponse<String> r = f.get("/v1/models/" + id);
      assertEquals(404, r.statusCode(), id);
      assertEquals("model_not_found", JSON.readTree(r.body()).get("error").get("code").asText(), id);
    }
  }

  @Test
  void modelsListsRoutableIdsAndUpstreamModels() throws Exception {
    JsonNode data = JSON.readTree(f.get("/v1/models").body()).get("data");
    List<String> ids = new java.util.ArrayList<>();
    data.forEach(m -> ids.add(m.get("id").asText()));
    assertTrue(ids.containsAll(List.of("router-random-0.5", "router-fixed-0.5", "strong-model", "weak-model")), ids.toString());
  }

  @Test
  void routeEndpointAnswersWithoutCallingAnyUpstream() throws Exception {
    f.chat("router-fixed-0.3", "x"); // so the series exist
    f.stubCompletions();
    String routedBefore = routedSeries(f.get("/metrics").body());
    assertTrue(routedBefore.contains("routewise_routed_total"), routedBefore);
    HttpResponse<String> r = f.post("/v1/route", "{\"model\":\"router-fixed-0.3\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertEquals(200, r.statusCode());
    JsonNode j = JSON.readTree(r.body());
    assertEquals("fixed", j.get("router").asText());
    assertEquals(0.5, j.get("strong_win_rate").asDouble());
    assertEquals(0.3, j.get("threshold").asDouble());
    assertEquals("strong-model", j.get("model").asText());
    assertFalse(j.has("top_win_rates"), "two upstreams: the one rate is strong_win_rate");
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
    // a dry run is not routed traffic: the strong-call share and routed counts stay as they were
    assertEquals(routedBefore, routedSeries(f.get("/metrics").body()));
  }

  @Test
  void healthAndUnknownPathsAnswerInJson() throws Exception {
    assertEquals(200, f.get("/health").statusCode());
    HttpResponse<String> r = f.get("/v2/nothing");
    assertEquals(404, r.statusCode());
    assertEquals("unknown_url", JSON.readTree(r.body()).path("error").path("code").asText(), r.body());
    HttpResponse<String> get = f.get("/v1/chat/completions");
    assertEquals(405, get.statusCode(), get.body());
    assertEquals("method_not_allowed", JSON.readTree(get.body()).path("error").path("code").asText(), get.body());
    assertEquals("POST", get.headers().firstValue("allow").orElseThrow());
    assertEquals("GET, HEAD", f.post("/v1/models", "{}").headers().firstValue("allow").orElseThrow());
    // with a trailing slash, the same path: Allow named every method (passthrough's) and contradicted the 405
    assertEquals("GET, HEAD", f.post("/health/", "{}").headers().firstValue("allow").orElseThrow());
    assertEquals("POST", f.get("/v1/chat/completions/").headers().firstValue("allow").orElseThrow());
  }
}
