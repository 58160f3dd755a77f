package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
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
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Dollars from each answer's {@code usage} and its upstream's price, against what the same tokens
 * would have cost on strong: fake upstreams that report real token counts, streamed and not.
 */
class CostMetricsTest {
  private final Map<String, WireMockServer> upstreams = new LinkedHashMap<>();
  private final HttpClient http = HttpClient.newHttpClient();
  private Routewise routewise;

  /** Routes to the upstream the prompt names (at alpha 0.5): every other rung is beaten for certain. */
  static final class Named implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      return prompt.text().equals("weak") ? 0 : 1;
    }

    @Override
    public double[] topWinRates(Prompt prompt, Ladder ladder) {
      double[] rates = new double[ladder.size()];
      for (int i = 1; i < rates.length; i++) {
        rates[i] = ladder.rung(i).upstream().equals(prompt.text()) ? 0 : 1;
      }
      return rates;
    }
  }

  @BeforeEach
  void start() {
    start("");
  }

  private void start(String routingKeys) {
    Map<String, String> prices = new LinkedHashMap<>();
    prices.put("strong", ", price: {input: 2.5, output: 10, cached_input: 1.25, audio_input: 40, audio_output: 80}");
    prices.put("weak", ", price: {input: 0.1, output: 0.1}");
    prices.put("mini", ", price: {input: 0.15, output: 0.6, cached_input: 0.075, cache_write: 0.1875}, stream_usage: true");
    prices.put("sonnet", ", price: {input: 3, output: 15}"); // dearer than strong
    prices.put("local", ""); // no price: unknown
    StringBuilder yaml = new StringBuilder("server: {host: 127.0.0.1, port: 0}\nupstreams:\n");
    prices.forEach((name, price) -> {
      WireMockServer w = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
      w.start();
      upstreams.put(name, w);
      yaml.append("  ").append(name).append(": {base_url: \"").append(w.baseUrl())
          .append("/v1\", api_key: none, model: ").append(name).append("-model").append(price).append("}\n");
    });
    yaml.append("routing: {router: named, threshold: 0.5").append(routingKeys).append("}\nrouters: {named: {}}\n");
    routewise = Routewise.start(TestConfigs.config(yaml.toString()),
        RouterCatalog.standard().with("named", ctx -> new Named()), id -> null, () -> {});
  }

  @AfterEach
  void stop() {
    routewise.close();
    upstreams.values().forEach(WireMockServer::stop);
  }

  private void answerJson(String upstream, int promptTokens, int completionTokens) {
    upstreams.get(upstream).stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody("""
            {"id":"c","object":"chat.completion","created":1,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}"""
            .formatted(promptTokens, completionTokens, promptTokens + completionTokens))));
  }

  private void answerStream(String upstream, int promptTokens, int completionTokens) {
    String sse = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":" + promptTokens
        + ",\"completion_tokens\":" + completionTokens + ",\"total_tokens\":" + (promptTokens + completionTokens) + "}}\n\n"
        + "data: [DONE]\n\n";
    upstreams.get(upstream).stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(sse)));
  }

  private void chat(String upstream, boolean stream) throws Exception {
    send(upstream, stream);
  }

  private HttpResponse<String> send(String upstream, boolean stream) throws Exception {
    String body = "{\"model\":\"router-named-0.5\"," + (stream ? "\"stream\":true,\"stream_options\":{\"include_usage\":true}," : "")
        + "\"messages\":[{\"role\":\"user\",\"content\":\"" + upstream + "\"}]}";
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
        + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("x-routewise-model").orElseThrow().startsWith(upstream + " "), r.headers().toString());
    return r;
  }

  /**
   * mini answering for a weak that failed (the next more capable) is spend, but not a saving of
   * routing's: the router chose weak. Before, an outage showed on the dashboard as money saved.
   */
  @Test
  void anAnswerForAFailedUpstreamIsSpendButNoSaving() throws Exception {
    stop();
    start(", failover: true");
    upstreams.get("weak").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(500).withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"down\"}}")));
    answerJson("mini", 1000, 200);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
        + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-named-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"weak\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("weak 5xx", r.headers().firstValue("x-routewise-failover").orElseThrow());
    assertEquals("mini mini-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    String m = metrics();
    assertEquals(0.00027, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    assertEquals(0.0, usd(m, "routewise_cost_saved_usd_total", "mini"), "no saving of routing's: " + m);
  }

  /** A whole answer from a priced upstream says what it cost; a stream (headers first) and an unpriced upstream do not. */
  @Test
  void aWholeAnswerFromAPricedUpstreamCarriesItsCost() throws Exception {
    answerJson("mini", 1000, 200);
    assertEquals("0.00027", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    answerJson("weak", 1, 0);
    assertEquals("0.0000001", send("weak", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    answerJson("local", 1000, 200);
    assertTrue(send("local", false).headers().firstValue("x-routewise-cost-usd").isEmpty());
    answerStream("weak", 5000, 300);
    assertTrue(send("weak", true).headers().firstValue("x-routewise-cost-usd").isEmpty());
  }

  private String metrics() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static double usd(String metrics, String name, String upstream) {
    return MetricsEndpointTest.value(metrics, name + "{upstream=\"" + upstream + "\"}");
  }

  @Test
  void everyPricedUpstreamStartsAtZeroAndAnUnpricedOneHasNoCostSeries() throws Exception {
    String m = metrics();
    for (String u : new String[] {"strong", "weak", "mini", "sonnet"}) {
      assertEquals(0.0, usd(m, "routewise_cost_usd_total", u));
      assertEquals(0.0, usd(m, "routewise_cost_saved_usd_total", u));
    }
    assertFalse(m.contains("routewise_cost_usd_total{upstream=\"local\"}"), m);
    assertFalse(m.contains("routewise_cost_saved_usd_total{upstream=\"local\"}"), m);
    for (String u : new String[] {"strong", "weak", "mini", "sonnet", "local"}) {
      assertEquals(0.0, usd(m, "routewise_answers_unmetered_total", u), "every upstream, from the start");
    }
  }

  @Test
  void anAnswersUsageIsPricedAndWhatStrongWouldHaveChargedForItIsCountedAsSaved() throws Exception {
    answerJson("mini", 1000, 200);
    chat("mini", false);
    answerJson("mini", 3000, 50);
    chat("mini", false);
    answerJson("strong", 1000, 200);
    chat("strong", false);
    String m = metrics();
    // mini: (1000 * 0.15 + 200 * 0.6) / 1e6 + (3000 * 0.15 + 50 * 0.6) / 1e6 = 0.00027 + 0.00048
    assertEquals(0.00075, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    // on strong the same tokens: (1000 * 2.5 + 200 * 10) / 1e6 + (3000 * 2.5 + 50 * 10) / 1e6 = 0.0045 + 0.008
    assertEquals(0.0125 - 0.00075, usd(m, "routewise_cost_saved_usd_total", "mini"), 1e-12);
    assertEquals(0.0045, usd(m, "routewise_cost_usd_total", "strong"), 1e-12);
    assertEquals(0.0, usd(m, "routewise_cost_saved_usd_total", "strong"), "strong saves nothing over itself");
    assertEquals(0.0, usd(m, "routewise_cost_usd_total", "weak"));
  }

  /**
   * Prompt tokens the upstream answered from its prompt cache cost its cached_input rate: counted at
   * the full rate, cache-heavy traffic's spend read up to twice what was billed (an operator's trial).
   */
  @Test
  void cachedPromptTokensArePricedAtTheCachedRateStreamsIncluded() throws Exception {
    String usage = "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200,"
        + "\"prompt_tokens_details\":{\"audio_tokens\":0,\"cached_tokens\":800}}";
    upstreams.get("mini").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"id\":\"c\",\"object\":"
            + "\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            + "\"hi\"},\"finish_reason\":\"stop\"}]," + usage + "}")));
    // (200 x 0.15 + 800 x 0.075 + 200 x 0.6) / 1e6
    assertEquals("0.00021", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    upstreams.get("weak").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("data: {\"id\":\"c\",\"object\":"
            + "\"chat.completion.chunk\",\"choices\":[]," + usage + "}\n\ndata: [DONE]\n\n")));
    chat("weak", true);
    String m = metrics();
    assertEquals(0.00021, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    // on strong, the same part cached: (200 x 2.5 + 800 x 1.25 + 200 x 10) / 1e6
    assertEquals(0.0035 - 0.00021, usd(m, "routewise_cost_saved_usd_total", "mini"), 1e-12);
    // weak has no cached rate: its cached tokens cost what the others do
    assertEquals((1000 * 0.1 + 200 * 0.1) / 1e6, usd(m, "routewise_cost_usd_total", "weak"), 1e-12);
    assertEquals(0.0035 - (1000 * 0.1 + 200 * 0.1) / 1e6, usd(m, "routewise_cost_saved_usd_total", "weak"), 1e-12);
  }

  private void answerJsonUsage(String upstream, String usage) {
    upstreams.get(upstream).stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"id\":\"c\",\"object\":"
            + "\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            + "\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":" + usage + "}")));
  }

  /**
   * OpenRouter counts the prompt tokens an Anthropic model wrote to its prompt cache in {@code
   * prompt_tokens_details.cache_write_tokens}, billed at 1.25 times input: they were priced as input.
   */
  @Test
  void promptTokensWrittenToTheCacheArePricedAtTheCacheWriteRateStreamsIncluded() throws Exception {
    String usage = "{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200,"
        + "\"prompt_tokens_details\":{\"cached_tokens\":100,\"cache_write_tokens\":800,\"audio_tokens\":0},"
        + "\"cost\":0.0003}";
    answerJsonUsage("mini", usage);
    // (100 x 0.15 + 100 x 0.075 + 800 x 0.1875 + 200 x 0.6) / 1e6
    assertEquals("0.0002925", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    upstreams.get("mini").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("data: {\"id\":\"c\",\"object\":"
            + "\"chat.completion.chunk\",\"choices\":[],\"usage\":" + usage + "}\n\ndata: [DONE]\n\n")));
    stream("mini", "");
    String m = metrics();
    assertEquals(2 * 0.0002925, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    // on strong (no cache_write: its writes at input), the same parts: (100 x 2.5 + 100 x 1.25 + 800 x 2.5 + 200 x 10) / 1e6
    assertEquals(2 * (0.004375 - 0.0002925), usd(m, "routewise_cost_saved_usd_total", "mini"), 1e-12);
  }

  /**
   * An audio model bills its audio tokens apart (gpt-4o-audio: 16 and 8 times its text rates), counted
   * in usage's {@code audio_tokens} details: they were priced as text, a sixteenth of their cost.
   */
  @Test
  void audioTokensArePricedAtTheAudioRates() throws Exception {
    answerJsonUsage("strong", "{\"prompt_tokens\":1000,\"completion_tokens\":300,\"total_tokens\":1300,"
        + "\"prompt_tokens_details\":{\"cached_tokens\":100,\"audio_tokens\":600,\"text_tokens\":400},"
        + "\"completion_tokens_details\":{\"audio_tokens\":200,\"text_tokens\":100,\"reasoning_tokens\":0}}");
    // strong: {input 2.5, output 10, cached_input 1.25, audio_input 40, audio_output 80}:
    // (300 x 2.5 + 100 x 1.25 + 600 x 40 + 100 x 10 + 200 x 80) / 1e6
    assertEquals("0.041875", send("strong", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    assertEquals(0.041875, usd(metrics(), "routewise_cost_usd_total", "strong"), 1e-12);
  }

  /**
   * DeepSeek counts its prompt cache's hits in a top-level {@code prompt_cache_hit_tokens} (and the
   * rest in {@code prompt_cache_miss_tokens}), with no {@code prompt_tokens_details}: its hits, billed
   * at a tenth of a miss, were priced at the full input rate.
   */
  @Test
  void deepSeeksPromptCacheHitsArePricedAtTheCachedRate() throws Exception {
    String usage = "{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200,"
        + "\"prompt_cache_hit_tokens\":800,\"prompt_cache_miss_tokens\":200}";
    answerJsonUsage("mini", usage);
    // (200 x 0.15 + 800 x 0.075 + 200 x 0.6) / 1e6
    assertEquals("0.00021", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    upstreams.get("mini").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("data: {\"id\":\"c\",\"object\":"
            + "\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":"
            + "\"stop\"}],\"usage\":" + usage + "}\n\ndata: [DONE]\n\n")));
    chat("mini", true);
    assertEquals(2 * 0.00021, usd(metrics(), "routewise_cost_usd_total", "mini"), 1e-12);
  }

  /**
   * Groq's stream, its client not asking for include_usage, carries its usage on the last chunk
   * inside {@code x_groq}: the answer went uncounted (an unmetered answer) with its tokens right there.
   */
  @Test
  void groqsUsageInsideXGroqIsPriced() throws Exception {
    upstreams.get("weak").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
            + "{\"content\":\"hi\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
            + "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"queue_time\":"
            + "0.07,\"prompt_tokens\":1000,\"prompt_time\":0.006,\"completion_tokens\":200,\"completion_time\":0.02,"
            + "\"total_tokens\":1200,\"total_time\":0.03}}}\n\ndata: [DONE]\n\n")));
    stream("weak", "");
    String m = metrics();
    assertEquals((1000 * 0.1 + 200 * 0.1) / 1e6, usd(m, "routewise_cost_usd_total", "weak"), 1e-12, m);
    assertEquals(0.0, usd(m, "routewise_answers_unmetered_total", "weak"), m);
  }

  /**
   * xAI (and Gemini's thinking models behind some gateways) report reasoning beside the completion,
   * not inside it as OpenAI does: its total is prompt + completion + reasoning, and the reasoning is
   * billed as output. It was priced as nothing; OpenAI's shape must not count it twice.
   */
  @Test
  void reasoningReportedBesideTheCompletionIsPricedAsOutputOnce() throws Exception {
    answerJsonUsage("mini", "{\"prompt_tokens\":1000,\"completion_tokens\":100,\"total_tokens\":2000,"
        + "\"prompt_tokens_details\":{\"text_tokens\":1000,\"cached_tokens\":0},"
        + "\"completion_tokens_details\":{\"reasoning_tokens\":900}}");
    // (1000 x 0.15 + (100 + 900) x 0.6) / 1e6
    assertEquals("0.00075", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    answerJsonUsage("mini", "{\"prompt_tokens\":1000,\"completion_tokens\":1000,\"total_tokens\":2000,"
        + "\"completion_tokens_details\":{\"reasoning_tokens\":900,\"accepted_prediction_tokens\":0,"
        + "\"rejected_prediction_tokens\":0}}"); // OpenAI's: the reasoning inside completion_tokens
    assertEquals("0.00075", send("mini", false).headers().firstValue("x-routewise-cost-usd").orElse(null));
    String m = metrics();
    assertEquals(2 * 0.00075, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    assertTrue(m.contains("routewise_tokens_total{type=\"completion\",upstream=\"mini\"} 2000.0"), m);
  }

  @Test
  void aStreamsUsageChunkIsPricedToo() throws Exception {
    answerStream("weak", 5000, 300);
    chat("weak", true);
    String m = metrics();
    assertEquals((5000 * 0.1 + 300 * 0.1) / 1e6, usd(m, "routewise_cost_usd_total", "weak"), 1e-12);
    assertEquals((5000 * 2.5 + 300 * 10 - 5000 * 0.1 - 300 * 0.1) / 1e6,
        usd(m, "routewise_cost_saved_usd_total", "weak"), 1e-12);
    assertTrue(m.contains("routewise_tokens_total{type=\"completion\",upstream=\"weak\"} 300.0"), m);
  }

  /** A stream with a content chunk, and a usage chunk only when the request asks for it. */
  private void answerStreamUsageIfAsked(String upstream) {
    String content = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
        + "{\"content\":\"hi\"}}]}\n\n";
    String usage = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
        + "{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200}}\n\n";
    WireMockServer w = upstreams.get(upstream);
    w.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(content + "data: [DONE]\n\n")));
    w.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).atPriority(1)
        .withRequestBody(WireMock.matchingJsonPath("$.stream_options.include_usage", WireMock.equalTo("true")))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
            .withBody(content + usage + "data: [DONE]\n\n")));
  }

  private HttpResponse<String> stream(String upstream, String streamOptions) throws Exception {
    String body = "{\"model\":\"router-named-0.5\",\"stream\":true," + streamOptions
        + "\"messages\":[{\"role\":\"user\",\"content\":\"" + upstream + "\"}]}";
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
        + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r;
  }

  @Test
  void anAnswerWithoutUsageIsCountedAsUnmetered() throws Exception {
    // what most SDKs stream by default: no stream_options.include_usage, so no usage chunk
    answerStreamUsageIfAsked("weak");
    assertFalse(stream("weak", "").body().contains("\"usage\""));
    answerJson("weak", 1000, 200);
    chat("weak", false);
    String m = metrics();
    assertEquals(1.0, usd(m, "routewise_answers_unmetered_total", "weak"), m);
    assertEquals((1000 * 0.1 + 200 * 0.1) / 1e6, usd(m, "routewise_cost_usd_total", "weak"), 1e-12, "the metered answer alone");
    assertEquals(0.0, usd(m, "routewise_answers_unmetered_total", "strong"));
  }

  /** Before, only a stream to its [DONE] was counted: one that ended after its finish_reason went uncounted either way. */
  @Test
  void aStreamEndingAfterItsFinishReasonWithoutUsageIsCountedAsUnmetered() throws Exception {
    String finished = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
        + "{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n";
    upstreams.get("weak").stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(finished)));
    String body = stream("weak", "\"stream_options\":{\"include_usage\":true},").body();
    assertTrue(body.contains("\"finish_reason\":\"stop\""), body);
    String m = metrics();
    assertEquals(1.0, usd(m, "routewise_answers_unmetered_total", "weak"), m);
    assertEquals(0.0, usd(m, "routewise_cost_usd_total", "weak"), m);
  }

  @Test
  void withStreamUsageTheStreamIsPricedAndItsClientGetsNoUsageChunk() throws Exception {
    answerStreamUsageIfAsked("mini");
    String body = stream("mini", "").body();
    assertTrue(body.contains("\"content\":\"hi\"") && body.endsWith("data: [DONE]\n\n"), body);
    assertFalse(body.contains("\"usage\"") || body.contains("\"choices\":[]"), "asked by routewise, kept from the client: " + body);
    upstreams.get("mini").verify(WireMock.postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.stream_options.include_usage", WireMock.equalTo("true")))
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("mini-model"))));
    // a client that asks for usage gets the chunk; one that declines it gets none, and its stream is counted
    // all the same (before, declining made a stream cost nothing, past a client's budget too)
    assertTrue(stream("mini", "\"stream_options\":{\"include_usage\":true},").body().contains("\"choices\":[]"));
    String declined = stream("mini", "\"stream_options\":{\"include_usage\":false},").body();
    assertTrue(declined.contains("\"content\":\"hi\"") && declined.endsWith("data: [DONE]\n\n"), declined);
    assertFalse(declined.contains("usage") || declined.contains("\"choices\":[]"), declined);
    String m = metrics();
    assertEquals(3 * (1000 * 0.15 + 200 * 0.6) / 1e6, usd(m, "routewise_cost_usd_total", "mini"), 1e-12);
    assertEquals(0.0, usd(m, "routewise_answers_unmetered_total", "mini"), "every stream metered");
  }

  /**
   * With two upstreams the two-model rule stands whatever the prices, so a weak dearer than strong is
   * routed to, and its difference is extra, not a negative saving. On a ladder of three or more a
   * router never takes an upstream dearer than strong (at best as good, for more): it is asked for by name.
   */
  @Test
  void anUpstreamDearerThanStrongCountsTheDifferenceAsExtraNotAsANegativeSaving() throws Exception {
    answerJson("strong", 10, 10);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
        + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-named-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"sonnet\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertTrue(r.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong "),
        "the prompt names sonnet, whose rate 0 is below α: strong all the same, cheaper and at least as good");
    answerJson("local", 1000, 200);
    chat("local", false);
    String ladder = metrics();
    assertFalse(ladder.contains("routewise_cost_usd_total{upstream=\"local\"}"), "no price, no dollars: " + ladder);
    assertTrue(ladder.contains("routewise_tokens_total{type=\"prompt\",upstream=\"local\"} 1000.0"), "its tokens still count");
    stop();
    upstreams.clear();
    WireMockServer strong = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    WireMockServer weak = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
    strong.start();
    weak.start();
    upstreams.put("strong", strong);
    upstreams.put("weak", weak);
    routewise = Routewise.start(TestConfigs.config("server: {host: 127.0.0.1, port: 0}\nupstreams:\n"
        + "  strong: {base_url: \"" + strong.baseUrl() + "/v1\", api_key: none, model: strong-model, price: {input: 2.5, output: 10}}\n"
        + "  weak: {base_url: \"" + weak.baseUrl() + "/v1\", api_key: none, model: weak-model, price: {input: 3, output: 15}}\n"
        + "routing: {router: named, threshold: 0.5}\nrouters: {named: {}}\n"),
        RouterCatalog.standard().with("named", ctx -> new Named()), id -> null, () -> {});
    answerJson("weak", 1000, 200);
    chat("weak", false);
    String m = metrics();
    assertEquals(0.006, usd(m, "routewise_cost_usd_total", "weak"), 1e-12);
    assertEquals(0.0, usd(m, "routewise_cost_saved_usd_total", "weak"));
    assertEquals(0.006 - 0.0045, usd(m, "routewise_cost_extra_usd_total", "weak"), 1e-12);
  }
}
