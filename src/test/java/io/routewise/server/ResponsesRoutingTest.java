package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code POST /v1/responses} routed as chat is: to the chosen upstream's own {@code /responses}. */
class ResponsesRoutingTest {
  static final String RESPONSE = """
      {"id":"%s","object":"response","created_at":1,"status":"completed","model":"%s",
       "output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant",
         "content":[{"type":"output_text","text":"hello from %s","annotations":[]}]}],
       "usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":4},"output_tokens":5,
         "output_tokens_details":{"reasoning_tokens":0},"total_tokens":17}}""";

  private ProxyFixture f;

  @AfterEach
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  static void answers(WireMockServer upstream, String id, String name) {
    upstream.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(RESPONSE.formatted(id, name + "-model", name))));
  }

  /** A Responses stream: created, two deltas, then completed with its usage (or, cut, without it). */
  static String events(String id, boolean whole) {
    String created = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
        + "\"response\":{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n";
    String deltas = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,"
        + "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n"
        + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,"
        + "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo!\"}\n\n";
    String completed = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,"
        + "\"response\":{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":"
        + "\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello!\","
        + "\"annotations\":[]}]}],\"usage\":{\"input_tokens\":9,\"output_tokens\":2,\"total_tokens\":11}}}\n\n";
    return created + deltas + (whole ? completed : "");
  }

  private HttpResponse<String> respond(String body) throws Exception {
    return f.post("/v1/responses", body);
  }

  private String metrics() throws Exception {
    return f.get("/metrics").body();
  }

  private static double tokens(String metrics, String upstream, String type) {
    return MetricsEndpointTest.value(metrics, "routewise_tokens_total{type=\"" + type + "\",upstream=\"" + upstream + "\"}");
  }

  @Test
  void aResponseGoesToTheChosenUpstreamsResponsesWithItsModel() throws Exception {
    f = new ProxyFixture("");
    answers(f.weak, "resp_w1", "weak");
    String body = "{\"model\":\"router-random-1\",\"instructions\":\"be brief\",\"input\":[{\"role\":\"user\","
        + "\"content\":[{\"type\":\"input_text\",\"text\":\"Say hello\"}]}],\"store\":true}";
    HttpResponse<String> r = respond(body);

    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("hello from weak"), r.body());
    assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("random", r.headers().firstValue("x-routewise-router").orElseThrow());
    // every byte as the client sent it but the model's value
    f.weak.verify(postRequestedFor(urlEqualTo("/v1/responses")).withRequestBody(equalTo(
        body.replace("router-random-1", "weak-model"))));
    assertEquals(0, f.strong.getAllServeEvents().size());
    String m = metrics();
    assertEquals(12.0, tokens(m, "weak", "prompt"));
    assertEquals(5.0, tokens(m, "weak", "completion"));
    assertEquals(1.0, MetricsEndpointTest.value(m,
        "routewise_requests_total{route=\"weak\",router=\"random\",status=\"200\"}"));
  }

  @Test
  void aStreamIsRelayedAsItCameAndItsUsageCounted() throws Exception {
    f = new ProxyFixture("");
    String events = events("resp_s1", true);
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(5, 200)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");

    assertEquals(200, r.statusCode(), r.body());
    assertEquals(events, r.body(), "nothing added, nothing held back (no usage is asked for: it comes anyway)");
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/responses"))
        .withRequestBody(equalToJson("{\"model\":\"strong-model\",\"input\":\"Say hello\",\"stream\":true}"))
        .withHeader("Accept", equalTo("text/event-stream")));
    String m = metrics();
    assertEquals(9.0, tokens(m, "strong", "prompt"));
    assertEquals(2.0, tokens(m, "strong", "completion"));
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"strong\"} 1"), m);
  }

  /**
   * Cut inside a last event longer than 64 KiB (a long answer, repeated whole): the part that came is
   * not relayed (a client's parser would fail on it before routewise's error), the error is.
   */
  @Test
  void aStreamCutInsideALongLineRelaysNoPartOfIt() throws Exception {
    f = new ProxyFixture("");
    String whole = events("resp_l1", true).replace("\"text\":\"Hello!\"", "\"text\":\"" + "x".repeat(300_000) + "\"");
    String cut = whole.substring(0, whole.indexOf("x".repeat(1000)) + 200_000);
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(cut).withChunkedDribbleDelay(40, 200)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");
    assertFalse(r.body().contains("xxxx"), "part of the cut line was relayed");
    String lead = cut.substring(0, cut.lastIndexOf("\n") + 1); // up to the cut line's event: line
    assertEquals(lead, r.body().substring(0, lead.length()));
    assertTrue(r.body().substring(lead.length()).startsWith("event: error\ndata: {\"error\":"), r.body().substring(lead.length()));
  }

  /** A last event whose blank line never came (the body ended right after it) gets one: else no SDK sees it. */
  @Test
  void aLastEventWithoutItsBlankLineIsEnded() throws Exception {
    f = new ProxyFixture("");
    String events = events("resp_e1", true).stripTrailing();
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");
    assertEquals(events + "\n\n", r.body());
    assertEquals(2.0, tokens(metrics(), "strong", "completion"));
  }

  /** A stream that ends before its response.completed was cut: the client hears so, as in a chat stream. */
  @Test
  void aStreamCutBeforeItsLastEventEndsWithAnErrorEvent() throws Exception {
    f = new ProxyFixture("");
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events("resp_c1", false))));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");

    assertEquals(200, r.statusCode());
    assertTrue(r.body().startsWith(events("resp_c1", false)), r.body());
    assertTrue(r.body().endsWith("\n\n") && r.body().contains("data: {\"error\":")
        && r.body().contains("upstream_stream_failed"), r.body());
    String m = metrics();
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"stream_failed\",upstream=\"strong\"} 1"), m);
  }

  /**
   * A stored response lives at the upstream that answered it: a request continuing it goes there,
   * whatever the threshold says (elsewhere it is a 404), and does not fail over.
   */
  @Test
  void aContinuationGoesToTheUpstreamThatStoredItsResponse() throws Exception {
    f = ProxyFixture.withRouting("", "failover: true");
    answers(f.weak, "resp_w1", "weak");
    answers(f.strong, "resp_s1", "strong");
    assertEquals(200, respond("{\"model\":\"router-random-1\",\"input\":\"first\"}").statusCode());
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(404)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"Previous response with id 'resp_w1' not found.\"}}")));

    HttpResponse<String> next = respond("{\"model\":\"router-random-0\",\"previous_response_id\":\"resp_w1\","
        + "\"input\":\"and then?\"}");
    assertEquals(200, next.statusCode(), next.body());
    assertEquals("weak weak-model", next.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("true", next.headers().firstValue("x-routewise-pinned").orElseThrow());
    assertEquals(0, f.strong.getAllServeEvents().size());

    // a streamed answer's id is remembered from its events
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events("resp_w2", true))));
    assertEquals(200, respond("{\"model\":\"router-random-1\",\"input\":\"x\",\"stream\":true}").statusCode());
    // the upstream holding it failing is the client's answer: another would not find the response
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(500)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"down\"}}")));
    HttpResponse<String> down = respond("{\"model\":\"router-random-0\",\"previous_response_id\":\"resp_w2\",\"input\":\"y\"}");
    assertEquals(500, down.statusCode(), down.body());
    assertFalse(down.headers().firstValue("x-routewise-failover").isPresent());
    assertEquals(0, f.strong.getAllServeEvents().size());

    // one this replica never relayed, without passthrough: routed as any request
    HttpResponse<String> unknown = respond("{\"model\":\"router-random-0\",\"previous_response_id\":\"resp_x\",\"input\":\"z\"}");
    assertEquals("strong strong-model", unknown.headers().firstValue("x-routewise-model").orElseThrow());
  }

  /**
   * With passthrough serving responses, the upstream's own model names still go there untouched
   * (and are counted as passthrough); routewise's are routed. A continuation of a response this
   * replica did not relay, and a conversation (created through passthrough), go to the passthrough upstream.
   */
  @Test
  void withPassthroughOnlyRoutewisesModelsAreRouted() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong");
    answers(f.strong, "resp_s1", "strong");
    answers(f.weak, "resp_w1", "weak");
    String own = "{\"model\":\"gpt-4o\",\"input\":\"hi\"}";
    HttpResponse<String> passed = respond(own);
    assertEquals(200, passed.statusCode(), passed.body());
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/responses")).withRequestBody(equalTo(own)));
    assertFalse(passed.headers().firstValue("x-routewise-router").isPresent());

    HttpResponse<String> routed = respond("{\"model\":\"router-random-1\",\"input\":\"hi\"}");
    assertEquals(200, routed.statusCode(), routed.body());
    assertEquals("weak weak-model", routed.headers().firstValue("x-routewise-model").orElseThrow());

    for (String held : new String[] {"\"previous_response_id\":\"resp_elsewhere\"", "\"conversation\":\"conv_1\"",
        "\"conversation\":{\"id\":\"conv_1\"}"}) {
      HttpResponse<String> r = respond("{\"model\":\"router-random-1\"," + held + ",\"input\":\"more\"}");
      assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow(), held);
    }
    // the upstream's own model name continuing a response routed to weak: only weak has it
    HttpResponse<String> continued = respond("{\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_w1\",\"input\":\"more\"}");
    assertEquals("weak weak-model", continued.headers().firstValue("x-routewise-model").orElseThrow());
    // one stored at the passthrough upstream itself passes through as it is
    HttpResponse<String> there = respond("{\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_s1\",\"input\":\"more\"}");
    assertFalse(there.headers().firstValue("x-routewise-router").isPresent());
    // and its retrieve goes to weak, where passthrough would have sent it to strong
    f.weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_w1")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(RESPONSE.formatted("resp_w1", "weak-model", "weak"))));
    assertEquals(200, f.get("/v1/responses/resp_w1").statusCode());
    f.weak.verify(WireMock.getRequestedFor(urlEqualTo("/v1/responses/resp_w1")));
    String m = metrics();
    assertEquals(2.0, MetricsEndpointTest.value(m, "routewise_passthrough_requests_total{status=\"200\",upstream=\"strong\"}"));
    assertEquals(2.0, MetricsEndpointTest.value(m,
        "routewise_requests_total{route=\"weak\",router=\"random\",status=\"200\"}"));
    assertEquals(3.0, MetricsEndpointTest.value(m,
        "routewise_requests_total{route=\"strong\",router=\"random\",status=\"200\"}"));
  }

  /**
   * A Responses stream passed through ends at its last event, as a routed one does: an upstream that
   * held it open after response.completed kept the client (and the SDK's loop) until the timeout,
   * which then got an error event after a whole answer.
   */
  @Test
  void aPassedThroughStreamEndsAtItsLastEvent() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong");
    String events = events("resp_p1", true);
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events + ": held open\n".repeat(4000))
        .withChunkedDribbleDelay(40, 10_000)));
    long start = System.nanoTime();
    HttpResponse<String> r = respond("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"stream\":true}");
    long tookMs = (System.nanoTime() - start) / 1_000_000;
    assertEquals(200, r.statusCode());
    assertTrue(r.body().startsWith(events), r.body());
    assertTrue(tookMs < 5_000, "ended at response.completed, not the upstream's end 10 s on: " + tookMs + " ms");
    assertTrue(r.headers().firstValue("x-routewise-model").isEmpty(), "passed through, not routed");
  }

  /** Retrieving, cancelling or deleting a stored response goes where it is stored (background mode polls so). */
  @Test
  void aStoredResponsesOwnEndpointsGoWhereItIsStored() throws Exception {
    f = new ProxyFixture("");
    answers(f.weak, "resp_w1", "weak");
    assertEquals(200, respond("{\"model\":\"router-random-1\",\"input\":\"hi\",\"background\":true}").statusCode());
    f.weak.stubFor(WireMock.any(WireMock.urlPathMatching("/v1/responses/resp_w1.*")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_w1\"}")));
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    for (String[] call : new String[][] {{"GET", "/v1/responses/resp_w1?include=x"}, {"DELETE", "/v1/responses/resp_w1"},
        {"POST", "/v1/responses/resp_w1/cancel"}, {"GET", "/v1/responses/resp_w1/input_items"}}) {
      HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(f.url(call[1])))
          .method(call[0], java.net.http.HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), call[1] + " " + r.body());
      assertEquals("{\"id\":\"resp_w1\"}", r.body());
    }
    f.weak.verify(WireMock.getRequestedFor(urlEqualTo("/v1/responses/resp_w1?include=x")));
    f.weak.verify(WireMock.deleteRequestedFor(urlEqualTo("/v1/responses/resp_w1")));
    f.weak.verify(postRequestedFor(urlEqualTo("/v1/responses/resp_w1/cancel")));
    HttpResponse<String> unknown = f.get("/v1/responses/resp_nowhere");
    assertEquals(404, unknown.statusCode());
    assertTrue(unknown.body().contains("\"code\":\"response_not_found\""), unknown.body());
    HttpResponse<String> head = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
        f.url("/v1/responses/resp_w1"))).method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(405, head.statusCode());
    assertEquals(0, f.strong.getAllServeEvents().size());
    assertEquals(4.0, MetricsEndpointTest.value(metrics(), "routewise_passthrough_requests_total{status=\"200\",upstream=\"weak\"}"));
  }

  /**
   * The calls to the upstream that stored a response (a background one's polls, its cancel, one that
   * broke off) are passthrough's, counted there: the chat upstream histograms keep the chat calls
   * alone, so a client polling every second neither drags the time-to-first-byte quantiles down nor
   * shows as a failed chat call ("kept out of the chat upstream histograms", README's metrics).
   */
  @Test
  void aStoredResponsesCallsStayOutOfTheChatUpstreamHistograms() throws Exception {
    f = new ProxyFixture("");
    answers(f.weak, "resp_w1", "weak");
    assertEquals(200, respond("{\"model\":\"router-random-1\",\"input\":\"hi\",\"background\":true}").statusCode());
    String before = metrics();
    assertEquals(1.0, MetricsEndpointTest.value(before, "routewise_upstream_ttfb_seconds_count{upstream=\"weak\"}"));
    f.weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_w1")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_w1\"}")));
    f.weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_w1/input_items")).willReturn(aResponse()
        .withFault(com.github.tomakehurst.wiremock.http.Fault.CONNECTION_RESET_BY_PEER)));
    for (int i = 0; i < 3; i++) {
      assertEquals(200, f.get("/v1/responses/resp_w1").statusCode());
    }
    assertEquals(502, f.get("/v1/responses/resp_w1/input_items").statusCode());
    String after = metrics();
    assertEquals(3.0, MetricsEndpointTest.value(after, "routewise_passthrough_requests_total{status=\"200\",upstream=\"weak\"}"));
    assertEquals(1.0, MetricsEndpointTest.value(after, "routewise_passthrough_requests_total{status=\"502\",upstream=\"weak\"}"));
    assertEquals(1.0, MetricsEndpointTest.value(after, "routewise_upstream_ttfb_seconds_count{upstream=\"weak\"}"),
        "the polls are not chat calls");
    assertEquals(before.lines().filter(l -> l.startsWith("routewise_upstream_duration_seconds_count")).toList(),
        after.lines().filter(l -> l.startsWith("routewise_upstream_duration_seconds_count")).toList(),
        "a poll that broke off is no failed chat call");
  }

  /**
   * A Responses object that says it failed ({@code status: failed}, its {@code error} set, no usage)
   * is OpenAI's own answer, which the SDKs return as a response to read: relayed as it came (its id
   * stored), counted unmetered. It was taken for a gateway's error under a 200 and answered 502
   * upstream_invalid_response, which the SDKs raise, the response's id and error code lost.
   */
  @Test
  void aFailedResponseObjectIsRelayedAsItCame() throws Exception {
    f = new ProxyFixture("");
    String failed = "{\"id\":\"resp_f1\",\"object\":\"response\",\"created_at\":1,\"status\":\"failed\","
        + "\"error\":{\"code\":\"server_error\",\"message\":\"The model failed to generate a response.\"},"
        + "\"incomplete_details\":null,\"model\":\"strong-model\",\"output\":[],\"usage\":null}";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(failed)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"hi\"}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(failed, r.body());
    assertEquals(1.0, MetricsEndpointTest.value(metrics(), "routewise_answers_unmetered_total{upstream=\"strong\"}"));
    f.strong.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_f1")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(failed)));
    assertEquals(200, f.get("/v1/responses/resp_f1").statusCode(), "its id is stored: retrieved where it is");
  }

  @Test
  void aFailedUpstreamFailsOverToTheOthersResponses() throws Exception {
    f = ProxyFixture.withRouting("", "failover: true");
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"overloaded\"}}")));
    answers(f.strong, "resp_s1", "strong");
    HttpResponse<String> r = respond("{\"model\":\"router-random-1\",\"input\":\"hi\"}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("weak 5xx", r.headers().firstValue("x-routewise-failover").orElseThrow());
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/responses")).withRequestBody(matchingJsonPath("$.model",
        equalTo("strong-model"))));
  }

  @Test
  void whatRoutingReadsIsCheckedAndABadNameIsA400() throws Exception {
    f = new ProxyFixture("");
    String[][] cases = {
        {"{\"model\":\"router-random-0\",\"input\":42}", "input"},
        {"{\"model\":\"router-random-0\",\"input\":[\"hi\"]}", "input[0]"},
        {"{\"model\":\"router-random-0\",\"input\":[{\"role\":7,\"content\":\"hi\"}]}", "input[0].role"},
        {"{\"model\":\"router-random-0\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":1}]}]}",
            "input[0].content[0].text"},
        {"{\"model\":\"router-random-0\",\"input\":\"a\",\"input\":\"b\"}", "input"},
        {"{\"model\":\"router-random-0\",\"input\":\"a\",\"previous_response_id\":5}", "previous_response_id"},
        {"{\"model\":\"router-nope-0.5\",\"input\":\"a\"}", "model"},
    };
    for (String[] c : cases) {
      HttpResponse<String> r = respond(c[0]);
      assertEquals(400, r.statusCode(), c[0]);
      assertTrue(r.body().contains("\"param\":\"" + c[1] + "\""), c[0] + " -> " + r.body());
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /**
   * With passthrough serving responses, a router- name that is not valid (no such router, a bad α,
   * auto without a target, the prefix in another case) went to the upstream as if it were one of its
   * models, to come back as the upstream's "model not found"; chat, /v1/route, a Responses request
   * without passthrough and GET /v1/models/{id} all take it as a typo of routewise's own.
   */
  @Test
  void withPassthroughAMalformedRouterNameIsA400AsOnChat() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong");
    answers(f.strong, "resp_s1", "strong");
    for (String model : new String[] {"router-nope-0.5", "router-random-2", "router-random-auto", "ROUTER-random-0.5"}) {
      HttpResponse<String> r = respond("{\"model\":\"" + model + "\",\"input\":\"a\"}");
      assertEquals(400, r.statusCode(), model + " -> " + r.body());
      assertTrue(r.body().contains("\"param\":\"model\"") && r.body().contains("\"code\":\"model_not_found\""),
          model + " -> " + r.body());
      HttpResponse<String> chat = f.chat(model, "a");
      assertEquals(400, chat.statusCode(), model);
      assertEquals(OpenAiErrorsMessage.of(chat.body()), OpenAiErrorsMessage.of(r.body()), "as chat says it: " + model);
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /** The message of an error body. */
  private static final class OpenAiErrorsMessage {
    static String of(String body) throws Exception {
      return new com.fasterxml.jackson.databind.ObjectMapper().readTree(body).path("error").path("message").asText();
    }
  }

  /** /v1/route answers for a Responses body too: the router's decision on the same prompt. */
  @Test
  void theRouteEndpointReadsAResponsesBody() throws Exception {
    f = new ProxyFixture("routers: {scored: {}}");
    HttpResponse<String> r = f.post("/v1/route", "{\"model\":\"router-scored-0.5\",\"instructions\":\"0.1\","
        + "\"input\":[{\"role\":\"user\",\"content\":\"0.2\"},{\"role\":\"user\",\"content\":[{\"type\":"
        + "\"input_text\",\"text\":\"0.75\"}]}]}");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"strong_win_rate\":0.75") && r.body().contains("\"upstream\":\"strong\""), r.body());
    HttpResponse<String> chat = f.post("/v1/route", "{\"model\":\"router-scored-0.5\",\"input\":\"x\","
        + "\"messages\":[{\"role\":\"user\",\"content\":\"0.25\"}]}");
    assertTrue(chat.body().contains("\"strong_win_rate\":0.25"), "messages: a chat body: " + chat.body());
    assertEquals(400, f.post("/v1/route", "{\"model\":\"router-scored-0.5\",\"input\":7}").statusCode());
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /** Without passthrough, every model name is routed, as on chat: another name takes the default router. */
  @Test
  void withoutPassthroughAnyModelIsRouted() throws Exception {
    f = new ProxyFixture("");
    answers(f.strong, "resp_s1", "strong");
    answers(f.weak, "resp_w1", "weak");
    HttpResponse<String> r = respond("{\"model\":\"gpt-4o\",\"input\":\"hi\"}");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("random", r.headers().firstValue("x-routewise-router").orElseThrow());
    WireMockServer served = r.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong") ? f.strong : f.weak;
    served.verify(postRequestedFor(urlEqualTo("/v1/responses")).withRequestBody(matchingJsonPath("$.model",
        WireMock.matching("(strong|weak)-model"))));
    HttpResponse<String> get = f.get("/v1/responses");
    assertEquals(405, get.statusCode(), get.body());
    assertEquals("POST", get.headers().firstValue("allow").orElseThrow());
  }

  /**
   * vLLM's events put {@code type} last (pydantic's field order), and its response.completed echoes
   * the request's instructions and tools: an agent's passes 64 KiB however short the answer. The
   * whole stream must reach the client as it came, with no error event after it, its usage counted.
   */
  @Test
  void aVllmStreamWithALongLastEventIsWhole() throws Exception {
    f = new ProxyFixture("");
    String instructions = "i".repeat(70_000);
    String events = "event: response.created\ndata: {\"response\":{\"id\":\"resp_v1\",\"instructions\":\""
        + instructions + "\",\"usage\":null},\"sequence_number\":0,\"type\":\"response.created\"}\n\n"
        + "event: response.output_text.delta\ndata: {\"content_index\":0,\"delta\":\"Hi\",\"item_id\":\"m\","
        + "\"output_index\":0,\"sequence_number\":1,\"type\":\"response.output_text.delta\"}\n\n"
        + "event: response.completed\ndata: {\"response\":{\"id\":\"resp_v1\",\"instructions\":\"" + instructions
        + "\",\"output\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":2,\"total_tokens\":11},\"user\":null},"
        + "\"sequence_number\":2,\"type\":\"response.completed\"}\n\n";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hi\",\"stream\":true}");

    assertEquals(200, r.statusCode());
    assertFalse(r.body().contains("upstream_stream_failed"), "a false error event after a whole answer");
    assertEquals(events, r.body());
    assertEquals(9.0, tokens(metrics(), "strong", "prompt"));
  }

  /**
   * An event's data may span several {@code data:} lines (the SSE format joins them with a newline; a
   * server writing indented JSON through a library that splits data at newlines sends its events so):
   * a response.completed so written is the stream's end, its usage counted, no error event after it.
   */
  @Test
  void aLastEventWhoseDataSpansSeveralLinesIsWhole() throws Exception {
    f = new ProxyFixture("");
    String whole = events("resp_m1", true);
    int usageAt = whole.lastIndexOf("\"usage\"");
    String events = whole.substring(0, usageAt) + "\ndata: " + whole.substring(usageAt);
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");

    assertEquals(200, r.statusCode());
    assertFalse(r.body().contains("upstream_stream_failed"), "a false error event after a whole answer: " + r.body());
    assertEquals(events, r.body());
    String m = metrics();
    assertEquals(9.0, tokens(m, "strong", "prompt"));
    assertEquals(2.0, tokens(m, "strong", "completion"));
  }

  /**
   * A stream whose connection closed part way through its response.completed line: the SDKs never
   * see that event (one is dispatched at its blank line), so the client must hear of the cut.
   */
  @Test
  void aStreamCutInsideItsCompletedEventEndsWithAnErrorEvent() throws Exception {
    f = new ProxyFixture("");
    String whole = events("resp_c2", true);
    String cut = whole.substring(0, whole.indexOf("\"usage\":{"));
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(cut)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hello\",\"stream\":true}");

    assertEquals(200, r.statusCode());
    assertTrue(r.body().contains("upstream_stream_failed"), r.body());
    assertTrue(metrics().contains("routewise_upstream_duration_seconds_count{outcome=\"stream_failed\",upstream=\"strong\"} 1"));
  }

  /** vLLM's long last event with no line end after it: ended for the SDKs, and no error event after a whole answer. */
  @Test
  void aLongLastEventWithoutItsLineEndIsEndedNotCut() throws Exception {
    f = new ProxyFixture("");
    String events = "event: response.completed\ndata: {\"response\":{\"id\":\"resp_v2\",\"instructions\":\""
        + "i".repeat(70_000) + "\",\"output\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":2,"
        + "\"total_tokens\":11},\"user\":null},\"sequence_number\":2,\"type\":\"response.completed\"}";
    f.strong.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events)));
    HttpResponse<String> r = respond("{\"model\":\"router-random-0\",\"input\":\"Say hi\",\"stream\":true}");
    assertFalse(r.body().contains("upstream_stream_failed"), "a false error event after a whole answer");
    assertEquals(events + "\n\n", r.body());
    assertEquals(9.0, tokens(metrics(), "strong", "prompt"));
  }
}
