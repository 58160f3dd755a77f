package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.routewise.TestConfigs;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a budget is charged for answers that are neither plain nor whole: an image stream, a response
 * the upstream failed; and that a strict budget's metered traffic goes. Cases from a review.
 */
class BudgetAnswersTest {
  private ProxyFixture f;

  /** strong priced at {input: 2.5, output: 10} per 1M; client "batch" with a $1 budget ({@code budgetKeys} added). */
  private void start(String budgetKeys) {
    f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "api_keys: {batch: {key: sk-batch, budget: {usd: 1, per: day" + budgetKeys + "}}}"), "passthrough: strong")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10},"));
  }

  @AfterEach
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  private HttpResponse<String> send(String method, String path, String body) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-batch").method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private double metric(String series) throws Exception {
    return MetricsEndpointTest.value(f.get("/metrics").body(), series);
  }

  /** What the client's budget was charged this period, settled (counts and charges land after the answer). */
  private double spentSettled() throws Exception {
    double before = -1;
    double now = metric("routewise_client_budget_spent_usd{client=\"batch\"}");
    for (long until = System.nanoTime() + 2_000_000_000L; now != before && System.nanoTime() < until; ) {
      Thread.sleep(100);
      before = now;
      now = metric("routewise_client_budget_spent_usd{client=\"batch\"}");
    }
    return now;
  }

  /**
   * gpt-image-1's stream (images/generations, stream: true): its usage sits after the whole image's
   * base64 on one line, which routewise does not read. A client that must be metered is refused the
   * stream (400, ask for the image whole); one with unpriced: allow gets it, unmetered and uncharged,
   * as before (a review: since images were charged when cut, every whole image stream was charged
   * its 500-token hold, for the wrong reason and amount).
   */
  @Test
  void aStreamedImageIsRefusedToAClientThatMustBeMeteredAndUnchargedOtherwise() throws Exception {
    String b64 = "iVBORw0KGgo" + "A".repeat(200_000);
    String events = "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\","
        + "\"b64_json\":\"" + b64 + "\",\"partial_image_index\":0}\n\n"
        + "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"" + b64
        + "\",\"created_at\":1,\"size\":\"1024x1024\",\"quality\":\"high\",\"background\":\"opaque\","
        + "\"output_format\":\"png\",\"usage\":{\"total_tokens\":4210,\"input_tokens\":50,\"output_tokens\":4160,"
        + "\"input_tokens_details\":{\"text_tokens\":50,\"image_tokens\":0}}}\n\n";
    String body = "{\"model\":\"strong-model\",\"prompt\":\"a cat\",\"stream\":true,\"partial_images\":1}";
    start("");
    HttpResponse<String> strict = send("POST", "/v1/images/generations", body);
    assertEquals(400, strict.statusCode(), strict.body());
    assertEquals(true, strict.body().contains("\"request_not_metered\""), strict.body());
    f.close();
    start(", unpriced: allow");
    f.strong.stubFor(post(urlEqualTo("/v1/images/generations")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> allowed = send("POST", "/v1/images/generations", body);
    assertEquals(200, allowed.statusCode());
    assertEquals(0.0, spentSettled(), 1e-12, "a whole stream, not one its client left: not charged its hold");
  }

  /**
   * A stream without usage that the chosen upstream answered whole is charged its hold at that
   * upstream's price: the hold had been raised to where it might fail over to (strong), and that is
   * what was charged, though no failover came (an operator trial on a ladder: gpt-4o-mini's streams
   * charged at gpt-4o's price, 16 times theirs, and a local model priced 0 at gpt-4o-mini's).
   */
  @Test
  void aStreamWithoutUsageIsChargedAtThePriceOfTheUpstreamThatAnsweredIt() throws Exception {
    f = ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "api_keys: {batch: {key: sk-batch, budget: {usd: 1, per: day}}}"), "failover: true")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10},")
        .replace("model: weak-model,", "model: weak-model, price: {input: 0.15, output: 0.6},"));
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"weak-model\","
                + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"
                + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"weak-model\","
                + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                + "data: [DONE]\n\n")));
    HttpResponse<String> r = send("POST", "/v1/chat/completions", "{\"model\":\"router-random-1\",\"stream\":true,"
        + "\"max_tokens\":1000,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElse(null));
    double spent = spentSettled();
    // 1,000 output tokens at weak's 0.6 per 1M, and a few prompt tokens; at strong's 10 it was 0.01
    assertEquals(1000 * 0.6e-6, spent, 2e-5, "charged at weak's price, the upstream that answered: " + spent);
  }

  /** The same image whole (no stream) is metered: its usage is read after a long base64 string. */
  @Test
  void aWholeImageAnswerIsMetered() throws Exception {
    start("");
    f.strong.stubFor(post(urlEqualTo("/v1/images/generations")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"created\":1,\"data\":[{\"b64_json\":\""
            + "A".repeat(500_000) + "\"}],\"usage\":{\"total_tokens\":4210,\"input_tokens\":50,\"output_tokens\":4160,"
            + "\"input_tokens_details\":{\"text_tokens\":50,\"image_tokens\":0}}}")));
    HttpResponse<String> r = send("POST", "/v1/images/generations", "{\"model\":\"strong-model\",\"prompt\":\"a cat\"}");
    assertEquals(200, r.statusCode());
    assertEquals(50 * 2.5e-6 + 4160 * 10e-6, spentSettled(), 1e-9);
  }

  /**
   * A background response a poll shows failed, without usage, is not charged its hold: the
   * upstream's own failure is billed nothing, as a cancel without usage is (a review: the full hold
   * was charged to a client that must be metered).
   */
  @Test
  void aFailedBackgroundResponseIsNotChargedItsHold() throws Exception {
    start("");
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_f1\",\"object\":\"response\","
            + "\"status\":\"queued\",\"background\":true,\"output\":[],\"usage\":null}")));
    f.strong.stubFor(get(urlEqualTo("/v1/responses/resp_f1")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_f1\",\"object\":\"response\","
            + "\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"An error occurred\"},"
            + "\"output\":[],\"usage\":null}")));
    HttpResponse<String> queued = send("POST", "/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\","
        + "\"background\":true,\"max_output_tokens\":50000}");
    assertEquals(200, queued.statusCode(), queued.body());
    HttpResponse<String> poll = send("GET", "/v1/responses/resp_f1", null);
    assertEquals(200, poll.statusCode(), poll.body());
    assertEquals(0.0, spentSettled(), 1e-9, "failed upstream, billed nothing: charged the $0.50 hold anyway");
  }

  /** A strict budget's metered traffic goes and is counted: embeddings in base64, completions whole, a Responses stream. */
  @Test
  void strictClientsLegitimateMeteredTrafficGoes() throws Exception {
    start("");
    f.strong.stubFor(post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[{\"object\":"
            + "\"embedding\",\"index\":0,\"embedding\":\"" + "AAAA".repeat(3000) + "\"}],\"model\":\"strong-model\","
            + "\"usage\":{\"prompt_tokens\":1000,\"total_tokens\":1000}}")));
    f.strong.stubFor(post(urlEqualTo("/v1/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"c\",\"object\":\"text_completion\","
            + "\"choices\":[{\"text\":\"x\",\"index\":0,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1000,"
            + "\"completion_tokens\":0,\"total_tokens\":1000}}")));
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody("event: response.created\ndata: {\"type\":"
            + "\"response.created\",\"response\":{\"id\":\"resp_s\",\"status\":\"in_progress\"}}\n\n"
            + "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_s\","
            + "\"status\":\"completed\",\"usage\":{\"input_tokens\":1000,\"output_tokens\":0}}}\n\n")));
    HttpResponse<String> e = send("POST", "/v1/embeddings", "{\"model\":\"strong-model\",\"input\":\"hi\","
        + "\"encoding_format\":\"base64\"}");
    HttpResponse<String> c = send("POST", "/v1/completions", "{\"model\":\"strong-model\",\"prompt\":\"hi\","
        + "\"max_tokens\":5}");
    HttpResponse<String> r = send("POST", "/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\","
        + "\"stream\":true,\"previous_response_id\":\"resp_0\"}");
    assertAll(() -> assertEquals(200, e.statusCode(), e.body()), () -> assertEquals(200, c.statusCode(), c.body()),
        () -> assertEquals(200, r.statusCode(), r.body()));
    assertEquals(3 * 1000 * 2.5e-6, spentSettled(), 1e-9);
  }

  /** Nor is a passed-through Responses stream that ends in response.failed without usage (a review's case too). */
  @Test
  void aFailedPassedThroughResponsesStreamIsNotChargedItsHold() throws Exception {
    start("");
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody("event: response.created\ndata: {\"type\":"
            + "\"response.created\",\"response\":{\"id\":\"resp_x\",\"status\":\"in_progress\"}}\n\n"
            + "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_x\","
            + "\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"x\"},\"usage\":null}}\n\n")));
    HttpResponse<String> r = send("POST", "/v1/responses", "{\"model\":\"strong-model\",\"input\":\"hi\","
        + "\"stream\":true,\"max_output_tokens\":50000}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(0.0, spentSettled(), 1e-9, "the upstream's own failure, billed nothing: charged its hold");
  }
}
