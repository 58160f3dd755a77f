package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
    f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "api_keys: {batch: {key: sk-batch, budget: {usd: 0.001, per: day}}}"), "passthrough: strong")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10}, "
            + "model_prices: {text-embedding-3-small: {input: 0.02, output: 0}},")
        .replace("model: weak-model,", "model: weak-model, price: {input: 0.1, output: 0.4},"));
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private HttpResponse<String> send(String path, String body) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-batch").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private double metric(String series) throws Exception {
    return MetricsEndpointTest.value(f.get("/metrics").body(), series);
  }

  private double spent() throws Exception {
    return metric("routewise_cost_usd_total{upstream=\"strong\"}");
  }

  @Test
  void aPassedThroughAnswerForAPricedModelIsSpendButNoSaving() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_p1\",\"object\":\"response\","
            + "\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
            + "\"total_tokens\":120}}")));
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

    // a model the upstream does not price: unmetered, as before
    assertEquals(200, send("/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"hi\"}").statusCode());
    assertEquals(once + streamed + 1000 * 0.02e-6, spent(), 1e-12);
  }

  /**
   * What a client spends through passthrough counts against its budget: past it, its routed requests
   * get 429, and so do its passed-through ones that would be metered; the others still pass.
   */
  @Test
  void passedThroughSpendCountsAgainstTheClientsBudget() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_p3\",\"object\":\"response\","
            + "\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":200,\"output_tokens\":100,"
            + "\"total_tokens\":300}}")));
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
    assertEquals(200, send("/v1/moderations", "{\"model\":\"omni-moderation-latest\",\"input\":\"hi\"}")
        .statusCode(), "unpriced: not held to the budget");
    assertEquals(2.0, metric("routewise_client_budget_refused_total{client=\"batch\"}"));
  }
}
