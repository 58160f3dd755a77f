package io.routewise.server;

import io.routewise.StderrCapture;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's log hears of upstream outages and of config mistakes (a wrong key, URL or model),
 * not of the client's own errors or rate limits. A fresh routewise per test: the log's 10 s
 * interval must not carry over from another test.
 */
class UpstreamFailureLoggingTest {
  private ProxyFixture f;

  @BeforeEach
  void start() {
    f = new ProxyFixture("");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  /** A chat answer and what routewise logged while it was served. */
  private record Logged(java.net.http.HttpResponse<String> response, String log) {}

  private static Logged chatLogged(ProxyFixture fixture, String model) throws Exception {
    try (StderrCapture log = new StderrCapture()) {
      java.net.http.HttpResponse<String> r = fixture.chat(model, "x");
      return new Logged(r, log.text());
    }
  }

  @Test
  void anUpstream503IsLoggedAndAStrong429IsNot() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"slow down\"}}")));
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "text/plain").withBody("overloaded")));
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(429, f.chat("router-random-0", "x").statusCode());
      assertEquals(503, f.chat("router-random-1", "x").statusCode());
      logged = log.text();
    }
    assertTrue(logged.contains("upstream weak failed (answered 503): The weak upstream (localhost) answered 503"),
        logged);
    assertFalse(logged.contains("upstream strong"), "a 429 is the client's rate limit, not an outage: " + logged);
  }

  /**
   * OpenAI's 401 names part of the operator's key, and a client reading a 401 takes its own key
   * for wrong: the client gets a 502 saying whose credentials failed, the log gets the status.
   */
  @Test
  void anUpstream401IsA502ForTheClientAndTheOperatorsToFix() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withHeader("x-request-id", "req-401")
        .withHeader("openai-organization", "org-operator").withHeader("openai-project", "proj_operator")
        .withBody("{\"error\":{\"message\":\"Incorrect API key provided: sk-str*****cret\"}}")));
    Logged served = chatLogged(f, "router-random-0");
    java.net.http.HttpResponse<String> r = served.response();
    String logged = served.log();
    assertEquals(502, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"upstream_auth_failed\""), r.body());
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null), "the same key is refused again");
    assertTrue(r.body().contains("Your API key is not at fault"), r.body());
    assertFalse(r.body().contains("sk-str"), r.body());
    assertTrue(r.headers().firstValue("openai-organization").isEmpty());
    assertTrue(r.headers().firstValue("openai-project").isEmpty());
    assertTrue(logged.contains("upstream strong failed (answered 401)"), logged);
    assertTrue(logged.contains("upstreams.strong is refused (x-request-id req-401)"), logged);
    assertTrue(logged.contains("It said: {\"error\":{\"message\":\"Incorrect API key provided"), "why, for the operator: " + logged);
    assertFalse(logged.contains("sk-strong-secret"), logged);
    assertTrue(f.get("/metrics").body().contains(
        "routewise_upstream_duration_seconds_count{outcome=\"auth_failed\",upstream=\"strong\"} 1"));
  }

  /**
   * An upstream that echoes the request's headers (a debugging proxy, some gateways' error pages) repeated
   * routewise's own key: to the client in the relayed error and its openai-* headers, and to the log.
   */
  @Test
  void theUpstreamsKeyEchoedInItsAnswerIsMaskedForTheClientAndTheLog() throws Exception {
    String echo = "{\"error\":{\"message\":\"bad request; you sent Authorization: Bearer sk-strong-secret\"}}";
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json").withHeader("openai-echo", "Bearer sk-strong-secret")
        .withBody(echo)));
    java.net.http.HttpResponse<String> r = f.chat("router-random-0", "x");
    assertEquals(400, r.statusCode());
    assertTrue(r.body().contains("you sent Authorization: Bearer ***"), r.body());
    assertEquals("Bearer ***", r.headers().firstValue("openai-echo").orElse(null));

    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody(echo)));
    Logged refused = chatLogged(f, "router-random-0");
    assertTrue(refused.log().contains("It said: {\"error\":{\"message\":\"bad request; you sent Authorization: Bearer ***"),
        refused.log());
    assertFalse(refused.log().contains("sk-strong-secret"), refused.log());

    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody("data: " + echo + "\n\ndata: [DONE]\n\n")));
    java.net.http.HttpResponse<String> stream = f.post("/v1/chat/completions",
        "{\"model\":\"router-random-0\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertTrue(stream.body().contains("Bearer ***") && !stream.body().contains("sk-strong-secret"), stream.body());
  }

  /**
   * A request inspector as base_url (an echo service, a debugging proxy) answers 200 with the request's
   * headers in its body: routewise's key went to the client as it came, in a whole answer and in a
   * stream's events (routed or passed through) alike, where only errors had it masked.
   */
  @Test
  void theUpstreamsKeyEchoedInA200AnswerIsMaskedToo() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"x\",\"object\":\"chat.completion\","
            + "\"headers\":{\"Authorization\":\"Bearer sk-strong-secret\"},\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}")));
    java.net.http.HttpResponse<String> whole = f.chat("router-random-0", "x");
    assertEquals(200, whole.statusCode(), whole.body());
    assertTrue(whole.body().contains("\"Bearer ***\"") && !whole.body().contains("sk-strong-secret"), whole.body());

    String event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"you sent Bearer sk-strong-secret\"}}]}\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(event + "data: [DONE]\n\n")));
    java.net.http.HttpResponse<String> stream = f.post("/v1/chat/completions",
        "{\"model\":\"router-random-0\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertTrue(stream.body().contains("you sent Bearer ***") && !stream.body().contains("sk-strong-secret"), stream.body());

    f.close();
    f = ProxyFixture.withRouting("", "passthrough: strong");
    f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get(urlEqualTo("/v1/inspect")).willReturn(
        aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(event)));
    java.net.http.HttpResponse<String> passed = f.get("/v1/inspect");
    assertEquals(200, passed.statusCode(), passed.body());
    assertTrue(passed.body().contains("you sent Bearer ***") && !passed.body().contains("sk-strong-secret"), passed.body());
  }

  /**
   * A local server's placeholder key (lm-studio, not-needed, password) is short and a word a model may
   * write: masked in errors, not in answers, where it had turned the model's own "password" into ***
   * (a review). A key of 16 characters or more, every provider's, is masked in both.
   */
  @Test
  void aShortPlaceholderKeyIsMaskedInErrorsButNotInAnswers() throws Exception {
    f.close();
    f = ProxyFixture.edited("", yaml -> yaml.replace("api_key: none, model: weak-model", "api_key: password, model: weak-model"));
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"x\",\"object\":\"chat.completion\","
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Pick a strong password.\"}}],"
            + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}")));
    java.net.http.HttpResponse<String> answer = f.chat("router-random-1", "x");
    assertEquals(200, answer.statusCode(), answer.body());
    assertTrue(answer.body().contains("Pick a strong password."), answer.body());
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"bad request; you sent Authorization: Bearer password\"}}")));
    java.net.http.HttpResponse<String> error = f.chat("router-random-1", "x");
    assertTrue(error.body().contains("Bearer ***") && !error.body().contains("Bearer password"), error.body());
  }

  /** OpenAI's 429 names the operator's organization; the client reads the rest of it, retry headers included. */
  @Test
  void aRelayedErrorMasksTheOperatorsAccountIds() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json").withHeader("retry-after-ms", "1500")
        .withBody("{\"error\":{\"message\":\"Rate limit reached for gpt-4o in organization org-AbCdEfGh12345678IjKlMnOp "
            + "(project proj_ZyXwVuTs98765432AbCdEf12) on tokens per min (TPM): Limit 30000\",\"type\":\"tokens\"}}")));
    java.net.http.HttpResponse<String> r = f.chat("router-random-0", "x");
    assertEquals(429, r.statusCode());
    assertTrue(r.body().contains("in organization org-*** (project proj_***) on tokens per min"), r.body());
    assertFalse(r.body().contains("AbCdEfGh"), r.body());
    assertEquals("1500", r.headers().firstValue("retry-after-ms").orElse(null));

    // Anthropic's (its OpenAI-compatible API too) names the organization by a UUID after "org:"
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"This request would exceed "
            + "the rate limit for your organization (org: 80162711-722b-4454-ae75-c6334e6796f2, model: claude-3-5-haiku) "
            + "of 50,000 input tokens per minute.\"}}")));
    r = f.chat("router-random-0", "x");
    assertTrue(r.body().contains("(org: ***, model: claude-3-5-haiku)"), r.body());
    assertFalse(r.body().contains("80162711"), r.body());
  }

  /**
   * With failover on, a refused key is an outage of that upstream: the request goes to the other,
   * and the log says what the refusing upstream said (which key or account), as without failover.
   */
  @Test
  void anUpstream403FailsOverWhenFailoverIsOn() throws Exception {
    try (ProxyFixture g = ProxyFixture.withRouting("", "failover: true")) {
      g.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(403)
          .withHeader("Content-Type", "application/json").withHeader("x-request-id", "req-403")
          .withBody("{\"error\":{\"message\":\"country\"}}")));
      Logged served = chatLogged(g, "router-random-0");
      java.net.http.HttpResponse<String> r = served.response();
      String logged = served.log();
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("strong auth", r.headers().firstValue("x-routewise-failover").orElse(null));
      assertTrue(g.get("/metrics").body().contains("routewise_failovers_total{from=\"strong\",reason=\"auth\"} 1"));
      assertTrue(logged.contains("upstream strong failed (failover 403): The strong upstream (localhost) answered 403: "
          + "its api_key or account in upstreams.strong is refused (x-request-id req-403). "
          + "It said: {\"error\":{\"message\":\"country\"}}"), logged);
    }
  }

  /**
   * The error body is read for the log only: an upstream that sends a 503's headers and then
   * stalls its body must not hold the failover up for its whole timeout (120 s by default).
   */
  @Test
  void aStalledErrorBodyDoesNotHoldUpTheFailover() throws Exception {
    try (ProxyFixture g = ProxyFixture.withRouting("", "failover: true")) {
      g.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503)
          .withHeader("Content-Type", "text/plain").withBody("overloaded ".repeat(100))
          .withChunkedDribbleDelay(50, 30_000)));
      long start = System.nanoTime();
      Logged served = chatLogged(g, "router-random-0");
      java.net.http.HttpResponse<String> r = served.response();
      String logged = served.log();
      long seconds = java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("strong 5xx", r.headers().firstValue("x-routewise-failover").orElse(null));
      assertTrue(seconds < 15, "the failover waited " + seconds + " s on the failed upstream's body");
      assertTrue(logged.contains("answered 503. It said: overloaded"), "what came within the second: " + logged);
    }
  }

  /**
   * A base_url on http:// that the provider moves to https://: the client cannot follow it usefully
   * (an SDK raised a bare APIError 302 "(no body)"), so it gets a 502 in OpenAI's shape and the
   * operator a config problem.
   */
  @Test
  void anUpstreamRedirectIsA502ForTheClientAndAConfigurationProblemInTheLog() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(301)
        .withHeader("Location", "https://example.com/v1/chat/completions?key=sk-in-the-query")
        .withBody("{\"weird\": true}")));
    Logged served = chatLogged(f, "router-random-0");
    java.net.http.HttpResponse<String> r = served.response();
    String logged = served.log();
    assertEquals(502, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"upstream_invalid_response\""), r.body());
    assertTrue(r.body().contains("answered a redirect (HTTP 301), which routewise does not follow"), r.body());
    assertFalse(r.body().contains("weird") || r.headers().firstValue("Location").isPresent(), r.body());
    assertTrue(logged.contains("upstream strong failed (answered 301)"), logged);
    assertTrue(logged.contains("answered 301 to https://example.com; check base_url; the client got a 502"), logged);
    assertFalse(logged.contains("sk-in-the-query"), "a redirect may repeat a key from base_url: " + logged);
    String m = f.get("/metrics").body();
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"invalid\",upstream=\"strong\"} 1"), m);
  }

  /** A wrong model or URL: the client gets the 404, the operator a config problem, and the call is not counted ok. */
  @Test
  void anUpstream404IsLoggedAndCountedRejectedNotOk() throws Exception {
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"no such model\"}}")));
    Logged served = chatLogged(f, "router-random-1");
    assertEquals(404, served.response().statusCode());
    assertTrue(served.log().contains("upstream weak failed (answered 404)"), served.log());
    String m = f.get("/metrics").body();
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"rejected\",upstream=\"weak\"} 1"), m);
    assertFalse(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"weak\"}"), m);
  }

  /** An upstream that streams whatever it is asked: the SDK of a client that asked for no stream got the raw lines as a string. */
  @Test
  void aStreamAnsweringARequestThatAskedForNoneIsA502() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream")
        .withBody("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")));
    Logged served = chatLogged(f, "router-random-0");
    assertEquals(502, served.response().statusCode(), served.response().body());
    assertTrue(served.response().body().contains(
        "answered with a stream (text/event-stream) to a request that did not ask for one"), served.response().body());
    assertTrue(served.log().contains("with a stream (text/event-stream) to a request without \"stream\": true"),
        served.log());
  }

  /** Failed over, an unasked stream's body is the answer itself, which may echo the prompt: never in the log, nor waited on. */
  @Test
  void anUnaskedStreamFailedOverKeepsItsAnswerOutOfTheLog() throws Exception {
    try (ProxyFixture g = ProxyFixture.withRouting("", "failover: true")) {
      g.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "text/event-stream; charset=utf-8")
          .withBody("data: {\"choices\":[{\"delta\":{\"content\":\"PATIENT-123-45-6789\"}}]}\n\ndata: [DONE]\n\n")));
      Logged served = chatLogged(g, "router-random-0");
      assertEquals(200, served.response().statusCode(), served.response().body());
      assertEquals("strong invalid", served.response().headers().firstValue("x-routewise-failover").orElse(null));
      assertTrue(served.log().contains("It said: (a stream, not read)"), served.log());
      assertFalse(served.log().contains("PATIENT"), "the answer's text went to the log: " + served.log());
    }
  }
  /**
   * README: at most one line per 10 s per upstream. An upstream that both answers routed chat and
   * serves passthrough had a window in each handler (and one more for stored responses' polls), so
   * its outage was told once per handler.
   */
  @Test
  void anOutageOfAnUpstreamThatAlsoServesPassthroughIsOneLinePerInterval() throws Exception {
    f.close();
    f = ProxyFixture.withRouting("", "passthrough: strong");
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "text/plain").withBody("overloaded")));
    f.strong.stubFor(post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "text/plain").withBody("overloaded")));
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(503, f.chat("router-random-0", "x").statusCode());
      assertEquals(503, f.post("/v1/embeddings", "{\"model\":\"e\",\"input\":\"x\"}").statusCode());
      logged = log.text();
    }
    assertEquals(1, logged.lines().filter(l -> l.contains("upstream strong failed")).count(), logged);
  }
}
