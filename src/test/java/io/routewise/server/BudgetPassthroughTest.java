package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.TestConfigs;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a client whose budget must meter everything ({@code unpriced: refuse}, the default) may
 * send through passthrough: a priced model only where its answer carries usage, calls that generate
 * nothing, and holds that end where the answer is counted. Each case is a review's, and failed before.
 */
class BudgetPassthroughTest {
  private ProxyFixture f;

  /** strong priced (its model, and every id beginning "strong-"); client "batch" with a $1 budget, unpriced: refuse. */
  private void start() {
    start("api_keys: {batch: {key: sk-batch, budget: {usd: 1, per: day}}}");
  }

  private void start(String apiKeys) {
    f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml, apiKeys), "passthrough: strong")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10}, "
            + "model_prices: {\"strong-*\": {input: 2.5, output: 10}},"));
  }

  @AfterEach
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  private HttpResponse<String> send(String path, String body) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-batch").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private double metric(String series) throws Exception {
    return MetricsEndpointTest.value(f.get("/metrics").body(), series);
  }

  private double budgetSpent() throws Exception {
    return metric("routewise_client_budget_spent_usd{client=\"batch\"}");
  }

  /** The upstream answers every POST 200 with {@code json} (an object without usage). */
  private void answersJson(String json) {
    f.strong.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(json)));
  }

  /**
   * An Assistants run that names a priced model is refused: its answer (a queued run) has no usage,
   * so what the run generates would never reach the budget.
   */
  @Test
  void aRunNamingAPricedModelIsStillRefused() throws Exception {
    start();
    answersJson("{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"queued\",\"model\":\"strong-model\","
        + "\"usage\":null}");
    HttpResponse<String> run = send("/v1/threads/thread_1/runs", "{\"assistant_id\":\"asst_1\",\"model\":\"strong-model\"}");
    HttpResponse<String> createAndRun = send("/v1/threads/runs",
        "{\"assistant_id\":\"asst_1\",\"model\":\"strong-model\",\"thread\":{\"messages\":[]}}");
    double spent = budgetSpent();
    assertAll(
        () -> assertEquals(403, run.statusCode(), "a run generates, its cost is in no answer: " + run.body()),
        () -> assertEquals(403, createAndRun.statusCode(), "create-and-run: " + createAndRun.body()),
        () -> assertTrue(spent > 0 || run.statusCode() != 200, "went, and cost the budget nothing"));
  }

  /** A fine-tuning job naming a priced base model is refused: billed by training tokens, never in an answer. */
  @Test
  void aFineTuningJobNamingAPricedModelIsRefused() throws Exception {
    start();
    answersJson("{\"id\":\"ftjob_1\",\"object\":\"fine_tuning.job\",\"status\":\"validating_files\","
        + "\"model\":\"strong-model\"}");
    HttpResponse<String> r = send("/v1/fine_tuning/jobs", "{\"model\":\"strong-model\",\"training_file\":\"file-1\"}");
    assertEquals(403, r.statusCode(), "billed by training tokens, metered never: " + r.body());
    HttpResponse<String> unpriced = send("/v1/fine_tuning/jobs", "{\"model\":\"gpt-4.1\",\"training_file\":\"file-1\"}");
    assertTrue(unpriced.body().contains("\"request_not_metered\""), "not model_not_priced: pricing it would not "
        + "meter it (a review): " + unpriced.body());
  }

  /**
   * A "prefix*" price also covers ids the upstream reads as other products (-tts: speech, audio
   * back without usage; -realtime-preview: an ephemeral key spent at the upstream): refused, not sent.
   */
  @Test
  void aPrefixPricedIdOnAnEndpointWithoutUsageIsNotAFreePass() throws Exception {
    start();
    f.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/audio/speech"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "audio/mpeg")
            .withBody(new byte[] {(byte) 0xff, (byte) 0xfb, 0x10, 0x00, 1, 2, 3, 4})));
    f.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/realtime/sessions"))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
            .withBody("{\"id\":\"sess_1\",\"object\":\"realtime.session\",\"client_secret\":{\"value\":\"ek_1\"}}")));
    HttpResponse<String> speech = send("/v1/audio/speech",
        "{\"model\":\"strong-tts\",\"voice\":\"alloy\",\"input\":\"" + "long text ".repeat(400) + "\"}");
    HttpResponse<String> session = send("/v1/realtime/sessions", "{\"model\":\"strong-realtime-preview\"}");
    assertAll(
        () -> assertEquals(403, speech.statusCode(), "speech: audio back, never metered"),
        () -> assertEquals(403, session.statusCode(), "an ephemeral key to spend at the upstream unseen: "
            + session.body()));
    assertEquals(0, f.strong.getAllServeEvents().size(), "neither sent");
  }

  /**
   * A priced completions stream that does not ask for stream_options.include_usage would carry no
   * usage (passthrough cannot ask for it): refused to a client that must be metered.
   */
  @Test
  void aPricedStreamWithoutUsageIsNotAFreePassForAClientThatMustBeMetered() throws Exception {
    start();
    String chunk = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"word \","
        + "\"finish_reason\":null}]}\n\n";
    f.strong.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(chunk.repeat(5)
            + "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"\","
            + "\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n")));
    HttpResponse<String> r = send("/v1/completions", "{\"model\":\"strong-model\",\"stream\":true,"
        + "\"max_tokens\":4000,\"prompt\":\"hi\"}");
    double spent = budgetSpent();
    assertTrue(r.statusCode() != 200 || spent > 0, "streamed, unmetered, cost the budget nothing (" + r.statusCode()
        + ", spent " + spent + ")");
  }

  /**
   * A stream asked for so that routewise reads one thing and the upstream another is refused to a
   * client that must be metered, as chat refuses it: Go's decoder (Ollama) reads "Stream" as stream
   * and the last copy wins, Python's json the last of two "include_usage" (a review: routewise read
   * stream false, or include_usage true, passed the request, and its stream came without usage).
   * Clients whose requests need no metering have them forwarded as before.
   */
  @Test
  void aStreamOrItsUsageSaidTwiceOrInAnotherCaseIsRefusedToAClientThatMustBeMetered() throws Exception {
    refusedToTheMeteredOnly(new String[][] {
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":false,\"prompt\":\"hi\",\"Stream\":true}", "Stream"},
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true,"
            + "\"Include_Usage\":false},\"prompt\":\"hi\"}", "stream_options.Include_Usage"},
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
            + "\"prompt\":\"hi\",\"STREAM_OPTIONS\":{\"include_usage\":false}}", "STREAM_OPTIONS"},
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true,"
            + "\"include_usage\":false},\"prompt\":\"hi\"}", "stream_options.include_usage"},
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
            + "\"prompt\":\"hi\",\"stream_options\":{\"include_usage\":false}}", "stream_options"},
        {"/v1/images/generations", "{\"model\":\"strong-model\",\"prompt\":\"a cat\",\"stream\":false,\"Stream\":true}",
            "Stream"},
    });
  }

  /**
   * A stream that is not a boolean is refused to a client that must be metered, as chat refuses it:
   * pydantic (vLLM's OpenAI server) reads 1 and "true" as true (a review: routewise read no stream,
   * passed the request, and its stream came without usage).
   */
  @Test
  void aStreamThatIsNotABooleanIsRefusedToAClientThatMustBeMetered() throws Exception {
    refusedToTheMeteredOnly(new String[][] {
        {"/v1/completions", "{\"model\":\"strong-model\",\"stream\":1,\"prompt\":\"hi\"}", "stream"},
        {"/v1/images/generations", "{\"model\":\"strong-model\",\"prompt\":\"a cat\",\"stream\":\"true\"}", "stream"},
    });
  }

  /**
   * Each {path, body, param}: refused 400 request_not_metered naming param to a client with a budget
   * that must meter it, unsent; forwarded for a client without a budget. The upstream streams without usage.
   */
  private void refusedToTheMeteredOnly(String[][] cases) throws Exception {
    start("api_keys: {batch: {key: sk-batch, budget: {usd: 1, per: day}}, open: sk-open}");
    f.strong.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody("data: {\"id\":\"c\",\"object\":\"text_completion\","
            + "\"choices\":[{\"index\":0,\"text\":\"word\",\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")));
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    for (String[] c : cases) {
      HttpResponse<String> r = send(c[0], c[1]);
      assertEquals(400, r.statusCode(), c[1] + " -> " + r.body());
      var error = json.readTree(r.body()).path("error");
      assertEquals(c[2], error.path("param").asText(), r.body());
      assertEquals("request_not_metered", error.path("code").asText(), r.body());
    }
    assertEquals(0, f.strong.getAllServeEvents().size(), "none sent");
    assertEquals(cases.length, metric("routewise_client_budget_refused_total{client=\"batch\",reason=\"unmetered\"}"));
    for (String[] c : cases) { // a client without a budget: passthrough as it was
      HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url(c[0])))
          .header("Content-Type", "application/json").header("Authorization", "Bearer sk-open")
          .POST(HttpRequest.BodyPublishers.ofString(c[1])).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), c[1] + " -> " + r.body());
    }
    assertEquals(cases.length, f.strong.getAllServeEvents().size());
  }

  /**
   * Below responses/, only what is known to generate nothing goes unmetered: counting input tokens,
   * a stored response's cancel. Any other POST there (compact, or one the upstream adds) is held to
   * the metering rules: before, every path below responses/ went unmetered but compact.
   */
  @Test
  void belowResponsesOnlyKnownFreeCallsGoUnmetered() throws Exception {
    start();
    answersJson("{\"object\":\"response.input_tokens\",\"input_tokens\":3}");
    assertEquals(200, send("/v1/responses/input_tokens", "{\"model\":\"o1-pro\",\"input\":\"hi\"}").statusCode());
    assertEquals(200, send("/v1/responses/resp_1/cancel", "").statusCode());
    HttpResponse<String> other = send("/v1/responses/resp_1/regenerate", "{\"model\":\"strong-model\"}");
    assertEquals(403, other.statusCode(), other.body());
    assertTrue(other.body().contains("\"request_not_metered\""), other.body());
  }

  /**
   * A run's own calls generate nothing and go: an eval run's cancel (POST /v1/evals/{eval}/runs/{run})
   * and a run's metadata update (POST /v1/threads/{thread}/runs/{run}).
   */
  @Test
  void cancellingAnEvalRunOrModifyingARunIsNotRefused() throws Exception {
    start();
    answersJson("{\"id\":\"x_1\",\"status\":\"canceled\"}");
    HttpResponse<String> cancelEval = send("/v1/evals/eval_1/runs/evalrun_1", "");
    HttpResponse<String> modifyRun = send("/v1/threads/thread_1/runs/run_1", "{\"metadata\":{\"k\":\"v\"}}");
    assertAll(
        () -> assertEquals(200, cancelEval.statusCode(), "an eval run's cancel stops spending: " + cancelEval.body()),
        () -> assertEquals(200, modifyRun.statusCode(), "a run's metadata update generates nothing: "
            + modifyRun.body()));
  }

  /**
   * A priced JSON answer the upstream ends cleanly before its usage (half a Responses object) is
   * charged its hold, as a stream cut so is: generated and billed upstream, its usage never seen.
   */
  @Test
  void aPricedJsonAnswerTheUpstreamEndsBeforeItsUsageIsCharged() throws Exception {
    String answer = "{\"id\":\"resp_cut\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":"
        + "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"" + "word ".repeat(200) + "\"}]}],"
        + "\"usage\":{\"input_tokens\":10,\"output_tokens\":1000,\"total_tokens\":1010}}";
    for (String path : new String[] {"/v1/responses", "/v1/images/generations"}) { // images: a review's too
      try (ServerSocket upstream = RawUpstream.answering("application/json", answer, answer.length() / 2, true)) {
        f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
                "api_keys: {batch: {key: sk-batch, budget: {usd: 1, per: day}}}"), "passthrough: strong")
            .replaceFirst("strong: \\{base_url: \"[^\"]*\"", "strong: {base_url: \"http://127.0.0.1:"
                + upstream.getLocalPort() + "/v1\"")
            .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10},"));
        HttpResponse<String> r = send(path, "{\"model\":\"strong-model\",\"input\":\"hi\"}");
        assertEquals(200, r.statusCode(), r.body());
        double spent = 0;
        for (long until = System.nanoTime() + 2_000_000_000L; spent == 0 && System.nanoTime() < until; ) {
          Thread.sleep(30);
          spent = budgetSpent();
        }
        assertTrue(spent > 0, path + " ended before its usage, generated and billed upstream: not charged");
        f.close();
        f = null;
      }
    }
  }

  private ProxyFixture replica(String redisUrl) {
    return ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "access_log: false, api_keys: {batch: {key: sk-batch, budget: {usd: 0.02, per: day}}}}\nstate: {redis: \""
            + redisUrl + "\", sync_ms: 100, timeout_ms: 500"), "passthrough: strong, session_pinning: true")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10},"));
  }

  private static HttpResponse<String> sendTo(ProxyFixture at, String method, String path, String body) throws Exception {
    return at.http.send(HttpRequest.newBuilder(URI.create(at.url(path))).header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-batch").method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * A background response relayed at one replica and counted at another (its poll reached that one)
   * holds nothing at the first once the count's claim is seen there, a sync or so later: it held for
   * the hour, at every replica once holds were shared, and the client waited for nothing.
   */
  @Test
  void aBackgroundResponseCountedAtAnotherReplicaHoldsNothingThere() throws Exception {
    try (io.routewise.RedisServer redis = io.routewise.RedisServer.start();
        ProxyFixture first = replica(redis.url());
        ProxyFixture second = replica(redis.url())) {
      first.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/responses"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
              .withBody("{\"id\":\"resp_bg1\",\"object\":\"response\",\"status\":\"queued\",\"background\":true,"
                  + "\"output\":[],\"usage\":null}")));
      second.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get(
          com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/responses/resp_bg1"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
              .withBody("{\"id\":\"resp_bg1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],"
                  + "\"usage\":{\"input_tokens\":10,\"output_tokens\":100,\"total_tokens\":110}}")));
      second.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/responses"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
              .withBody("{\"id\":\"resp_2\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],"
                  + "\"usage\":{\"input_tokens\":10,\"output_tokens\":100,\"total_tokens\":110}}")));
      String body = "{\"model\":\"strong-model\",\"input\":\"hi\",\"max_output_tokens\":1000";
      HttpResponse<String> queued = sendTo(first, "POST", "/v1/responses", body + ",\"background\":true}");
      assertEquals(200, queued.statusCode(), queued.body());
      try (redis.clients.jedis.Jedis j = redis.client()) { // its record shared (written off the request path)
        for (long until = System.nanoTime() + 5_000_000_000L;
            j.keys("routewise:usage:*").isEmpty() && System.nanoTime() < until; ) {
          Thread.sleep(20);
        }
      }
      HttpResponse<String> poll = sendTo(second, "GET", "/v1/responses/resp_bg1", null);
      assertEquals(200, poll.statusCode(), poll.body());
      f = second;
      double counted = metric("routewise_client_cost_usd_total{client=\"batch\"}");
      for (long until = System.nanoTime() + 5_000_000_000L; counted == 0 && System.nanoTime() < until; ) {
        Thread.sleep(20); // counted once its claim in Redis is answered, on the shared-usage thread
        counted = metric("routewise_client_cost_usd_total{client=\"batch\"}");
      }
      f = first;
      double heldAtFirst = metric("routewise_client_budget_held_usd{client=\"batch\"}");
      for (long until = System.nanoTime() + 5_000_000_000L; heldAtFirst > 0 && System.nanoTime() < until; ) {
        Thread.sleep(50); // a few syncs: the count's claim seen at the first, the spend and holds exchanged
        heldAtFirst = metric("routewise_client_budget_held_usd{client=\"batch\"}");
      }
      Thread.sleep(300);
      f = null;
      HttpResponse<String> next = sendTo(second, "POST", "/v1/responses", body + "}");
      double held = heldAtFirst;
      double countedThere = counted;
      assertAll(
          () -> assertTrue(countedThere > 0, "counted at the second replica: " + countedThere),
          () -> assertEquals(0.0, held, "counted elsewhere, still held at the first"),
          () -> assertEquals(200, next.statusCode(), "nothing under way, budget mostly left: " + next.body()));
    }
  }
}
