package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.routewise.TestConfigs;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Passed-through answers for a model the upstream prices (its own {@code model}, or {@code
 * model_prices}) are metered: spend per upstream and per client, and a client's budget, but never a
 * saving. Before, passthrough traffic was in no token or cost counter, and a client past its budget
 * generated there for free.
 */
class PassthroughMeteringTest {
  private ProxyFixture f;

  @BeforeEach
  void start() {
    start("price: {input: 2.5, output: 10}, model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},");
  }

  private void start(String strongPrices) {
    start(strongPrices, "");
  }

  /** With {@code budgetKeys} added to the client's budget ({@code ", unpriced: allow"}). */
  private void start(String strongPrices, String budgetKeys) {
    if (f != null) {
      f.close();
    }
    f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "access_log: true, api_keys: {batch: {key: sk-batch, budget: {usd: 0.001, per: day" + budgetKeys + "}}}"),
        "passthrough: strong")
        .replace("model: strong-model,", "model: strong-model, " + strongPrices)
        .replace("model: weak-model,", "model: weak-model, price: {input: 0.1, output: 0.4},"));
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private HttpResponse<String> send(String path, String body) throws Exception {
    return send(path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  private HttpResponse<String> send(String path, byte[] body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(f.url(path))).header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-batch").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return f.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Polls a stored response, as its client would. */
  private HttpResponse<String> poll(String id) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/responses/" + id)))
        .header("Authorization", "Bearer sk-batch").GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The strong upstream answers GET /v1/responses/{id} completed, with usage. */
  private void completes(String id, int input, int output) {
    f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get(urlEqualTo("/v1/responses/" + id))
        .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
            .withBody(completed(id, input, output))));
  }

  /** The strong upstream answers POST /v1/responses completed, with usage, after {@code delayMillis}. */
  private void answersCompleted(String id, int input, int output, int delayMillis) {
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withFixedDelay(delayMillis).withHeader("Content-Type", "application/json")
        .withBody(completed(id, input, output))));
  }

  /** A completed Responses answer with {@code input} and {@code output} tokens of usage. */
  private static String completed(String id, int input, int output) {
    return "{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],\"usage\":"
        + "{\"input_tokens\":" + input + ",\"output_tokens\":" + output + ",\"total_tokens\":" + (input + output) + "}}";
  }

  private static final String EMBED = "{\"object\":\"list\",\"data\":[],\"model\":\"m\",\"usage\":{\"prompt_tokens\":"
      + "1000000,\"total_tokens\":1000000}}";

  private void embeddingsAnswer() {
    f.strong.stubFor(post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(EMBED)));
  }

  /** A metered passthrough answer's line carries its tokens and cost, as a routed one's does. */
  @Test
  void itsAccessLogLineCarriesTheTokensAndCost() throws Exception {
    embeddingsAnswer();
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}").statusCode());
      for (int i = 0; i < 100 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      String line = log.text();
      // a million prompt tokens at 0.02 USD a million
      org.junit.jupiter.api.Assertions.assertTrue(line.contains(" passthrough=strong")
          && line.contains(" prompt_tokens=1000000 completion_tokens=0 cost_usd=0.02"), line);
    }
  }

  /**
   * Past its budget, a client cannot pass priced passthrough by hiding the model: a compressed body
   * (its model unread) is refused, and a body naming two models is priced at the one priced (review).
   * That is with {@code unpriced: allow}; by default neither is metered, so neither goes at all.
   */
  @Test
  void aClientPastItsBudgetCannotHideThePricedModel() throws Exception {
    start("price: {input: 2.5, output: 10}, model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},",
        ", unpriced: allow");
    embeddingsAnswer();
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"strong-model\",\"input\":\"hi\"}").statusCode()); // $2.5
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(gz)) {
      z.write("{\"model\":\"strong-model\",\"input\":\"hi\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    assertEquals(429, send("/v1/embeddings", gz.toByteArray(), "Content-Encoding", "gzip").statusCode());
    // every Content-Encoding line counts: an "identity" one first hid the gzip after it, and the body went unmetered
    assertEquals(429, send("/v1/embeddings", gz.toByteArray(), "Content-Encoding", "identity", "Content-Encoding", "gzip")
        .statusCode());
    assertEquals(429, send("/v1/embeddings", "{\"model\":\"x\",\"model\":\"strong-model\",\"input\":\"hi\"}")
        .statusCode());
    // nor by naming it in another case, which Go's decoder (Ollama's) reads as model (a review: it went, unmetered)
    assertEquals(429, send("/v1/embeddings", "{\"Model\":\"strong-model\",\"input\":\"hi\"}").statusCode());
    assertEquals(1, f.strong.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
        urlEqualTo("/v1/embeddings"))).size());
  }

  /**
   * A background response passed through for a priced model is counted from the poll that shows it
   * done, at its model's price, for the client that started it: queued, it had no usage, and it was
   * never counted (an operator trial: a client could spend without end so).
   */
  @Test
  void aPassedThroughBackgroundResponseIsCountedFromItsPoll() throws Exception {
    start("price: {input: 2.5, output: 10}, model_prices: {mini-model: {input: 0.15, output: 0.6}},");
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_pb1\",\"object\":\"response\","
            + "\"status\":\"queued\",\"background\":true,\"output\":[],\"usage\":null}")));
    assertEquals(200, send("/v1/responses", "{\"model\":\"mini-model\",\"input\":\"hi\",\"background\":true}")
        .statusCode());
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"strong\"}"), "awaited, not unmetered");
    completes("resp_pb1", 1000, 100);
    HttpResponse<String> poll = poll("resp_pb1");
    assertEquals(200, poll.statusCode(), poll.body());
    double cost = 1000 * 0.15e-6 + 100 * 0.6e-6;
    assertEquals(cost, spent(), 1e-12, "at mini-model's price, not strong's");
    assertEquals(cost, metric("routewise_client_cost_usd_total{client=\"batch\"}"), 1e-12);
    poll("resp_pb1");
    assertEquals(cost, spent(), 1e-12, "once");
  }

  /**
   * A streamed background response cut short after response.created goes on upstream: it is
   * counted from the poll that shows it done (review: it was counted nowhere).
   */
  @Test
  void aStreamedBackgroundResponseCutShortIsCountedFromItsPoll() throws Exception {
    // one streamed to its end is counted there, once
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_sb2", true))));
    assertEquals(200, send("/v1/responses",
        "{\"model\":\"strong-model\",\"input\":\"hi\",\"background\":true,\"stream\":true}").statusCode());
    double whole = 9 * 2.5e-6 + 2 * 10e-6;
    assertEquals(whole, spent(), 1e-12);

    String created = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
        + "\"response\":{\"id\":\"resp_sb1\",\"object\":\"response\",\"status\":\"queued\",\"background\":true,"
        + "\"output\":[],\"usage\":null}}\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(created)));
    assertEquals(200, send("/v1/responses",
        "{\"model\":\"strong-model\",\"input\":\"hi\",\"background\":true,\"stream\":true}").statusCode());
    assertEquals(whole, spent(), 1e-12, "cut short: not done yet");
    completes("resp_sb1", 1000, 100);
    HttpResponse<String> poll = poll("resp_sb1");
    assertEquals(200, poll.statusCode(), poll.body());
    assertEquals(whole + 1000 * 2.5e-6 + 100 * 10e-6, spent(), 1e-12);
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"strong\"}"));
  }

  /**
   * An error answer typed as an event stream goes as it came: the error event a cut 200 stream gets is
   * not added after it (a review of that change), nor is a Responses answer without a Content-Type read
   * as a stream and judged cut.
   */
  @Test
  void anErrorStreamAndAnUntypedResponsesAnswerGoAsTheyCame() throws Exception {
    String body = "event: response.failed\ndata: {\"type\":\"response.in_progress\"}\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(400)
        .withHeader("Content-Type", "text/event-stream").withBody(body)));
    HttpResponse<String> r = send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\",\"stream\":true}");
    assertEquals(400, r.statusCode(), r.body());
    assertEquals(body, r.body());
    String json = "{\"id\":\"resp_u1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],"
        + "\"usage\":{\"input_tokens\":10,\"output_tokens\":2,\"total_tokens\":12}}";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200).withBody(json)));
    HttpResponse<String> untyped = send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\",\"stream\":true}");
    assertEquals(200, untyped.statusCode(), untyped.body());
    assertEquals(json, untyped.body());
  }

  /**
   * A passed-through background stream whose body ends inside a data line (its connection closed, or a
   * gateway's last chunk) was cut: its client gets the error event a routed stream gets, not half a
   * line and a quiet end the SDKs read as a stream that simply stopped; it is counted from its resume
   * or poll, once (a background trial: the half line went on and no error came).
   */
  @Test
  void aPassedThroughBackgroundStreamCutInsideALineEndsWithAnErrorEvent() throws Exception {
    String created = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
        + "\"response\":{\"id\":\"resp_sb3\",\"object\":\"response\",\"status\":\"queued\",\"background\":true,"
        + "\"output\":[],\"usage\":null}}\n\n";
    String half = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_nu";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(created + half)));
    HttpResponse<String> r = send("/v1/responses",
        "{\"model\":\"strong-model\",\"input\":\"hi\",\"background\":true,\"stream\":true}");
    assertEquals(200, r.statusCode(), r.body());
    org.junit.jupiter.api.Assertions.assertTrue(r.body().startsWith(created), r.body());
    org.junit.jupiter.api.Assertions.assertTrue(r.body().contains("\"code\":\"upstream_stream_failed\""), r.body());
    assertFalse(r.body().contains("output_text.delta\","), "half a line relayed: " + r.body());
    assertEquals(0.0, spent(), "not done yet");

    completes("resp_sb3", 1000, 100);
    assertEquals(200, poll("resp_sb3").statusCode());
    poll("resp_sb3");
    assertEquals(1000 * 2.5e-6 + 100 * 10e-6, spent(), 1e-12);
  }

  /**
   * Past its budget, a Responses body without a model (a stored prompt names it) is refused: it may be
   * priced (with {@code unpriced: allow}; by default it is refused anyway).
   */
  @Test
  void aResponsesBodyWithoutAModelIsRefusedPastTheBudget() throws Exception {
    start("price: {input: 2.5, output: 10}, model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},",
        ", unpriced: allow");
    embeddingsAnswer();
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"strong-model\",\"input\":\"hi\"}").statusCode()); // $2.5
    assertEquals(429, send("/v1/responses", "{\"prompt\":{\"id\":\"pmpt_1\"},\"input\":\"hi\"}").statusCode());
  }

  /** A priced stream that ends whole without usage (passthrough cannot ask for it) is unmetered, as a routed one. */
  @Test
  void aPricedStreamWithoutUsageIsCountedUnmetered() throws Exception {
    start("price: {input: 2.5, output: 10}, model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},",
        ", unpriced: allow"); // by default such a stream is refused to a client with a budget
    String events = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"hi\",\"index\":0,"
        + "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> r = send("/v1/completions", "{\"model\":\"strong-model\",\"prompt\":\"hi\",\"stream\":true}");
    assertEquals(events, r.body());
    assertEquals(1.0, metric("routewise_answers_unmetered_total{upstream=\"strong\"}"));
    assertEquals(0.0, spent());
  }

  /**
   * A stream asked for and answered without a Content-Type (a minimal server's) is read as the stream it
   * is: it was read as a JSON answer, never whole, so neither metered nor counted unmetered (a trial).
   */
  @Test
  void aStreamAnsweredWithoutAContentTypeIsMetered() throws Exception {
    String events = "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"hi\",\"index\":0,"
        + "\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,"
        + "\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/completions")).willReturn(aResponse().withStatus(200).withBody(events)));
    HttpResponse<String> r = send("/v1/completions", "{\"model\":\"strong-model\",\"prompt\":\"hi\",\"stream\":true,"
        + "\"stream_options\":{\"include_usage\":true}}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(events, r.body());
    assertEquals(1000 * 2.5e-6 + 10e-6, spent(), 1e-12);
    assertEquals(1000.0, metric("routewise_tokens_total{type=\"prompt\",upstream=\"strong\"}"));
  }

  /** A client that read the usage chunk and left before [DONE] has spent it, as on a routed stream (review). */
  @Test
  void aClientThatLeavesAfterTheUsageChunkIsCharged() throws Exception {
    String events = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":1}}\n\n"
        + ": pad\n\n".repeat(200) + "data: [DONE]\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(40, 2000)));
    HttpResponse<java.io.InputStream> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/completions")))
        .header("Content-Type", "application/json").header("Authorization", "Bearer sk-batch")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"strong-model\",\"stream\":true,"
            + "\"stream_options\":{\"include_usage\":true}}")).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(r.body(),
        java.nio.charset.StandardCharsets.UTF_8))) {
      String line;
      do {
        line = in.readLine();
      } while (line != null && !line.contains("usage"));
    }
    double expected = 1000 * 2.5e-6 + 10e-6;
    long until = System.nanoTime() + 5_000_000_000L;
    while (spent() < expected - 1e-12 && System.nanoTime() < until) {
      Thread.sleep(50);
    }
    assertEquals(expected, spent(), 1e-12);
  }

  /**
   * A cancel of a routed background response is counted once, by the background tap, even when its
   * body names the model; nor is a client past its budget refused it (a cancel stops spending).
   */
  @Test
  void aCancelNamingItsModelIsCountedOnce() throws Exception {
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_bgx\",\"object\":\"response\","
            + "\"status\":\"queued\",\"background\":true,\"output\":[],\"usage\":null}")));
    assertEquals(200, send("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"x\",\"background\":true}")
        .statusCode());
    f.weak.stubFor(post(urlEqualTo("/v1/responses/resp_bgx/cancel")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_bgx\",\"object\":\"response\","
            + "\"status\":\"cancelled\",\"output\":[],\"usage\":{\"input_tokens\":120,\"output_tokens\":30,"
            + "\"total_tokens\":150}}")));
    assertEquals(200, send("/v1/responses/resp_bgx/cancel", "{\"model\":\"weak-model\"}").statusCode());
    assertEquals(120.0, metric("routewise_tokens_total{type=\"prompt\",upstream=\"weak\"}"));
  }

  private double metric(String series) throws Exception {
    return MetricsEndpointTest.value(f.get("/metrics").body(), series);
  }

  private double spent() throws Exception {
    return metric("routewise_cost_usd_total{upstream=\"strong\"}");
  }

  @Test
  void aPassedThroughAnswerForAPricedModelIsSpendButNoSaving() throws Exception {
    answersCompleted("resp_p1", 100, 20, 0);
    assertEquals(200, send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\"}").statusCode());
    double once = 100 * 2.5e-6 + 20 * 10e-6;
    assertEquals(once, spent(), 1e-12);
    assertEquals(100.0, metric("routewise_tokens_total{type=\"prompt\",upstream=\"strong\"}"));
    assertEquals(once, metric("routewise_client_cost_usd_total{client=\"batch\"}"), 1e-12);
    assertEquals(once, metric("routewise_client_budget_spent_usd{client=\"batch\"}"), 1e-12);
    assertEquals(0.0, metric("routewise_cost_saved_usd_total{upstream=\"strong\"}"), "no router chose it");

    // streamed: counted from its response.completed
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_p2", true))));
    HttpResponse<String> stream = send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\",\"stream\":true}");
    assertEquals(ResponsesRoutingTest.events("resp_p2", true), stream.body());
    double streamed = 9 * 2.5e-6 + 2 * 10e-6;
    assertEquals(once + streamed, spent(), 1e-12);

    // model_prices: an embedding at its own price
    f.strong.stubFor(post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
            + "\"index\":0,\"embedding\":[0.1,0.2]}],\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":1000,"
            + "\"total_tokens\":1000}}")));
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}").statusCode());
    assertEquals(once + streamed + 1000 * 0.02e-6, spent(), 1e-12);

    // a model the upstream does not price: a client with a budget is refused it, as it would go unmetered
    HttpResponse<String> unpriced = send("/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"hi\"}");
    assertEquals(403, unpriced.statusCode(), unpriced.body());
    assertEquals(once + streamed + 1000 * 0.02e-6, spent(), 1e-12);
  }

  /**
   * A client with a budget is refused what routewise cannot meter: a model the upstream does not
   * price (a snapshot id of a priced one included), a compressed body, a body naming two models, a
   * Responses body that names none. Before, each went through unmetered, however far past the budget
   * it spent (an operator trial). A body that names no model (a batch, a file) still goes, and
   * {@code unpriced: allow} lets the rest go too, unmetered.
   */
  @Test
  void whatCannotBeMeteredIsRefusedToAClientWithABudget() throws Exception {
    embeddingsAnswer();
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(completed("resp_u1", 10, 10))));
    HttpResponse<String> snapshot = send("/v1/embeddings", "{\"model\":\"text-embedding-3-small-2024\",\"input\":\"hi\"}");
    assertEquals(403, snapshot.statusCode(), snapshot.body());
    var error = new com.fasterxml.jackson.databind.ObjectMapper().readTree(snapshot.body()).path("error");
    assertEquals("model_not_priced", error.path("code").asText());
    assertEquals("model", error.path("param").asText());
    org.junit.jupiter.api.Assertions.assertTrue(error.path("message").asText().contains("upstreams.strong.model_prices"),
        snapshot.body());
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(gz)) {
      z.write("{\"model\":\"o1-pro\",\"input\":\"hi\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    assertEquals(415, send("/v1/embeddings", gz.toByteArray(), "Content-Encoding", "gzip").statusCode());
    assertEquals(400, send("/v1/embeddings", "{\"model\":\"strong-model\",\"model\":\"o1-pro\",\"input\":\"hi\"}")
        .statusCode());
    assertEquals(403, send("/v1/responses", "{\"prompt\":{\"id\":\"pmpt_1\"},\"input\":\"hi\"}").statusCode());
    assertEquals(0, f.strong.getAllServeEvents().size(), "none sent");
    assertEquals(4.0, metric("routewise_client_budget_refused_total{client=\"batch\",reason=\"unmetered\"}"));

    f.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.anyUrl()).atPriority(10).willReturn(
        aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"id\":\"x_1\"}")));
    HttpResponse<String> batch = send("/v1/batches", "{\"input_file_id\":\"file-1\",\"endpoint\":\"/v1/responses\"}");
    assertEquals(403, batch.statusCode(), "a batch's cost is in no answer");
    assertEquals("request_not_metered", new com.fasterxml.jackson.databind.ObjectMapper().readTree(batch.body())
        .path("error").path("code").asText(), batch.body());
    assertEquals(403, send("/v1/threads/thread_1/runs", "{\"assistant_id\":\"asst_1\"}").statusCode(), "a run generates");
    assertEquals(200, send("/v1/vector_stores", "{\"name\":\"docs\"}").statusCode(), "generates nothing");
    assertEquals(200, send("/v1/moderations", "{\"model\":\"omni-moderation-latest\",\"input\":\"hi\"}")
        .statusCode(), "free, whatever model it names");
    assertEquals(200, send("/v1/batches/batch_1/cancel", "").statusCode(), "a cancel stops spending");
    assertEquals(6.0, metric("routewise_client_budget_refused_total{client=\"batch\",reason=\"unmetered\"}"));
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}"
        .getBytes(java.nio.charset.StandardCharsets.UTF_8), "Content-Encoding", "identity").statusCode(), "identity is no encoding: metered");

    start("price: {input: 2.5, output: 10}, model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},",
        ", unpriced: allow");
    embeddingsAnswer();
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-small-2024\",\"input\":\"hi\"}")
        .statusCode());
    assertEquals(200, send("/v1/embeddings", gz.toByteArray(), "Content-Encoding", "gzip").statusCode());
    assertEquals(0.0, spent(), "unmetered");
  }

  /** The strong upstream answers any POST 200 with a Responses answer carrying usage. */
  private void answersAnything() {
    f.strong.stubFor(post(com.github.tomakehurst.wiremock.client.WireMock.anyUrl()).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody(completed("resp_any", 1000, 1000))));
  }

  /**
   * POST /v1/responses/compact generates (a model, input, usage in its answer): metered and refused as
   * /v1/responses is (a review: every path below responses/ skipped both, so a client with a budget
   * compacted with any model, unmetered, past its budget).
   */
  @Test
  void aResponsesCompactWithAnUnpricedModelIsRefused() throws Exception {
    answersAnything();
    HttpResponse<String> compact = send("/v1/responses/compact", "{\"model\":\"o1-pro\",\"input\":\"hi\"}");
    assertEquals(403, compact.statusCode(), "an unpriced model, unmetered: " + compact.body());
  }

  /** As above, with a priced model: its usage is counted (it was not, nor held). */
  @Test
  void aResponsesCompactWithAPricedModelIsMetered() throws Exception {
    answersAnything();
    assertEquals(200, send("/v1/responses/compact", "{\"model\":\"strong-model\",\"input\":\"hi\"}").statusCode());
    assertEquals(1000 * 2.5e-6 + 1000 * 10e-6, spent(), 1e-12, "its usage counted");
  }

  /**
   * Metering reads the path as an upstream that decodes escapes and folds case does: /v1/%72esponses
   * and /v1/Responses are /v1/responses (a review: compared raw, a Responses body without a model
   * went unmetered on them).
   */
  @Test
  void aResponsesPathSpelledOtherwiseIsNotABypass() throws Exception {
    answersAnything();
    for (String path : new String[] {"/v1/%72esponses", "/v1/Responses"}) {
      HttpResponse<String> r = send(path, "{\"prompt\":{\"id\":\"pmpt_1\"},\"input\":\"hi\"}");
      assertEquals(403, r.statusCode(), path + ": a stored prompt's model, unmetered: " + r.body());
    }
  }

  /**
   * A JSON body routewise's parser cannot read to its end (a number over 1,000 digits, nesting past
   * 200: limits Python's json, say, has not) may name its model after that point, so a client that
   * must be metered is refused it (a review: it went as "naming no model").
   */
  @Test
  void aBodyRoutewiseStopsReadingBeforeItsModelIsRefused() throws Exception {
    answersAnything();
    String longNumber = "1." + "0".repeat(1100);
    HttpResponse<String> longer = send("/v1/embeddings", "{\"dimensions\":" + longNumber
        + ",\"model\":\"o1-pro\",\"input\":\"hi\"}");
    String deep = "[".repeat(250) + "]".repeat(250);
    HttpResponse<String> deeper = send("/v1/embeddings", "{\"x\":" + deep + ",\"model\":\"o1-pro\",\"input\":\"hi\"}");
    org.junit.jupiter.api.Assertions.assertAll(
        () -> assertEquals(true, longer.statusCode() >= 400, "a long number, o1-pro unseen: " + longer.statusCode()),
        () -> assertEquals(true, deeper.statusCode() >= 400, "nesting 250 deep, o1-pro unseen: " + deeper.statusCode()));
  }

  /**
   * Nor does that stop hide a second model from the two-models guard: a priced model first, then what
   * the parser rejects, then the model a last-key-wins upstream runs (a review: metered at the first).
   */
  @Test
  void aSecondModelAfterWhatRoutewiseCannotReadIsStillRefused() throws Exception {
    answersAnything();
    HttpResponse<String> r = send("/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"dimensions\":1."
        + "0".repeat(1100) + ",\"model\":\"o1-pro\",\"input\":\"hi\"}");
    assertEquals(400, r.statusCode(), "o1-pro run, priced as text-embedding-3-small: " + r.body());
  }

  /**
   * A second model key of any type counts as naming two: {"model":"strong-model",...,"model":null} is
   * read by a last-key-wins upstream as no model, and a stored prompt's then runs (a review: only a
   * second string counted).
   */
  @Test
  void aSecondModelKeyOfAnotherTypeIsRefused() throws Exception {
    answersAnything();
    HttpResponse<String> r = send("/v1/responses", "{\"model\":\"strong-model\",\"prompt\":{\"id\":\"pmpt_1\"},"
        + "\"input\":\"hi\",\"model\":null}");
    assertEquals(400, r.statusCode(), "metered as strong-model, run as the prompt's: " + r.body());
  }

  /**
   * An endpoint that generates with a default model when none is named (images/generations: dall-e-2
   * or gpt-image-1; videos: sora-2) is refused to a client that must be metered, as a Responses body
   * without a model is (a review: it went, unmetered).
   */
  @Test
  void anImageGenerationWithoutAModelIsRefusedAsAResponsesOneIs() throws Exception {
    answersAnything();
    HttpResponse<String> r = send("/v1/images/generations", "{\"prompt\":\"a cat\",\"quality\":\"high\",\"n\":10}");
    assertEquals(403, r.statusCode(), "the upstream's default model, unmetered: " + r.body());
  }

  /**
   * A {@code model_prices} id ending in {@code *} prices the snapshots it begins, the longest one
   * first, an exact id before any: a client's dated snapshot id is metered, not refused.
   */
  @Test
  void aPricedPrefixMetersASnapshotId() throws Exception {
    start("price: {input: 2.5, output: 10}, model_prices: {\"text-embedding-*\": {input: 1, output: 0}, "
        + "\"text-embedding-3-*\": {input: 0.02, output: 0}, text-embedding-3-2024: {input: 5, output: 0}},");
    f.strong.stubFor(post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[],\"usage\":"
            + "{\"prompt_tokens\":1000,\"total_tokens\":1000}}")));
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-small-2024\",\"input\":\"hi\"}")
        .statusCode());
    assertEquals(1000 * 0.02e-6, spent(), 1e-12, "the longest prefix");
    assertEquals(200, send("/v1/embeddings", "{\"model\":\"text-embedding-3-2024\",\"input\":\"hi\"}").statusCode());
    assertEquals(1000 * 0.02e-6 + 1000 * 5e-6, spent(), 1e-12, "the exact id");
    assertEquals(403, send("/v1/embeddings", "{\"model\":\"text-embedding\",\"input\":\"hi\"}").statusCode(),
        "a prefix prices what begins with it, not itself less its dash");
  }

  /**
   * What a client spends through passthrough counts against its budget: past it, its routed requests
   * get 429, and so do its passed-through ones that would be metered; the others still pass.
   */
  @Test
  void passedThroughSpendCountsAgainstTheClientsBudget() throws Exception {
    answersCompleted("resp_p3", 200, 100, 0);
    assertEquals(200, send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\"}").statusCode()); // 0.0015
    HttpResponse<String> routed = send("/v1/chat/completions",
        "{\"model\":\"router-random-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(429, routed.statusCode(), routed.body());
    HttpResponse<String> passed = send("/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\"}");
    assertEquals(429, passed.statusCode(), passed.body());
    assertEquals("false", passed.headers().firstValue("x-should-retry").orElseThrow());
    assertEquals(1, f.strong.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
        urlEqualTo("/v1/responses"))).size(), "not sent");
    f.strong.stubFor(post(urlEqualTo("/v1/moderations")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"modr-1\",\"results\":[]}")));
    assertEquals(200, send("/v1/moderations", "{\"input\":\"hi\"}").statusCode(),
        "naming no model: not held to the budget");
    assertEquals(2.0, metric("routewise_client_budget_refused_total{client=\"batch\",reason=\"spent\"}"));
  }

  /**
   * A priced passthrough request under way holds its likely cost as a routed one does: a second one
   * at once that would pass the budget is told to retry, and once the first has ended, goes.
   */
  @Test
  void aPricedPassthroughRequestUnderWayHoldsItsLikelyCost() throws Exception {
    answersCompleted("resp_h1", 20, 10, 700);
    String body = "{\"model\":\"strong-model\",\"input\":\"hi\"}"; // holds 500 completion tokens at 10: 0.005
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      var first = pool.submit(() -> send("/v1/responses", body));
      long until = System.nanoTime() + 5_000_000_000L;
      while (metric("routewise_client_budget_held_usd{client=\"batch\"}") == 0 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      HttpResponse<String> second = send("/v1/responses", body);
      assertEquals(429, second.statusCode(), second.body());
      assertEquals("rate_limit_exceeded", new com.fasterxml.jackson.databind.ObjectMapper().readTree(second.body())
          .path("error").path("code").asText(), second.body());
      assertEquals(200, first.get().statusCode());
    }
    assertEquals(0.0, metric("routewise_client_budget_held_usd{client=\"batch\"}"));
    assertEquals(200, send("/v1/responses", body).statusCode(), "nothing under way, budget left: goes");
    assertEquals(1.0, metric("routewise_client_budget_refused_total{client=\"batch\",reason=\"in_flight\"}"));
  }
}
