package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code routing.failover: true}: a request whose upstream cannot be reached, or answers 429/5xx,
 * goes once to the other upstream; the client sees which one answered and why.
 */
class FailoverTest {
  private final WireMockServer strong =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final WireMockServer weak =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final HttpClient http = HttpClient.newHttpClient();
  private Routewise routewise;

  @AfterEach
  void stop() {
    if (routewise != null) {
      routewise.close();
    }
    strong.stop();
    weak.stop();
  }

  private void start(String strongUrl, String weakUrl, String routing) {
    routewise = Routewise.start(TestConfigs.config(TestConfigs.withRouting(TestConfigs.yaml(strongUrl, weakUrl, ""), routing)),
        RouterCatalog.standard(), id -> null, () -> {});
  }

  private static void answer(WireMockServer upstream, int status, String model) {
    answer(upstream, status, model, 0);
  }

  private static void answer(WireMockServer upstream, int status, String model, int delayMillis) {
    upstream.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(status)
        .withFixedDelay(delayMillis)
        .withHeader("Content-Type", "application/json")
        .withBody(status == 200 ? ProxyFixture.COMPLETION.formatted(model, model)
            : "{\"error\":{\"message\":\"" + model + " says " + status + "\",\"type\":\"server_error\"}}")));
  }

  private HttpResponse<String> chat(String model) throws Exception {
    return http.send(TestConfigs.chat(routewise.port(), model), HttpResponse.BodyHandlers.ofString());
  }

  private String metrics() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static String closedPortUrl() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return "http://127.0.0.1:" + s.getLocalPort() + "/v1";
    }
  }

  @Test
  void anUnreachableWeakUpstreamFailsOverToStrong() throws Exception {
    strong.start();
    answer(strong, 200, "strong-model");
    start(strong.baseUrl() + "/v1", closedPortUrl(), "failover: true");

    HttpResponse<String> r = chat("router-random-1"); // always weak
    assertEquals(200, r.statusCode());
    assertTrue(r.body().contains("hello from strong-model"), r.body());
    assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("weak unreachable", r.headers().firstValue("x-routewise-failover").orElseThrow());
    strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(equalToJson("{\"model\":\"strong-model\"}", true, true)));
    String m = metrics();
    assertTrue(m.contains("routewise_failovers_total{from=\"weak\",reason=\"unreachable\"} 1.0"), m);
  }

  @Test
  void aStrong5xxFailsOverToWeakAndA429FromBothEndsWithTheSecondAnswer() throws Exception {
    strong.start();
    weak.start();
    answer(strong, 503, "strong-model", 400);
    answer(weak, 200, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "failover: true");

    HttpResponse<String> r = chat("router-random-0"); // always strong
    assertEquals(200, r.statusCode());
    assertTrue(r.body().contains("hello from weak-model"), r.body());
    assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("strong 5xx", r.headers().firstValue("x-routewise-failover").orElseThrow());
    double overhead = MetricsEndpointTest.value(metrics(), "routewise_proxy_overhead_seconds_sum{router=\"random\"}");
    assertTrue(overhead < 0.3, "the 400 ms the failed upstream took is not routewise's overhead: " + overhead);

    // Only one hop: when the other upstream fails too, its answer is what the client gets.
    answer(strong, 429, "strong-model");
    answer(weak, 500, "weak-model");
    HttpResponse<String> both = chat("router-random-0");
    assertEquals(500, both.statusCode());
    assertTrue(both.body().contains("weak-model says 500"), both.body());
    assertEquals("strong 429", both.headers().firstValue("x-routewise-failover").orElseThrow());
    strong.verify(2, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    weak.verify(2, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  /** A redirect (an http:// base_url the provider moved to https://) is that upstream's config mistake: the other answers. */
  @Test
  void aRedirectFailsOverLikeARefusedKey() throws Exception {
    strong.start();
    weak.start();
    strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(302)
        .withHeader("Location", "https://elsewhere.example/v1/chat/completions")));
    answer(weak, 200, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "failover: true");

    HttpResponse<String> r = chat("router-random-0"); // always strong
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("strong invalid", r.headers().firstValue("x-routewise-failover").orElseThrow());
    String m = metrics();
    assertTrue(m.contains("routewise_failovers_total{from=\"strong\",reason=\"invalid\"} 1.0"), m);
  }

  /**
   * An upstream that failed three calls in a row, with no answer for a second, is skipped for the
   * cooldown: its requests go straight to the failover upstream rather than each paying for one more
   * failure. After the cooldown one request tries it again, and its answer ends the cooling.
   */
  @Test
  void anUpstreamFailingThreeTimesInARowCoolsDownUntilATryAnswers() throws Exception {
    strongFailsWeakAnswers("failover: true, failover_cooldown_ms: 1500");
    Thread.sleep(1100); // no answer from strong for a second (since the start)
    for (int i = 0; i < 3; i++) {
      assertEquals("strong 5xx", chat("router-random-0").headers().firstValue("x-routewise-failover").orElseThrow());
    }
    HttpResponse<String> skipped = chat("router-random-0");
    assertEquals(200, skipped.statusCode());
    assertEquals("strong cooldown", skipped.headers().firstValue("x-routewise-failover").orElseThrow());
    assertEquals("weak weak-model", skipped.headers().firstValue("x-routewise-model").orElseThrow());
    strong.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    String m = metrics();
    assertTrue(m.contains("routewise_upstream_cooling{upstream=\"strong\"} 1.0"), m);
    assertTrue(m.contains("routewise_upstream_cooling{upstream=\"weak\"} 0.0"), m);
    assertTrue(m.contains("routewise_failovers_total{from=\"strong\",reason=\"cooldown\"} 1.0"), m);

    answer(strong, 200, "strong-model"); // back up
    Thread.sleep(1600);
    HttpResponse<String> tried = chat("router-random-0");
    assertEquals("strong strong-model", tried.headers().firstValue("x-routewise-model").orElseThrow());
    assertFalse(tried.headers().firstValue("x-routewise-failover").isPresent());
    assertTrue(metrics().contains("routewise_upstream_cooling{upstream=\"strong\"} 0.0"));
    assertFalse(chat("router-random-0").headers().firstValue("x-routewise-failover").isPresent());
  }

  /** strong answers 503, weak 200, under {@code routing}. */
  private void strongFailsWeakAnswers(String routing) {
    strong.start();
    weak.start();
    answer(strong, 503, "strong-model");
    answer(weak, 200, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", routing);
  }

  /** strong hangs past its 1.5 s timeout three times (504s, not failed over), so it cools; weak answers {@code weakStatus}. */
  private void coolAHungStrong(int weakStatus) throws Exception {
    strong.start();
    weak.start();
    strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions"))
        .willReturn(aResponse().withStatus(200).withFixedDelay(3_000)));
    answer(weak, weakStatus, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "failover: true");
    for (int i = 0; i < 3; i++) {
      assertEquals(504, chat("router-random-0").statusCode());
    }
  }

  /**
   * A hung upstream is not failed over (each client waited its whole timeout_ms), but after three
   * timeouts in a row the requests chosen for it go to the other at once instead of each waiting.
   */
  @Test
  void threeTimeoutsInARowCoolAHungUpstreamDown() throws Exception {
    coolAHungStrong(200);
    HttpResponse<String> r = chat("router-random-0");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("strong cooldown", r.headers().firstValue("x-routewise-failover").orElseThrow());
    strong.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions"))); // not tried: no wait on it
  }

  /**
   * A request that fails on weak while strong cools is not sent into strong (hung: the client would
   * wait out its timeout too): weak's own answer is what the client gets. Both down, a request is a
   * 503 at once, which the SDKs retry.
   */
  @Test
  void noFailoverIntoACoolingUpstream() throws Exception {
    coolAHungStrong(503);
    HttpResponse<String> r = chat("router-random-1"); // weak
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("weak-model says 503"), "weak's own answer: " + r.body());
    assertFalse(r.headers().firstValue("x-routewise-failover").isPresent());
    strong.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));

    // weak down too (3 in a row, no answer since the start): both cool, and a request is a 503 at once
    chat("router-random-1");
    chat("router-random-1");
    HttpResponse<String> none = chat("router-random-0");
    assertEquals(503, none.statusCode(), none.body());
    assertTrue(none.body().contains("\"code\":\"upstreams_unavailable\""), none.body());
    assertTrue(Integer.parseInt(none.headers().firstValue("retry-after").orElseThrow()) >= 1);
    strong.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    weak.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  /**
   * Both upstreams cooled, their cooldowns over, and a try in flight to each: a request meanwhile is a
   * 503 whose Retry-After is about the cooldown (a try that fails starts one that long; one that answers
   * ends the cooling sooner), not the try's hold, twice connect_timeout_ms + timeout_ms (13 s here,
   * 250 s by default), which told clients that honour it to stay away long after the upstreams were back.
   */
  @Test
  void whileTriesAreInFlightA503SaysToRetryAfterAboutTheCooldown() throws Exception {
    strong.start();
    weak.start();
    answer(strong, 503, "strong-model");
    answer(weak, 503, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "failover: true, failover_cooldown_ms: 1000");
    Thread.sleep(1100); // no answer from either for a second (since the start)
    for (int i = 0; i < 3; i++) {
      assertEquals(503, chat("router-random-0").statusCode()); // strong 503, then weak's 503: both fail
    }
    assertEquals("upstreams_unavailable", codeOf(chat("router-random-0")), "both cool");
    answer(strong, 200, "strong-model", 1200); // back, slowly: the tries are in flight for a while
    answer(weak, 200, "weak-model", 1200);
    Thread.sleep(1100); // the cooldowns are over
    var tries = java.util.List.of(
        java.util.concurrent.CompletableFuture.supplyAsync(() -> chatQuietly("router-random-0")),
        java.util.concurrent.CompletableFuture.supplyAsync(() -> chatQuietly("router-random-1")));
    Thread.sleep(400);
    HttpResponse<String> none = chat("router-random-0");
    assertEquals(503, none.statusCode(), none.body());
    assertEquals("upstreams_unavailable", codeOf(none));
    long retryAfter = Long.parseLong(none.headers().firstValue("retry-after").orElseThrow());
    // README, Errors: for an upstream whose try is under way, at most failover_cooldown_ms (1 s here), not a
    // second past it, and not the tries' 13 s hold
    assertEquals(1, retryAfter, "at most the 1 s cooldown, not the tries' 13 s hold");
    for (var t : tries) {
      assertEquals(200, t.get().statusCode(), "the tries answered: cooling over");
    }
    assertEquals(200, chat("router-random-0").statusCode());
  }

  private HttpResponse<String> chatQuietly(String model) {
    try {
      return chat(model);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String codeOf(HttpResponse<String> r) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"code\":\"([^\"]*)\"").matcher(r.body());
    return m.find() ? m.group(1) : r.body();
  }

  /**
   * A hung upstream that sends a stream's headers and then nothing answered with a 200 each time,
   * so it never cooled: a stream counts as answered only once its first bytes come.
   */
  @Test
  void streamsCutOffBeforeTheirFirstByteCoolTheirUpstream() throws Exception {
    weak.start();
    answer(weak, 200, "weak-model");
    try (ServerSocket hung = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual().start(() -> {
        while (!hung.isClosed()) {
          try {
            java.net.Socket s = hung.accept();
            Thread.ofVirtual().start(() -> {
              try (s) {
                String head = io.routewise.RawHttp.readHead(s.getInputStream());
                s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
                s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                Thread.sleep(10_000);
              } catch (Exception e) {
                // routewise gave up on it
              }
            });
          } catch (java.io.IOException closed) {
            return;
          }
        }
      });
      start("http://127.0.0.1:" + hung.getLocalPort() + "/v1", weak.baseUrl() + "/v1", "failover: true");
      HttpRequest stream = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/v1/chat/completions"))
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-random-0\",\"stream\":true,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build();
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> r = http.send(stream, HttpResponse.BodyHandlers.ofString());
        assertEquals(504, r.statusCode(), "nothing had reached the client: a status of its own");
        assertTrue(r.body().contains("upstream_timeout"), r.body());
      }
      HttpResponse<String> r = http.send(stream, HttpResponse.BodyHandlers.ofString());
      assertEquals("strong cooldown", r.headers().firstValue("x-routewise-failover").orElse(null), r.body());
      assertTrue(metrics().contains("routewise_upstream_cooling{upstream=\"strong\"} 1.0"));
    }
  }

  /**
   * A request that names its upstream may fail for reasons of its own (a 429 for its size): three
   * of them do not cool the upstream for every routed request.
   */
  @Test
  void namedUpstreamsFailuresDoNotCoolIt() throws Exception {
    strongFailsWeakAnswers("failover: true, direct_upstreams: true");
    answer(strong, 429, "strong-model");
    Thread.sleep(1100);
    for (int i = 0; i < 3; i++) {
      assertEquals(429, chat("upstream-strong").statusCode());
    }
    HttpResponse<String> r = chat("router-random-0");
    assertEquals("strong 429", r.headers().firstValue("x-routewise-failover").orElse(null), "tried, not skipped");
    strong.verify(4, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  private static void tooLarge(WireMockServer upstream, String says) {
    upstream.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"" + says + "\",\"type\":\"tokens\",\"code\":\"rate_limit_exceeded\"}}")));
  }

  /**
   * A prompt too large for the upstream's rate limit gets a 429 however idle the upstream is, and an
   * SDK retries it twice: three in a row on a quiet upstream cooled it, and everyone's requests went
   * to its failover for the cooldown. Those 429s are the request's; a limit reached still cools.
   */
  @Test
  void a429ForOneRequestsSizeDoesNotCoolTheUpstream() throws Exception {
    strongFailsWeakAnswers("failover: true");
    String tooLarge = "Request too large for gpt-4o in organization org-AbCdEfGh12345678IjKlMnOp on tokens per min"
        + " (TPM): Limit 30000, Requested 52000. The input or output tokens must be reduced in order to run successfully.";
    tooLarge(strong, tooLarge);
    tooLarge(weak, tooLarge);
    Thread.sleep(1100); // no answer from either for a second (since the start)
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> r = chat("router-random-0");
      assertEquals(429, r.statusCode(), r.body()); // strong's, failed over to weak's, relayed
      assertEquals("strong 429", r.headers().firstValue("x-routewise-failover").orElseThrow());
    }
    for (int i = 0; i < 3; i++) {
      assertEquals(429, chat("router-random-1").statusCode()); // weak 429s, failed over to strong, whose 429 is relayed
    }
    answer(weak, 200, "weak-model");
    HttpResponse<String> r = chat("router-random-0");
    assertEquals("strong 429", r.headers().firstValue("x-routewise-failover").orElse(null), "tried, not skipped");
    strong.verify(4 + 3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    String m = metrics();
    assertTrue(m.contains("routewise_upstream_cooling{upstream=\"strong\"} 0.0"), m);
    assertTrue(m.contains("routewise_upstream_cooling{upstream=\"weak\"} 0.0"), m);

    // nor when it comes as an event stream (the message is read when failing over)
    strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "text/event-stream").withBody("{\"error\":{\"message\":\"" + tooLarge + "\"}}")));
    answer(weak, 200, "weak-model");
    Thread.sleep(1100);
    for (int i = 0; i < 4; i++) {
      assertEquals("strong 429", chat("router-random-0").headers().firstValue("x-routewise-failover").orElseThrow());
    }

    tooLarge(strong, "Rate limit reached for gpt-4o in organization org-AbCdEfGh12345678IjKlMnOp on requests per min");
    Thread.sleep(1100);
    for (int i = 0; i < 3; i++) {
      assertEquals("strong 429", chat("router-random-0").headers().firstValue("x-routewise-failover").orElseThrow());
    }
    assertEquals("strong cooldown", chat("router-random-0").headers().firstValue("x-routewise-failover").orElseThrow());
  }

  /** With failover_cooldown_ms: 0 every request tries its upstream, however often it failed. */
  @Test
  void aCooldownOfZeroNeverSkips() throws Exception {
    strongFailsWeakAnswers("failover: true, failover_cooldown_ms: 0");
    for (int i = 0; i < 5; i++) {
      assertEquals("strong 5xx", chat("router-random-0").headers().firstValue("x-routewise-failover").orElseThrow());
    }
    strong.verify(5, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertFalse(metrics().contains("routewise_upstream_cooling"));
  }

  @Test
  void aTimeoutIsNotFailedOverAndFailoverIsOffByDefault() throws Exception {
    strong.start();
    weak.start();
    strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions"))
        .willReturn(aResponse().withStatus(200).withFixedDelay(3_000)));
    answer(weak, 503, "weak-model");
    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "failover: true");
    // The client already waited the whole timeout_ms (1.5 s): a second upstream would double it.
    assertEquals(504, chat("router-random-0").statusCode());
    weak.verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    routewise.close();

    start(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "scoring_queue: 256");
    HttpResponse<String> r = chat("router-random-1");
    assertEquals(503, r.statusCode());
    assertFalse(r.headers().firstValue("x-routewise-failover").isPresent());
    strong.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }
}
