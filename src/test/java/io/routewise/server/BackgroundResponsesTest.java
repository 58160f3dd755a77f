package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.client.WireMock;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A {@code background: true} response answers at once, queued, before its usage exists; the client
 * then polls it (or cancels it) until it is done. Its tokens and dollars are counted from the first
 * poll relayed here that shows it done, once. Before, they were counted nowhere.
 */
class BackgroundResponsesTest {
  private ProxyFixture f;

  @AfterEach
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  private static String response(String id, String status, String usage, String text) {
    return "{\"id\":\"" + id + "\",\"object\":\"response\",\"created_at\":1,\"status\":\"" + status + "\","
        + "\"background\":true,\"error\":null,\"model\":\"weak-model\",\"output\":[" + (text == null ? "" : "{\"type\":"
        + "\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"" + text
        + "\",\"annotations\":[],\"usage\":{\"input_tokens\":999}}]}") + "],\"usage\":" + usage + ",\"metadata\":{}}";
  }

  private static final String USAGE = "{\"input_tokens\":120,\"input_tokens_details\":{\"cached_tokens\":20},"
      + "\"output_tokens\":30,\"output_tokens_details\":{\"reasoning_tokens\":10},\"total_tokens\":150}";

  /** Starts resp_bg1 in the background on weak; polls of it answer {@code poll}. */
  private void startBackground(String id) throws Exception {
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(response(id, "queued", "null", null))));
    HttpResponse<String> r = f.post("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"a long task\","
        + "\"background\":true}");
    assertEquals(200, r.statusCode(), r.body());
  }

  private void polls(String path, String method, String contentType, String body) {
    f.weak.stubFor(WireMock.request(method, urlPathEqualTo(path)).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", contentType).withBody(body).withChunkedDribbleDelay(4, 40)));
  }

  private HttpResponse<String> call(String method, String path) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).method(method, HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  private double metric(String name) throws Exception {
    return MetricsEndpointTest.value(f.get("/metrics").body(), name);
  }

  private double tokens(String type) throws Exception {
    return metric("routewise_tokens_total{type=\"" + type + "\",upstream=\"weak\"}");
  }

  @Test
  void aBackgroundResponsesUsageIsCountedOnceFromThePollThatShowsItDone() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg1");
    assertEquals(0.0, tokens("prompt"));
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"), "awaited, not unmetered");

    polls("/v1/responses/resp_bg1", "GET", "application/json", response("resp_bg1", "in_progress", "null", null));
    HttpResponse<String> under = call("GET", "/v1/responses/resp_bg1");
    assertEquals(200, under.statusCode(), under.body());
    assertEquals(0.0, tokens("prompt"), "not done: no usage yet");

    // a long answer, in small pieces, with an inner "usage" that is not the response's
    String done = response("resp_bg1", "completed", USAGE, "x".repeat(200_000));
    polls("/v1/responses/resp_bg1", "GET", "application/json", done);
    HttpResponse<String> r = call("GET", "/v1/responses/resp_bg1");
    assertEquals(done, r.body(), "relayed as it came");
    assertEquals(120.0, tokens("prompt"));
    assertEquals(30.0, tokens("completion"));

    call("GET", "/v1/responses/resp_bg1");
    assertEquals(120.0, tokens("prompt"), "a second poll counts nothing more");
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"));
  }

  @Test
  void aCancelThatShowsUsageCountsIt() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg2");
    polls("/v1/responses/resp_bg2/cancel", "POST", "application/json", response("resp_bg2", "cancelled", USAGE, null));
    assertEquals(200, call("POST", "/v1/responses/resp_bg2/cancel").statusCode());
    assertEquals(120.0, tokens("prompt"));
  }

  @Test
  void aResumedStreamsCompletedEventCountsIt() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg3");
    String events = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        + "\"sequence_number\":5,\"delta\":\"lo\"}\n\n"
        + "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":6,\"response\":"
        + response("resp_bg3", "completed", USAGE, "hello") + "}\n\n";
    polls("/v1/responses/resp_bg3", "GET", "text/event-stream", events);
    HttpResponse<String> r = call("GET", "/v1/responses/resp_bg3?stream=true&starting_after=4");
    assertEquals(events, r.body());
    assertEquals(120.0, tokens("prompt"));
  }

  /** Counted, and ended, at its completed event: an upstream may hold the stream open after it. */
  @Test
  void aResumedStreamIsCountedAtItsCompletedEventNotItsEnd() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg6");
    String events = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":6,"
        + "\"response\":" + response("resp_bg6", "completed", USAGE, "hello") + "}\n\n";
    f.weak.stubFor(WireMock.get(urlPathEqualTo("/v1/responses/resp_bg6")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(events + ": held open\n".repeat(2000))
        .withChunkedDribbleDelay(20, 8000)));
    long start = System.nanoTime();
    HttpResponse<String> r = call("GET", "/v1/responses/resp_bg6?stream=true");
    assertTrue(System.nanoTime() - start < 5_000_000_000L, "ended at its completed event, not 8 s on");
    assertTrue(r.body().startsWith(events), r.body());
    assertEquals(120.0, tokens("prompt"), "once");
  }

  /**
   * A background stream that broke off (the response goes on upstream) is counted when the client
   * resumes or polls it; a stream that was not background and broke off is not awaited.
   */
  @Test
  void aBackgroundStreamThatBrokeOffIsCountedFromItsPoll() throws Exception {
    f = new ProxyFixture("");
    for (String id : new String[] {"resp_bg5", "resp_fg5"}) {
      f.weak.stubFor(post(urlEqualTo("/v1/responses")).withRequestBody(WireMock.containing(id)).willReturn(aResponse()
          .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events(id, false))));
      boolean background = id.startsWith("resp_bg");
      HttpResponse<String> r = f.post("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"" + id + "\","
          + "\"stream\":true" + (background ? ",\"background\":true" : "") + "}");
      assertEquals(200, r.statusCode());
      assertTrue(r.body().contains("upstream_stream_failed"), r.body());
      polls("/v1/responses/" + id, "GET", "application/json", response(id, "completed", USAGE, "done"));
      call("GET", "/v1/responses/" + id);
    }
    assertEquals(120.0, tokens("prompt"), "the background one's alone");
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"));
  }

  /** A cancel may answer cancelled without usage and a later poll completed with it (seen on Azure). */
  @Test
  void aCancelWithoutUsageLeavesItAwaited() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg9");
    polls("/v1/responses/resp_bg9/cancel", "POST", "application/json", response("resp_bg9", "cancelled", "null", null));
    assertEquals(200, call("POST", "/v1/responses/resp_bg9/cancel").statusCode());
    polls("/v1/responses/resp_bg9", "GET", "application/json", response("resp_bg9", "completed", USAGE, "done"));
    assertEquals(200, call("GET", "/v1/responses/resp_bg9").statusCode());
    assertEquals(120.0, tokens("prompt"), "its spend");
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"));
  }

  /** A poll naming the id percent-encoded is the same response, routed and counted as such (a review's case). */
  @Test
  void aPollWithAPercentEncodedIdIsCounted() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg7");
    f.weak.stubFor(WireMock.get(WireMock.urlPathMatching("/v1/responses/resp(_|%5F)bg7")).willReturn(aResponse()
        .withStatus(200).withHeader("Content-Type", "application/json")
        .withBody(response("resp_bg7", "completed", USAGE, "done"))));
    assertEquals(200, call("GET", "/v1/responses/resp%5Fbg7").statusCode());
    assertEquals(120.0, tokens("prompt"));
  }

  /**
   * Awaited from its response.created, not from when the relay notices its client left: a resume or
   * poll that comes first still counts it (a trial's case: resumed at once, it was counted nowhere).
   */
  @Test
  void aBackgroundStreamIsAwaitedFromItsFirstEvent() throws Exception {
    f = new ProxyFixture("");
    f.weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_bg8", false)
            + ": working\n".repeat(300)).withChunkedDribbleDelay(30, 5_000)));
    var stream = f.http.sendAsync(HttpRequest.newBuilder(URI.create(f.url("/v1/responses")))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-random-1\",\"input\":\"x\",\"stream\":true,\"background\":true}")).build(),
        HttpResponse.BodyHandlers.ofString());
    Thread.sleep(1_000); // response.created has gone by; the stream goes on
    polls("/v1/responses/resp_bg8", "GET", "application/json", response("resp_bg8", "completed", USAGE, "done"));
    assertEquals(200, call("GET", "/v1/responses/resp_bg8").statusCode());
    assertTrue(!stream.isDone(), "counted while its first stream still ran");
    assertEquals(120.0, tokens("prompt"));
    stream.get(); // it ends cut: nothing more counted
    assertEquals(120.0, tokens("prompt"));
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"));
  }

  /** A resumed stream that carries only [DONE] says nothing of the response: it stays awaited. */
  @Test
  void aResumedStreamOfOnlyDoneLeavesItAwaited() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg10");
    polls("/v1/responses/resp_bg10", "GET", "text/event-stream", "data: [DONE]\n\n");
    assertEquals(200, call("GET", "/v1/responses/resp_bg10?stream=true&starting_after=999").statusCode());
    polls("/v1/responses/resp_bg10", "GET", "application/json", response("resp_bg10", "completed", USAGE, "done"));
    call("GET", "/v1/responses/resp_bg10");
    assertEquals(120.0, tokens("prompt"));
    assertEquals(0.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"));
  }

  @Test
  void oneThatFailedWithoutUsageIsUnmetered() throws Exception {
    f = new ProxyFixture("");
    startBackground("resp_bg4");
    polls("/v1/responses/resp_bg4", "GET", "application/json", response("resp_bg4", "failed", "null", null));
    call("GET", "/v1/responses/resp_bg4");
    call("GET", "/v1/responses/resp_bg4");
    assertEquals(0.0, tokens("prompt"));
    assertEquals(1.0, metric("routewise_answers_unmetered_total{upstream=\"weak\"}"), "once");
  }

  /** A response that answered done at once (no background) is counted then, and its polls never again. */
  @Test
  void aResponseCountedWhenAnsweredIsNotCountedAgainByItsPolls() throws Exception {
    f = new ProxyFixture("");
    ResponsesRoutingTest.answers(f.weak, "resp_w1", "weak");
    assertEquals(200, f.post("/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"hi\"}").statusCode());
    assertEquals(12.0, tokens("prompt"));
    polls("/v1/responses/resp_w1", "GET", "application/json", response("resp_w1", "completed", USAGE, null));
    HttpResponse<String> r = call("GET", "/v1/responses/resp_w1");
    assertEquals(200, r.statusCode());
    assertEquals(12.0, tokens("prompt"));
  }
}
