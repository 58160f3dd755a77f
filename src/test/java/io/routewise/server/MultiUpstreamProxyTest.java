package io.routewise.server;

import io.routewise.StderrCapture;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * More than two upstreams, each a real WireMock server on loopback: the decision names the chosen
 * one in headers, in {@code /v1/route} and in the upstream actually called; failover climbs the
 * ladder; prices turn each answer's usage into dollars.
 */
class MultiUpstreamProxyTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Map<String, WireMockServer> upstreams = new LinkedHashMap<>();
  private final HttpClient http = HttpClient.newHttpClient();
  private Routewise routewise;

  /** P(top beats mini) = 0.3, P(top beats weak) = 0.8: at alpha 0.5, mini. */
  static final class LadderRouter implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      return 0.8;
    }

    @Override
    public double[] topWinRates(Prompt prompt, Ladder ladder) {
      double[] rates = new double[ladder.size()];
      for (int i = 1; i < rates.length; i++) {
        rates[i] = switch (ladder.rung(i).upstream()) {
          case "mini" -> 0.3;
          case "weak" -> 0.8;
          default -> 0.9;
        };
      }
      return rates;
    }
  }

  @AfterEach
  void stop() {
    if (routewise != null) {
      routewise.close();
    }
    upstreams.values().forEach(WireMockServer::stop);
  }

  /** Starts one WireMock per name, answering as {@code <name>-model} with the given usage. */
  private void start(String routingExtra, String... entries) {
    startWith("", routingExtra, entries);
  }

  private void startWith(String serverExtra, String routingExtra, String... entries) {
    startWith(new LadderRouter(), serverExtra, routingExtra, entries);
  }

  private void startWith(Router router, String serverExtra, String routingExtra, String... entries) {
    StringBuilder yaml = new StringBuilder("server: {host: 127.0.0.1, port: 0" + serverExtra + "}\nupstreams:\n");
    for (String entry : entries) {
      String name = entry.substring(0, entry.indexOf(':'));
      WireMockServer w = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
      w.start();
      answer(w, 200, name, 1000, 200);
      upstreams.put(name, w);
      yaml.append("  ").append(name).append(": {base_url: \"").append(w.baseUrl()).append("/v1\", api_key: none, model: ")
          .append(name).append("-model, timeout_ms: 1500").append(entry.substring(entry.indexOf(':') + 1)).append("}\n");
    }
    yaml.append("routing: {router: ladder, threshold: 0.5").append(routingExtra).append("}\n")
        .append("routers: {ladder: {}, length: {}}\n");
    routewise = Routewise.start(TestConfigs.config(yaml.toString()),
        RouterCatalog.standard().with("ladder", ctx -> router), id -> null, () -> {});
  }

  private static void answer(WireMockServer w, int status, String name, int promptTokens, int completionTokens) {
    w.resetAll();
    w.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(status)
        .withHeader("Content-Type", "application/json")
        .withBody(status != 200 ? "{\"error\":{\"message\":\"down\",\"type\":\"server_error\"}}" : """
            {"id":"c","object":"chat.completion","created":1,"model":"%s-model",
             "choices":[{"index":0,"message":{"role":"assistant","content":"hello from %s"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}"""
            .formatted(name, name, promptTokens, completionTokens, promptTokens + completionTokens))));
  }

  private HttpResponse<String> post(String path, String model, String prompt) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + path))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\","
            + "\"content\":\"" + prompt + "\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
  }

  private String get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static final String[] THREE = {
      "strong: , price: {input: 2.5, output: 10}",
      "weak: , price: {input: 0.1, output: 0.1}",
      "mini: , price: {input: 0.15, output: 0.6}"};

  /**
   * A request with an image goes only to an upstream that takes images: the router scores its text
   * (mini at α 0.5, weak at α 0.9), and a text-only rung's choice moves to the nearest more capable
   * one that accepts them, in chat and in /v1/route alike (SDK trial: an image and "What breed is
   * it?" went to a local text model).
   */
  @Test
  void aRequestWithAnImageGoesOnlyToAnUpstreamThatTakesImages() throws Exception {
    start("", "strong: , price: {input: 2.5, output: 10}",
        "weak: , price: {input: 0.1, output: 0.1}, accepts: [text]",
        "mini: , price: {input: 0.15, output: 0.6}, accepts: [text, image]");
    String image = "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        + "\"What is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]},"
        + "{\"role\":\"assistant\",\"content\":\"A dog.\"},{\"role\":\"user\",\"content\":\"What breed?\"}]}";
    String audio = "{\"model\":\"router-ladder-0.5\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        + "\"text\",\"text\":\"Transcribe\"},{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}";
    record Case(String body, String upstream, String movedFrom) {}
    for (Case c : List.of(
        new Case(image.formatted("router-ladder-0.9"), "mini", "weak"), // the image two turns back still goes with it
        new Case(image.formatted("router-ladder-0.5"), "mini", null),
        new Case(audio, "strong", "mini"), // mini takes no audio: the top
        new Case(image.formatted("router-ladder-0.9").replace(",{\"type\":\"image_url\",\"image_url\":{\"url\":"
            + "\"data:image/png;base64,AAAA\"}}", ""), "weak", null))) { // text alone: the rule's choice
      for (String path : List.of("/v1/route", "/v1/chat/completions")) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
            + path)).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(c.body()))
            .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        if (path.equals("/v1/route")) {
          assertEquals(c.upstream(), JSON.readTree(r.body()).get("upstream").asText(), c.body());
          assertEquals(c.movedFrom(), JSON.readTree(r.body()).path("moved_from").textValue(), c.body());
        } else {
          assertTrue(r.body().contains("hello from " + c.upstream()), c.body() + " -> " + r.body());
          assertEquals(c.movedFrom(), r.headers().firstValue("x-routewise-moved-from").orElse(null), c.body());
        }
      }
    }
    // counted by where the choice could not go (chat only: /v1/route is a dry run), at 0 from the start for weak
    String m = get("/metrics");
    assertTrue(m.contains("routewise_media_moves_total{from=\"weak\",router=\"ladder\"} 1.0"), m);
    assertTrue(m.contains("routewise_media_moves_total{from=\"mini\",router=\"ladder\"} 1.0"), m);
    assertTrue(m.contains("routewise_media_moves_total{from=\"weak\",router=\"length\"} 0.0"), m);
  }

  /** A chat request with text and an image, as the OpenAI SDK sends one. */
  private HttpResponse<String> chatWithImage(String model) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/v1/chat/completions"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model
            + "\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
            + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}}]}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Failing over, an image request passes over a text-only upstream too. */
  @Test
  void anImageRequestFailsOverOnlyToAnUpstreamThatTakesImages() throws Exception {
    start(", failover: true, failover_cooldown_ms: 0", "strong: , price: {input: 2.5, output: 10}",
        "weak: , price: {input: 0.1, output: 0.1}", "mid: , price: {input: 1, output: 1}, accepts: [text]");
    answer(upstreams.get("strong"), 500, "strong", 0, 0);
    HttpResponse<String> r = chatWithImage("router-ladder-0");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from weak"), r.body());
    assertEquals("strong 5xx", r.headers().firstValue("x-routewise-failover").orElse(null));
    assertEquals(0, upstreams.get("mid").getAllServeEvents().size(), "mid takes no images");
    // text alone fails over to the next one below, as before
    assertTrue(post("/v1/chat/completions", "router-ladder-0", "hi").body().contains("hello from mid"));
  }

  /**
   * A rung priced above strong sits right under it, and a rung below failing over climbed to it:
   * strong is above it and does at least as well for less. From strong down it is still the next.
   */
  @Test
  void climbingAFailoverPassesOverAnUpstreamDearerThanTheTop() throws Exception {
    start(", failover: true, failover_cooldown_ms: 0", "strong: , price: {input: 2.5, output: 10}",
        "opus: , price: {input: 15, output: 75}", "mini: , price: {input: 1, output: 2}",
        "weak: , price: {input: 0.1, output: 0.1}");
    answer(upstreams.get("mini"), 500, "mini", 0, 0);
    HttpResponse<String> r = post("/v1/chat/completions", "router-ladder-0.5", "hi");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("mini 5xx", r.headers().firstValue("x-routewise-failover").orElseThrow());
    assertTrue(r.body().contains("hello from strong"), r.body());
    assertEquals(0, upstreams.get("opus").getAllServeEvents().size());
    answer(upstreams.get("strong"), 500, "strong", 0, 0);
    assertTrue(post("/v1/chat/completions", "router-ladder-0", "hi").body().contains("hello from opus"));
  }

  /**
   * A ladder strong > mid > mini > weak with weak and mini failing, requests routed to weak (0.8 <
   * 0.9) until both cool: each fails over to mini, which fails too, three in a row. The first answer
   * that skipped weak for its cooldown.
   */
  private HttpResponse<String> coolWeakAndMini(int cooldownMs) throws Exception {
    start(", failover: true, failover_cooldown_ms: " + cooldownMs, "strong: , price: {input: 2.5, output: 10}",
        "mid: , price: {input: 1, output: 1}", "mini: , price: {input: 0.5, output: 0.5}",
        "weak: , price: {input: 0.1, output: 0.1}");
    answer(upstreams.get("weak"), 500, "weak", 0, 0);
    answer(upstreams.get("mini"), 500, "mini", 0, 0);
    long until = System.nanoTime() + 15_000_000_000L;
    HttpResponse<String> r;
    do {
      r = post("/v1/chat/completions", "router-ladder-0.9", "hi");
    } while (!"weak cooldown".equals(r.headers().firstValue("x-routewise-failover").orElse(null))
        && System.nanoTime() < until);
    return r;
  }

  /**
   * Failover walks up a long ladder past upstreams that cool: with weak and mini both down, weak's
   * requests go to mid, not a 503 while two upstreams are up (an operator trial, six upstreams).
   */
  @Test
  void aFailoverPassesOverCoolingUpstreamsToTheNearestUp() throws Exception {
    coolWeakAndMini(60_000);
    HttpResponse<String> r = post("/v1/chat/completions", "router-ladder-0.9", "hi");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from mid"), r.body());
    assertEquals("weak cooldown", r.headers().firstValue("x-routewise-failover").orElse(null));
    assertEquals("mid mid-model", r.headers().firstValue("x-routewise-model").orElse(null));
    // all below the top down: a 503 naming them, at once
    answer(upstreams.get("mid"), 500, "mid", 0, 0);
    answer(upstreams.get("strong"), 500, "strong", 0, 0);
    long until = System.nanoTime() + 15_000_000_000L;
    do {
      r = post("/v1/chat/completions", "router-ladder-0.9", "hi");
      Thread.sleep(300);
    } while (r.statusCode() != 503 && System.nanoTime() < until);
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("upstreams_unavailable") && r.body().contains("mini, mid, strong are all failing"),
        r.body());
  }

  /**
   * Weak and mini down, mid up: once their cooldowns run out, a request routed to weak is still
   * answered by mid. The request that made weak's try had failed over into mini's try as well (or one
   * skipping weak was spent on mini's try), and its client got mini's failure: one error per cooldown
   * while mid answered (an operator trial).
   */
  @Test
  void aRequestToADownRungIsAnsweredByTheNearestUpAfterTheCooldownsRunOut() throws Exception {
    HttpResponse<String> r = coolWeakAndMini(1000);
    assertEquals(200, r.statusCode(), r.body());
    Thread.sleep(1500); // both cooldowns over: the next requests make weak's and mini's tries
    for (int i = 0; i < 6; i++) {
      r = post("/v1/chat/completions", "router-ladder-0.9", "hi");
      assertEquals(200, r.statusCode(), "request " + i + " after the cooldowns, failover "
          + r.headers().firstValue("x-routewise-failover").orElse(null) + ": " + r.body());
      assertTrue(r.body().contains("hello from mid"), r.body());
    }
  }

  /** None below takes images: the top's failure is the answer, not a text model's guess at a picture. */
  @Test
  void anImageRequestThatNoOtherUpstreamTakesIsNotFailedOver() throws Exception {
    start(", failover: true, failover_cooldown_ms: 0", "strong: , price: {input: 2.5, output: 10}",
        "weak: , price: {input: 0.1, output: 0.1}, accepts: [text]");
    answer(upstreams.get("strong"), 500, "strong", 0, 0);
    HttpResponse<String> r = chatWithImage("router-ladder-0.9");
    assertEquals(500, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("x-routewise-failover").isEmpty());
    assertEquals(0, upstreams.get("weak").getAllServeEvents().size(), "weak takes no images");
  }

  @Test
  void aFailedRouterSendsTheRouteToTheTopWithoutRates() throws Exception {
    startWith(new Router() {
      @Override
      public double strongWinRate(Prompt prompt) {
        return 0.8;
      }

      @Override
      public double[] topWinRates(Prompt prompt, Ladder ladder) {
        return new double[] {0, 0.3, 1.5}; // out of range: the router failed
      }

      @Override
      public boolean scoresEachUpstream() {
        return true;
      }
    }, "", "", THREE);
    JsonNode j = JSON.readTree(post("/v1/route", "router-ladder-0.5", "hi").body());
    assertEquals("strong", j.get("upstream").asText(), j.toString());
    assertEquals("out_of_range", j.get("router_error").asText(), j.toString());
    assertFalse(j.has("top_win_rates"), "no rates the rule chose from: " + j);
    // the rule this router decides by when it does not fail (auto: it scores each upstream, all priced)
    assertEquals("price_weighted", j.path("ladder_rule").asText(), j.toString());
  }

  @Test
  void aChatGoesToTheChosenUpstreamAndItsHeadersNameIt() throws Exception {
    start("", THREE);
    HttpResponse<String> r = post("/v1/chat/completions", "router-ladder-0.5", "hi");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from mini"), r.body());
    assertEquals("mini mini-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("0.800000", r.headers().firstValue("x-routewise-win-rate").orElseThrow(), "top over the cheapest");
    upstreams.get("mini").verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("mini-model"))));
    upstreams.get("strong").verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    assertTrue(post("/v1/chat/completions", "router-ladder-0.81", "hi").body().contains("hello from weak"));
    assertTrue(post("/v1/chat/completions", "router-ladder-0.3", "hi").body().contains("hello from strong"));
  }

  @Test
  void routeAnswersTheUpstreamsNameAndTheModelItWouldBeSent() throws Exception {
    start("", THREE);
    HttpResponse<String> routed = post("/v1/route", "router-ladder-0.5", "hi");
    assertTrue(routed.headers().firstValue("x-request-id").orElse("").startsWith("rw-"), "routewise's own id");
    JsonNode j = JSON.readTree(routed.body());
    assertEquals("mini", j.get("upstream").asText());
    assertEquals("mini-model", j.get("model").asText());
    assertEquals("mini", j.get("route").asText());
    assertEquals(0.8, j.get("strong_win_rate").asDouble());
    // what the rule chose from, per upstream below the top, by name
    assertEquals(JSON.readTree("{\"mini\":0.3,\"weak\":0.8}"), j.get("top_win_rates"), j.toString());
    for (WireMockServer w : upstreams.values()) {
      w.verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    }
  }

  @Test
  void withLadderRulePriceWeightedTheRouteWeighsPriceAgainstPredictedShortfall() throws Exception {
    start(", ladder_rule: price_weighted", THREE);
    // Prices (input + output) 12.5, 0.75, 0.2: mini's share of the span 0.045. At alpha 0.81 the
    // threshold rule takes weak (0.8 < 0.81); weighed, weak's shortfall logit(0.8) = 1.39 is far
    // above mini's logit(0.3) + logit(0.81) * 0.045 = -0.78, so mini.
    JsonNode j = JSON.readTree(post("/v1/route", "router-ladder-0.81", "hi").body());
    assertEquals("mini", j.get("upstream").asText(), j.toString());
    assertEquals(0.8, j.get("strong_win_rate").asDouble(), "the router's own rate, top over the cheapest");
    assertTrue(post("/v1/chat/completions", "router-ladder-0.81", "hi").body().contains("hello from mini"));
    assertEquals("strong", JSON.readTree(post("/v1/route", "router-ladder-0.0", "hi").body()).get("upstream").asText());
  }

  @Test
  void ladderRulePriceWeightedWithoutEveryPriceFailsAtStartNamingTheUpstream() {
    io.routewise.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.routewise.config.ConfigException.class,
        () -> start(", ladder_rule: price_weighted", "strong: , price: {input: 2.5, output: 10}", "weak: ", "mini: "));
    assertTrue(e.getMessage().contains("routing.ladder_rule: price_weighted needs a price on every upstream"),
        e.getMessage());
  }

  @Test
  void withSixPricedUpstreamsLengthSweepsFromTheTopToTheCheapestAsAlphaGrows() throws Exception {
    start("", "strong: , price: {input: 2.5, output: 10}", "weak: , price: {input: 0.1, output: 0.1}",
        "sonnet: , price: {input: 3, output: 15}", "mini: , price: {input: 0.15, output: 0.6}",
        "flash: , price: {input: 0.075, output: 0.3}", "llama70: , price: {input: 0.88, output: 0.88}");
    List<String> order = List.of("strong", "sonnet", "llama70", "mini", "flash", "weak");
    String prompt = "x".repeat(400); // length scores 400 / 900
    List<String> seen = new ArrayList<>();
    int previous = 0;
    for (int i = 0; i <= 20; i++) {
      String alpha = String.valueOf(i / 20.0);
      JsonNode j = JSON.readTree(post("/v1/route", "router-length-" + alpha, prompt).body());
      String upstream = j.get("upstream").asText();
      assertEquals(upstream + "-model", j.get("model").asText());
      int rung = order.indexOf(upstream);
      assertTrue(rung >= previous, "alpha " + alpha + " moved up the ladder to " + upstream + " from " + order.get(previous));
      previous = rung;
      if (!seen.contains(upstream)) {
        seen.add(upstream);
      }
    }
    assertEquals("strong", seen.get(0));
    assertEquals("weak", seen.get(seen.size() - 1));
    assertTrue(seen.size() >= 4, "a length score spreads over the ladder: " + seen);
    String models = get("/v1/models");
    for (String name : order) {
      assertTrue(models.contains("\"" + name + "-model\""), models);
    }
  }

  @Test
  void aFailedUpstreamFailsOverToTheNextMoreCapableOneAndTheTopToTheNextBelow() throws Exception {
    start(", failover: true", THREE);
    answer(upstreams.get("mini"), 503, "mini", 0, 0);
    HttpResponse<String> r = post("/v1/chat/completions", "router-ladder-0.5", "hi");
    assertTrue(r.body().contains("hello from strong"), r.body());
    assertEquals("mini 5xx", r.headers().firstValue("x-routewise-failover").orElseThrow());
    assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());

    answer(upstreams.get("strong"), 429, "strong", 0, 0);
    HttpResponse<String> top = post("/v1/chat/completions", "router-ladder-0.3", "hi");
    assertEquals("strong 429", top.headers().firstValue("x-routewise-failover").orElseThrow());
    assertEquals(503, top.statusCode(), "the next below the top is mini, down too: its answer is the client's");
    String m = get("/metrics");
    assertTrue(m.contains("routewise_failovers_total{from=\"mini\",reason=\"5xx\"} 1.0"), m);
    assertTrue(m.contains("routewise_failovers_total{from=\"strong\",reason=\"429\"} 1.0"), m);
    // each upstream's own errors under its own name: mini's 503 passed on is its error, not strong's
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"error\",upstream=\"mini\"} 1"), m);
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"failed_over\",upstream=\"mini\"} 1"), m);
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"failed_over\",upstream=\"strong\"} 1"), m);
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"strong\"} 1"), m);
  }

  @Test
  void theAccessLogNamesTheUpstreamThatAnswered() throws Exception {
    startWith(", access_log: true", "", THREE);
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(200, post("/v1/chat/completions", "router-ladder-0.5", "hi").statusCode());
      for (int i = 0; i < 100 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      assertTrue(log.text().contains(" route=mini model=mini-model"), log.text());
    }
  }

  @Test
  void passthroughMayNameAnyUpstream() throws Exception {
    start(", passthrough: mini", THREE);
    upstreams.get("mini").stubFor(WireMock.post(urlEqualTo("/v1/embeddings"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"data\":[]}")));
    HttpResponse<String> r = post("/v1/embeddings", "text-embedding-3-small", "hi");
    assertEquals(200, r.statusCode(), r.body());
    upstreams.get("mini").verify(1, postRequestedFor(urlEqualTo("/v1/embeddings")));
  }

  @Test
  void metricsTagDecisionsAndCallsWithTheUpstreamsName() throws Exception {
    start("", THREE);
    post("/v1/chat/completions", "router-ladder-0.5", "hi");
    post("/v1/chat/completions", "router-ladder-0.3", "hi");
    String m = get("/metrics");
    assertTrue(m.contains("routewise_routed_total{route=\"mini\",router=\"ladder\"} 1.0"), m);
    assertTrue(m.contains("routewise_requests_total{route=\"mini\",router=\"ladder\",status=\"200\"} 1.0"), m);
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"mini\"} 1"), m);
    assertTrue(m.contains("routewise_strong_share{router=\"ladder\"} 0.5"), m);
    // weak's series are there from the start, at 0: nothing went to weak
    assertFalse(m.lines().anyMatch(l -> l.contains("route=\"weak\"") && !l.endsWith(" 0.0") && !l.startsWith("#")),
        "nothing went to weak: " + m);
  }

  @Test
  void withDirectUpstreamsAModelNamedUpstreamGoesThereWithoutARouterOrFailover() throws Exception {
    start(", direct_upstreams: true, failover: true", THREE);
    HttpResponse<String> r = post("/v1/chat/completions", "upstream-weak", "hi"); // the router would say mini
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from weak"), r.body());
    assertEquals("direct", r.headers().firstValue("x-routewise-router").orElseThrow());
    assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertFalse(r.headers().firstValue("x-routewise-threshold").isPresent(), "no threshold decided");
    assertFalse(r.headers().firstValue("x-routewise-win-rate").isPresent(), "no router asked");
    upstreams.get("weak").verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("weak-model"))));

    JsonNode j = JSON.readTree(post("/v1/route", "upstream-strong", "hi").body());
    assertEquals("direct", j.get("router").asText(), j.toString());
    assertEquals("strong", j.get("upstream").asText(), j.toString());
    assertEquals("strong-model", j.get("model").asText(), j.toString());
    assertTrue(j.get("threshold").isNull() && j.get("strong_win_rate").isNull(), j.toString());
    assertFalse(j.has("ladder_rule") || j.has("top_win_rates"), j.toString());

    HttpResponse<String> unknown = post("/v1/chat/completions", "upstream-nope", "hi");
    assertEquals(400, unknown.statusCode());
    assertTrue(unknown.body().contains("Unknown upstream in model 'upstream-nope'. Upstreams: strong, mini, weak"),
        unknown.body());

    String models = get("/v1/models");
    for (String name : List.of("strong", "mini", "weak")) {
      assertTrue(models.contains("\"id\":\"upstream-" + name + "\""), models);
    }
    assertTrue(get("/v1/models/upstream-mini").contains("\"owned_by\":\"routewise:mini\""));

    // The client asked for weak: its error is the answer, not another upstream's.
    answer(upstreams.get("weak"), 500, "weak", 0, 0);
    assertEquals(500, post("/v1/chat/completions", "upstream-weak", "hi").statusCode());
    upstreams.get("mini").verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
    upstreams.get("strong").verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));

    String m = get("/metrics");
    assertTrue(m.contains("routewise_requests_total{route=\"weak\",router=\"direct\",status=\"200\"} 1.0"), m);
    assertFalse(m.lines().anyMatch(l -> l.startsWith("routewise_routed_total{") && !l.endsWith(" 0.0")),
        "not a routing decision: " + m);
    assertTrue(m.contains("routewise_cost_usd_total{upstream=\"weak\"} 1.2E-4"), m);
    assertTrue(m.contains("routewise_cost_saved_usd_total{upstream=\"weak\"} 0.0"), "routing saved nothing: " + m);
  }

  @Test
  void withoutDirectUpstreamsAnUpstreamsNameIsRoutedLikeAnyOtherModel() throws Exception {
    start("", THREE);
    HttpResponse<String> r = post("/v1/chat/completions", "upstream-strong", "hi");
    assertTrue(r.body().contains("hello from mini"), "the default router at 0.5: " + r.body());
    assertFalse(get("/v1/models").contains("upstream-"));
  }
}
