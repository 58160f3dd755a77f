package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code routing.passthrough}: the other OpenAI endpoints reach one upstream unchanged. */
class PassthroughTest {
  private final WireMockServer strong = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final WireMockServer weak = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final HttpClient http = HttpClient.newHttpClient();
  private Routewise rw;

  private void start(String passthrough) {
    strong.start();
    weak.start();
    String yaml = TestConfigs.yaml(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", "");
    if (passthrough != null) {
      yaml = TestConfigs.withRouting(yaml, "passthrough: " + passthrough);
    }
    rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
  }

  @AfterEach
  void stop() {
    if (rw != null) {
      rw.close();
    }
    strong.stop();
    weak.stop();
  }

  private HttpResponse<byte[]> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.header("Authorization", "Bearer sk-client-key").build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private HttpRequest.Builder to(String pathAndQuery) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + rw.port() + pathAndQuery));
  }

  @Test
  void embeddingsGoToTheConfiguredUpstreamAsTheClientSentThem() throws Exception {
    start("weak");
    byte[] answer = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.1,-0.2]}]}"
        .getBytes(StandardCharsets.UTF_8);
    weak.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withHeader("x-request-id", "req-emb").withBody(answer)));
    String body = "{\"model\":\"text-embedding-3-small\",\"input\":\"hello\",\"encoding_format\":\"float\"}";

    HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .POST(HttpRequest.BodyPublishers.ofString(body)));

    assertEquals(200, r.statusCode());
    assertArrayEquals(answer, r.body());
    assertEquals("req-emb", r.headers().firstValue("x-request-id").orElseThrow());
    weak.verify(postRequestedFor(urlEqualTo("/v1/embeddings"))
        .withRequestBody(equalTo(body)) // the model is the client's: nothing is routed here
        .withHeader("Authorization", absent()) // the weak upstream's api_key is none; the client's stays here
        .withHeader("traceparent", equalTo("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")));
    assertEquals(0, strong.getAllServeEvents().size());
    String metrics = new String(send(to("/metrics").GET()).body(), StandardCharsets.UTF_8);
    assertTrue(metrics.contains("routewise_passthrough_requests_total{status=\"200\",upstream=\"weak\"} 1.0"), metrics);
  }

  @Test
  void pathQueryMethodAndUpstreamErrorsComeThroughAndTheUpstreamKeyIsUsed() throws Exception {
    start("strong");
    strong.stubFor(WireMock.get(urlEqualTo("/v1/files/file-abc/content?x=1&y=%2F"))
        .willReturn(aResponse().withHeader("Content-Type", "application/octet-stream")
            .withHeader("Content-Disposition", "attachment; filename=\"data.jsonl\"").withBody(new byte[] {1, 2, 3})));
    strong.stubFor(WireMock.delete(urlEqualTo("/v1/files/file-gone"))
        .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "application/json")
            .withBody("{\"error\":{\"message\":\"No such File object: file-gone\",\"type\":\"invalid_request_error\",\"param\":\"id\",\"code\":null}}")));

    HttpResponse<byte[]> file = send(to("/v1/files/file-abc/content?x=1&y=%2F").GET());
    HttpResponse<byte[]> gone = send(to("/v1/files/file-gone").DELETE());

    assertEquals(200, file.statusCode());
    assertArrayEquals(new byte[] {1, 2, 3}, file.body());
    assertEquals("attachment; filename=\"data.jsonl\"", file.headers().firstValue("content-disposition").orElseThrow());
    assertEquals(404, gone.statusCode());
    assertTrue(new String(gone.body(), StandardCharsets.UTF_8).contains("No such File object"));
    strong.verify(2, anyRequestedFor(anyUrl()).withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  @Test
  void aStreamedResponseArrivesAsEvents() throws Exception {
    start("strong");
    String events = "event: response.created\ndata: {\"type\":\"response.created\"}\n\n"
        + "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
    strong.stubFor(WireMock.post(urlEqualTo("/v1/responses")).willReturn(aResponse()
        .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(2, 600)));

    HttpResponse<java.io.InputStream> r = http.send(to("/v1/responses").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"stream\":true}"))
        .build(), HttpResponse.BodyHandlers.ofInputStream());
    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
    long start = System.nanoTime();
    long firstAt = -1;
    try (java.io.InputStream in = r.body()) {
      byte[] buf = new byte[4096];
      for (int n; (n = in.read(buf)) > 0; ) {
        firstAt = firstAt < 0 ? System.nanoTime() : firstAt;
        got.write(buf, 0, n);
      }
    }
    long endAt = System.nanoTime();

    assertEquals(200, r.statusCode());
    assertEquals("text/event-stream", r.headers().firstValue("content-type").orElseThrow());
    assertEquals("no-cache", r.headers().firstValue("cache-control").orElseThrow());
    assertEquals(events, got.toString(StandardCharsets.UTF_8));
    // the upstream sends its second half ~300 ms after its first: the first must not wait for it
    assertTrue(endAt - firstAt > 150_000_000L, "first bytes after " + (firstAt - start) / 1_000_000
        + " ms, the end after " + (endAt - start) / 1_000_000 + " ms");
  }

  @Test
  void routewisesOwnEndpointsAndDotSegmentsAreNotPassedOn() throws Exception {
    start("strong");
    strong.stubFor(WireMock.any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("upstream")));

    assertEquals(405, send(to("/v1/chat/completions").GET()).statusCode());
    assertEquals(405, send(to("/v1/models").POST(HttpRequest.BodyPublishers.ofString("{}"))).statusCode());
    assertEquals(400, send(to("/v1/deployments/%2e%2e/%2E%2E/admin").GET()).statusCode());
    assertEquals(200, send(to("/v1/models").GET()).statusCode()); // routewise's own list
    assertEquals(0, strong.getAllServeEvents().size());
  }

  @Test
  void withoutPassthroughOtherEndpointsAre404s() throws Exception {
    start(null);
    HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\"}")));
    assertEquals(404, r.statusCode());
    assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("\"code\":\"unknown_url\""));
    assertEquals(0, strong.getAllServeEvents().size() + weak.getAllServeEvents().size());
  }
}
