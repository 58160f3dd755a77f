package io.routewise.server;

import io.routewise.StderrCapture;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
  private com.sun.net.httpserver.HttpServer handwritten;

  private void start(String passthrough) {
    start(passthrough, "/v1");
  }

  private void start(String passthrough, String strongRoot) {
    start(passthrough, strongRoot, "");
  }

  private void start(String passthrough, String strongRoot, String routingKeys) {
    strong.start();
    weak.start();
    String yaml = TestConfigs.yaml(strong.baseUrl() + strongRoot, weak.baseUrl() + "/v1", "");
    if (passthrough != null) {
      yaml = TestConfigs.withRouting(yaml, "passthrough: " + passthrough + routingKeys);
    }
    yaml = TestConfigs.withServer(yaml, "access_log: true");
    rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
  }

  @AfterEach
  void stop() {
    if (rw != null) {
      rw.close();
    }
    if (handwritten != null) {
      handwritten.stop(0);
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

    HttpResponse<byte[]> r;
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      r = send(to("/v1/embeddings").header("Content-Type", "application/json")
          .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
          .POST(HttpRequest.BodyPublishers.ofString(body)));
      for (int i = 0; i < 100 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      logged = log.text();
    }
    assertTrue(logged.contains("POST /v1/embeddings 200 ms=") && logged.contains(" passthrough=weak request_id=req-emb"),
        logged);

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
    assertTrue(metrics.contains("routewise_passthrough_duration_seconds_count{upstream=\"weak\"} 1"), metrics);
  }

  /** A compressed body keeps its Content-Encoding, without which the upstream could not read it. */
  /**
   * A charset Java does not know made reading the type throw: routewise's own 500 and a stack trace in
   * the log (a security trial). Now the type goes upstream as it came (WireMock itself answers 500 to it).
   */
  @Test
  void aContentTypeWithAnUnknownCharsetGoesAsItCame() throws Exception {
    start("weak");
    weak.stubFor(WireMock.any(WireMock.anyUrl()).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{}")));
    String[] types = {"text/plain; charset=x-nope", "text/plain; charset=@@@", "text/plain; charset=\""};
    String last = "";
    for (String type : types) {
      String logged;
      try (StderrCapture log = new StderrCapture()) {
        HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", type)
            .POST(HttpRequest.BodyPublishers.ofString("{}")));
        send(to("/v1/files").header("Content-Type", type).GET());
        logged = log.text() + " " + r.statusCode();
      }
      assertFalse(logged.contains("unexpected error"), logged); // routewise's own 500
      last = logged;
    }
    assertTrue(last.contains("passthrough=weak"), "relayed: " + last);
  }

  /**
   * A type OkHttp's parser refuses (white space before ';', which RFC 9110 allows; a form's boundary
   * with '=' or ':', as MIME libraries write them) still goes upstream: it had been dropped, so the
   * upstream got a form without the boundary it needs to read it.
   */
  @Test
  void aContentTypeOkHttpCannotParseStillGoesAsItCame() throws Exception {
    start("weak");
    weak.stubFor(WireMock.any(WireMock.anyUrl()).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{}")));
    String[] types = {"application/json ; charset=utf-8", "multipart/form-data; boundary=----=_Part_0_1.2",
        "multipart/form-data; boundary=a:b"};
    for (String type : types) {
      weak.resetRequests();
      HttpResponse<byte[]> r = send(to("/v1/files").header("Content-Type", type)
          .POST(HttpRequest.BodyPublishers.ofString("x")));
      assertEquals(200, r.statusCode());
      weak.verify(postRequestedFor(urlEqualTo("/v1/files")).withHeader("Content-Type", equalTo(type)));
    }
  }

  @Test
  void aCompressedBodyGoesWithItsContentEncoding() throws Exception {
    start("weak");
    weak.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{}")));
    byte[] packed = {31, -117, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}; // gzip of nothing
    HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip").POST(HttpRequest.BodyPublishers.ofByteArray(packed)));
    assertEquals(200, r.statusCode());
    weak.verify(postRequestedFor(urlEqualTo("/v1/embeddings")).withHeader("Content-Encoding", equalTo("gzip")));

    // every Content-Encoding line goes: only the first went, "identity", and the upstream could not read the body
    weak.resetRequests();
    r = send(to("/v1/embeddings").header("Content-Type", "application/json").header("Content-Encoding", "identity")
        .header("Content-Encoding", "gzip").POST(HttpRequest.BodyPublishers.ofByteArray(packed)));
    assertEquals(200, r.statusCode());
    weak.verify(postRequestedFor(urlEqualTo("/v1/embeddings"))
        .withHeader("Content-Encoding", WireMock.equalTo("identity, gzip")));
  }

  /**
   * A body under a transfer coding other than chunked ({@code Transfer-Encoding: gzip, chunked}): the HTTP
   * server undoes only the chunks, so the upstream was sent the compressed bytes as plain JSON, with
   * nothing saying they are compressed. Now a 501 (RFC 9112 6.1), the upstream not asked.
   */
  @Test
  void aBodyUnderATransferCodingOtherThanChunkedIsA501NotSentOnCompressed() throws Exception {
    start("weak");
    weak.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{}")));
    java.io.ByteArrayOutputStream packed = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(packed)) {
      z.write("{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}".getBytes(StandardCharsets.UTF_8));
    }
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", rw.port())) {
      s.setSoTimeout(10_000);
      java.io.OutputStream out = s.getOutputStream();
      out.write(("POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Transfer-Encoding: gzip, chunked\r\n\r\n" + Integer.toHexString(packed.size()) + "\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.write(packed.toByteArray());
      out.write("\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      byte[] body = s.getInputStream().readNBytes(io.routewise.RawHttp.contentLength(head));
      assertTrue(head.startsWith("HTTP/1.1 501"), head + new String(body, StandardCharsets.UTF_8));
      assertTrue(new String(body, StandardCharsets.UTF_8).contains("\"code\":\"unsupported_transfer_encoding\""),
          new String(body, StandardCharsets.UTF_8));
    }
    assertEquals(0, weak.getAllServeEvents().size());
  }

  /**
   * With passthrough_endpoints, only those paths (and what lies below them) reach the upstream:
   * the account's files, batches and fine-tunes, shared by every client key, stay out of reach.
   */
  @Test
  void onlyTheListedEndpointsArePassedThrough() throws Exception {
    start("weak", "/v1", ", passthrough_endpoints: [embeddings, audio/transcriptions]");
    weak.stubFor(WireMock.any(WireMock.anyUrl()).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{}")));
    assertEquals(200, send(to("/v1/embeddings").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{}"))).statusCode());
    assertEquals(200, send(to("/v1/audio/transcriptions").POST(HttpRequest.BodyPublishers.ofString("x"))).statusCode());
    for (String path : new String[] {"/v1/files", "/v1/files/file-1/content", "/v1/Files", "/v1/%66iles",
        "/v1/audio/speech", "/v1/embeddingsx", "/v1/batches"}) {
      HttpResponse<byte[]> r = send(to(path).GET());
      assertEquals(404, r.statusCode(), path);
      assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("\"code\":\"unknown_url\""), path);
    }
    // models left out: a model routewise does not know is its own 404, as without passthrough
    HttpResponse<byte[]> unknownModel = send(to("/v1/models/foo").GET());
    assertEquals(404, unknownModel.statusCode());
    assertTrue(new String(unknownModel.body(), StandardCharsets.UTF_8).contains("\"code\":\"model_not_found\""));
    assertEquals(405, send(to("/v1/chat/completions").GET()).statusCode(), "stored completions are not served either");
    assertEquals(2, weak.getAllServeEvents().size());
  }

  /** A redirect is not followed (the key would go with it) nor passed on without its Location: a 502, as on chat. */
  @Test
  void aRedirectOnPassthroughIsA502() throws Exception {
    start("strong");
    strong.stubFor(WireMock.get(WireMock.urlPathEqualTo("/v1/files")).willReturn(aResponse().withStatus(307)
        .withHeader("Location", "https://elsewhere.example/v1/files")));
    HttpResponse<byte[]> r = send(to("/v1/files").GET());
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertEquals(502, r.statusCode(), body);
    assertTrue(body.contains("\"code\":\"upstream_invalid_response\""), body);
    assertTrue(body.contains("answered a redirect (HTTP 307)"), body);
  }

  /**
   * OpenAI's stored completions (chat with {@code store: true}): the SDK lists them with GET on chat's
   * own path, and retrieves one below it. The retrieve went through while the list was a 405.
   */
  @Test
  void storedCompletionsAreListedWhereTheyAreRetrieved() throws Exception {
    start("strong");
    strong.stubFor(WireMock.get(WireMock.urlPathEqualTo("/v1/chat/completions")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[]}")));
    strong.stubFor(WireMock.get(WireMock.urlPathEqualTo("/v1/chat/completions/chatcmpl-1")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"chatcmpl-1\"}")));
    HttpResponse<byte[]> list = send(to("/v1/chat/completions?limit=2&model=gpt-4o").GET());
    assertEquals(200, list.statusCode(), new String(list.body(), StandardCharsets.UTF_8));
    assertEquals("{\"object\":\"list\",\"data\":[]}", new String(list.body(), StandardCharsets.UTF_8));
    assertEquals(200, send(to("/v1/chat/completions/chatcmpl-1").GET()).statusCode());
    strong.verify(WireMock.getRequestedFor(WireMock.urlEqualTo("/v1/chat/completions?limit=2&model=gpt-4o")));
    assertEquals(405, send(to("/v1/chat/completions").DELETE()).statusCode(), "only the list: chat itself is routed");
  }

  /**
   * A passthrough to a hand-written upstream (for answers WireMock cannot shape: a pause or a break
   * part way) at {@code /v1/files/file-1/content}; stopped after the test.
   */
  private void startWithFileUpstream(com.sun.net.httpserver.HttpHandler answer) throws Exception {
    startWithHandwrittenUpstream("/v1/files/file-1/content", answer);
  }

  /** {@link #startWithFileUpstream}, answering at {@code path}. */
  private void startWithHandwrittenUpstream(String path, com.sun.net.httpserver.HttpHandler answer) throws Exception {
    com.sun.net.httpserver.HttpServer upstream = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    upstream.createContext(path, answer);
    upstream.start();
    handwritten = upstream;
    strong.start();
    weak.start();
    String yaml = TestConfigs.withRouting(TestConfigs.yaml(strong.baseUrl() + "/v1",
        "http://127.0.0.1:" + upstream.getAddress().getPort() + "/v1", ""), "passthrough: weak");
    rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
  }

  /**
   * Asks for the file, reads {@code readBytes} of the answer and leaves; then what was logged until
   * the request counted as a 499. Neither an ERROR nor a stack trace is expected.
   */
  private String leaveAfterReading(int readBytes) throws Exception {
    try (StderrCapture log = new StderrCapture()) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", rw.port())) {
        s.getOutputStream().write("GET /v1/files/file-1/content HTTP/1.1\r\nHost: x\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        s.getInputStream().read(new byte[readBytes]);
        Thread.sleep(300);
      }
      String metrics = "";
      for (int i = 0; i < 100 && !metrics.contains("status=\"499\""); i++) {
        Thread.sleep(50);
        metrics = new String(send(to("/metrics").GET()).body(), StandardCharsets.UTF_8);
      }
      Thread.sleep(200);
      String logged = log.text();
      assertTrue(metrics.contains("routewise_passthrough_requests_total{status=\"499\",upstream=\"weak\"} 1.0"), logged);
      return logged;
    }
  }

  /**
   * An upload to a path passthrough does not serve is read on and dropped before the 404, so a
   * client sending it all first hears the 404 rather than a reset (which the SDKs retry).
   */
  @Test
  void anUploadToAnUnservedPathHearsThe404() throws Exception {
    start("weak", "/v1", ", passthrough_endpoints: [embeddings]");
    byte[] upload = new byte[40_000_000];
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", rw.port())) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(("POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
          + "Content-Length: " + upload.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(upload);
      s.getOutputStream().flush();
      String answer = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
      assertEquals("HTTP/1.1 404", answer);
    }
    assertEquals(0, weak.getAllServeEvents().size());
  }

  /** A client leaving part way through a passed-through answer is a 499, not an error with a stack trace in the log. */
  @Test
  void aClientLeavingMidAnswerLogsNoError() throws Exception {
    start("weak");
    weak.stubFor(WireMock.get(urlEqualTo("/v1/files/file-1/content")).willReturn(aResponse()
        .withHeader("Content-Type", "application/octet-stream").withBody(new byte[8_000_000])));
    String logged = leaveAfterReading(1024); // with most of the answer still to come
    assertFalse(logged.contains("ERROR"), logged);
    assertFalse(logged.contains("Exception"), logged);
  }

  /** The same when the client leaves while the upstream is silent part way through its answer. */
  @Test
  void aClientLeavingWhileTheUpstreamPausesLogsNoError() throws Exception {
    startWithFileUpstream(pausing(2048, 1024, 1000, true));
    String logged = leaveAfterReading(512);
    assertFalse(logged.contains("ERROR"), logged);
    assertFalse(logged.contains("Exception"), logged);
  }

  /**
   * An upstream answer that breaks off after part of it reached the client cuts the client's
   * connection: a body that looks whole must not be made of half an answer. Quietly, apart from the
   * upstream failure's own warning.
   */
  @Test
  void anUpstreamAnswerBreakingOffMidwayCutsTheClientsConnection() throws Exception {
    startWithFileUpstream(pausing(100_000, 20_000, 200, false)); // 80 kB short
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertThrows(java.io.IOException.class, () -> send(to("/v1/files/file-1/content").GET()));
      Thread.sleep(300);
      logged = log.text();
    }
    assertTrue(logged.contains("passthrough body failed"), logged);
    assertFalse(logged.contains("ERROR"), logged);
  }

  /**
   * A file upstream that declares {@code declared} bytes, sends {@code first}, pauses, then sends
   * the rest ({@code finish}) or closes the exchange short of it.
   */
  private static com.sun.net.httpserver.HttpHandler pausing(int declared, int first, long pauseMillis, boolean finish) {
    return exchange -> {
      exchange.getResponseHeaders().add("Content-Type", "application/octet-stream");
      exchange.sendResponseHeaders(200, declared);
      try (java.io.OutputStream out = exchange.getResponseBody()) {
        out.write(new byte[first]);
        out.flush();
        Thread.sleep(pauseMillis);
        if (finish) {
          out.write(new byte[declared - first]);
        }
      } catch (InterruptedException | java.io.IOException e) {
        // cancelled by routewise (the client left), or closed short on purpose
      }
    };
  }

  /**
   * The client headers passthrough sends on (OpenAI-Beta, Accept, trace ids) stay on the client's hop
   * when it names them in Connection (RFC 9110 7.6.1); they went upstream all the same.
   */
  @Test
  void headersTheClientNamesInConnectionAreNotPassedOn() throws Exception {
    start("weak");
    weak.stubFor(WireMock.get(urlEqualTo("/v1/assistants")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[]}")));
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", rw.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET /v1/assistants HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: OpenAI-Beta\r\n"
          + "Connection: keep-alive, traceparent\r\nOpenAI-Beta: assistants=v2\r\n"
          + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nAccept: application/json\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      String head = io.routewise.RawHttp.readHead(s.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 200"), head);
    }
    weak.verify(WireMock.getRequestedFor(urlEqualTo("/v1/assistants"))
        .withHeader("Accept", equalTo("application/json"))
        .withHeader("OpenAI-Beta", absent())
        .withHeader("traceparent", absent()));
  }

  /** An error passed through masks the operator's organization as a chat error does. */
  @Test
  void aPassedThroughErrorMasksTheOperatorsAccountIds() throws Exception {
    start("weak");
    weak.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json")
        .withBody("{\"error\":{\"message\":\"Rate limit reached in organization org-AbCdEfGh12345678IjKlMnOp\"}}")));
    HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{}")));
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertEquals(429, r.statusCode());
    assertEquals("{\"error\":{\"message\":\"Rate limit reached in organization org-***\"}}", body);
    assertEquals(String.valueOf(r.body().length), r.headers().firstValue("content-length").orElse(null));
  }

  /**
   * An error under {@code Content-Encoding: identity} (no coding at all) is masked as any other: it went
   * as it came, as if compressed, with routewise's own key and the operator's organization in it.
   */
  @Test
  void anErrorUnderContentEncodingIdentityIsMaskedToo() throws Exception {
    com.sun.net.httpserver.HttpServer upstream = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    upstream.createContext("/v1/embeddings", exchange -> {
      exchange.getRequestBody().readAllBytes();
      String auth = exchange.getRequestHeaders().getFirst("Authorization");
      byte[] echo = ("{\"error\":{\"message\":\"Rejected " + auth + " in organization org-AbCdEfGh12345678IjKlMnOp\"}}")
          .getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.getResponseHeaders().add("Content-Encoding", "identity");
      exchange.sendResponseHeaders(400, echo.length);
      exchange.getResponseBody().write(echo);
      exchange.close();
    });
    upstream.start();
    handwritten = upstream;
    strong.start();
    weak.start();
    rw = Routewise.start(TestConfigs.config(TestConfigs.withRouting(TestConfigs.yaml("http://127.0.0.1:"
        + upstream.getAddress().getPort() + "/v1", weak.baseUrl() + "/v1", ""), "passthrough: strong")),
        RouterCatalog.standard(), id -> null, () -> {});
    HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"text-embedding-3-small\",\"input\":\"x\"}")));
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertEquals(400, r.statusCode(), body);
    assertFalse(body.contains("sk-strong-secret"), body);
    assertEquals("{\"error\":{\"message\":\"Rejected Bearer *** in organization org-***\"}}", body);
  }

  /** routewise's key refused for an endpoint (a restricted key without its scope): a 502, as on chat. */
  @Test
  void anUpstream401OnPassthroughIsA502NamingWhoseCredentialsFailed() throws Exception {
    start("weak");
    weak.stubFor(WireMock.post(urlEqualTo("/v1/files")).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withHeader("openai-organization", "org-operator")
        .withBody("{\"error\":{\"message\":\"Missing scopes: api.files.write (key sk-op***)\"}}")));
    HttpResponse<byte[]> r = send(to("/v1/files").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{}")));
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertEquals(502, r.statusCode(), body);
    assertTrue(body.contains("\"code\":\"upstream_auth_failed\""), body);
    assertFalse(body.contains("sk-op"), body);
    assertTrue(r.headers().firstValue("openai-organization").isEmpty());
  }

  @Test
  void theOpenAiSdkEmbedsThroughTheSameBaseUrlItChatsThrough() {
    start("strong");
    strong.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse()
        .withHeader("Content-Type", "application/json")
        .withBody("{\"object\":\"list\",\"model\":\"text-embedding-3-small\",\"data\":[{\"object\":\"embedding\","
            + "\"index\":0,\"embedding\":[0.25,-0.5]}],\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}")));
    com.openai.client.OpenAIClient client = com.openai.client.okhttp.OpenAIOkHttpClient.builder()
        .baseUrl("http://127.0.0.1:" + rw.port() + "/v1").apiKey("sk-client-key").maxRetries(0).build();
    try {
      var embedding = client.embeddings().create(com.openai.models.embeddings.EmbeddingCreateParams.builder()
          .model("text-embedding-3-small").input("hello").build());
      assertEquals(java.util.List.of(0.25f, -0.5f), embedding.data().get(0).embedding());
    } finally {
      client.close();
    }
    strong.verify(postRequestedFor(urlEqualTo("/v1/embeddings"))
        .withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  /**
   * The headers a passthrough answer adds to a chat answer's, Content-Disposition and Content-Encoding,
   * are masked as the others are: an upstream that repeats the request's key in them (a debugging proxy,
   * a file named after a header) showed it to the client (a security trial).
   */
  @Test
  void theUpstreamKeyRepeatedInADownloadsHeadersIsMasked() throws Exception {
    start("strong");
    strong.stubFor(WireMock.get(urlEqualTo("/v1/files/file-abc/content")).willReturn(aResponse()
        .withHeader("Content-Type", "application/octet-stream").withHeader("x-request-id", "req-sk-strong-secret")
        .withHeader("Content-Disposition", "attachment; filename=\"sk-strong-secret.jsonl\"")
        .withHeader("Content-Encoding", "x-sk-strong-secret").withBody(new byte[] {1, 2, 3})));

    HttpResponse<byte[]> file = send(to("/v1/files/file-abc/content").GET());

    assertEquals(200, file.statusCode());
    assertEquals("req-***", file.headers().firstValue("x-request-id").orElseThrow(), "masked as before");
    assertEquals("attachment; filename=\"***.jsonl\"", file.headers().firstValue("content-disposition").orElseThrow());
    assertEquals("x-***", file.headers().firstValue("content-encoding").orElseThrow());
    assertArrayEquals(new byte[] {1, 2, 3}, file.body(), "a file's bytes go as they came");
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

    strong.stubFor(WireMock.get(urlEqualTo("/v1/models/meta-llama/Llama-3.1-8B"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody("{\"id\":\"meta-llama/Llama-3.1-8B\"}")));
    assertEquals(200, send(to("/v1/models/meta-llama/Llama-3.1-8B").GET()).statusCode(), "another model: the upstream's");
    HttpResponse<byte[]> file = send(to("/v1/files/file-abc/content?x=1&y=%2F").GET());
    HttpResponse<byte[]> gone = send(to("/v1/files/file-gone").DELETE());

    assertEquals(200, file.statusCode());
    assertTrue(file.headers().firstValue("x-request-id").orElseThrow().startsWith("rw-"), "the upstream sent none");
    assertArrayEquals(new byte[] {1, 2, 3}, file.body());
    assertEquals("attachment; filename=\"data.jsonl\"", file.headers().firstValue("content-disposition").orElseThrow());
    assertEquals(404, gone.statusCode());
    assertTrue(new String(gone.body(), StandardCharsets.UTF_8).contains("No such File object"));
    strong.verify(3, anyRequestedFor(anyUrl()).withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  @Test
  void aStreamedResponseArrivesAsEvents() throws Exception {
    start("strong");
    String events = "event: response.created\ndata: {\"type\":\"response.created\"}\n\n"
        + "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
    strong.stubFor(WireMock.post(urlEqualTo("/v1/responses")).willReturn(aResponse()
        .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(2, 1200)));

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
    // the upstream sends its second half ~600 ms after its first: the first must not wait for it
    assertTrue(endAt - firstAt > 300_000_000L, "first bytes after " + (firstAt - start) / 1_000_000
        + " ms, the end after " + (endAt - start) / 1_000_000 + " ms");
  }

  /** An error event that reaches routewise in two reads, split inside the org id, is masked whole. */
  @Test
  void anErrorEventSplitBetweenReadsIsMaskedWhole() throws Exception {
    start("strong");
    String id = "AbCdEfGh12345678IjKlMnOpQrStUvWx".repeat(2); // the body's middle lies inside it
    String events = "data: {\"error\":{\"message\":\"Rate limit reached in organization org-" + id + "\"}}\n\n";
    strong.stubFor(WireMock.post(urlEqualTo("/v1/responses")).willReturn(aResponse()
        .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(2, 300)));
    HttpResponse<String> r = http.send(to("/v1/responses").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"stream\":true}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals("data: {\"error\":{\"message\":\"Rate limit reached in organization org-***\"}}\n\n", r.body());
  }

  @Test
  void routewisesOwnEndpointsAndDotSegmentsAreNotPassedOn() throws Exception {
    start("strong");
    strong.stubFor(WireMock.any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("upstream")));

    HttpResponse<byte[]> wrongMethod = send(to("/v1/chat/completions").DELETE());
    assertEquals(405, wrongMethod.statusCode());
    assertEquals("GET, POST", wrongMethod.headers().firstValue("allow").orElseThrow(), "GET lists stored completions");
    assertEquals(400, send(to("/v1/Chat/completions").GET()).statusCode(), "spelled otherwise: not passed on");
    assertEquals(405, send(to("/v1/models").POST(HttpRequest.BodyPublishers.ofString("{}"))).statusCode());
    assertEquals(400, send(to("/v1/deployments/%2e%2e/%2E%2E/admin").GET()).statusCode());
    assertEquals(200, send(to("/v1/models").GET()).statusCode()); // routewise's own list
    assertEquals(200, send(to("/v1/models/router-random-0.3").GET()).statusCode()); // and its own ids
    // an id in routewise's namespace that names no router or a bad α: no upstream can know it either
    HttpResponse<byte[]> nope = send(to("/v1/models/router-nope-0.5").GET());
    assertEquals(404, nope.statusCode());
    assertTrue(new String(nope.body(), StandardCharsets.UTF_8).contains("\"code\":\"model_not_found\""));
    assertEquals(404, send(to("/v1/models/router-random-2").GET()).statusCode());
    assertEquals(404, send(to("/v1/models/ROUTER-random-0.3").GET()).statusCode(), "chat's 400 for it too");
    assertEquals(0, strong.getAllServeEvents().size());
  }

  /**
   * /v1/models advertises router-..., which a client may send to any endpoint: passed on, the
   * upstream got a model it cannot have (SDK trial). The Responses API is routed (ResponsesRoutingTest).
   */
  @Test
  void aRoutewiseModelNameOnAnotherEndpointIsA400NotPassedOn() throws Exception {
    start("strong");
    strong.stubFor(WireMock.any(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{}")));
    for (String type : new String[] {"application/json", "application/x-www-form-urlencoded"}) { // curl -d's type
      for (String path : new String[] {"/v1/embeddings", "/v1/Responses", "/v1/responses/resp_1/cancel"}) {
        HttpResponse<byte[]> r = send(to(path).header("Content-Type", type)
            .POST(HttpRequest.BodyPublishers.ofString("{\"input\":\"2+2?\",\"model\":\"router-random-0.5\"}")));
        String body = new String(r.body(), StandardCharsets.UTF_8);
        assertEquals(400, r.statusCode(), body);
        assertTrue(body.contains("\"code\":\"model_not_found\"")
            && body.contains("only /v1/chat/completions and /v1/responses are routed"), body);
      }
    }
    assertEquals(0, strong.getAllServeEvents().size());
    // a refused body's bytes go back to the shared limit: held, refusals would fill it and every request get 503
    String metrics = new String(send(to("/metrics").GET()).body(), StandardCharsets.UTF_8);
    assertTrue(metrics.contains("routewise_buffered_bytes 0.0"), metrics);
    // the upstream's own models, upstream-<name> while direct upstreams are off (a name like any other),
    // and a model nested deeper than the top level go through
    for (String body : new String[] {"{\"model\":\"gpt-4o\",\"tools\":[{\"model\":\"router-random-1\"}]}",
        "{\"model\":\"upstream-weak\",\"input\":\"x\"}"}) {
      assertEquals(200, send(to("/v1/responses").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body))).statusCode(), body);
    }
    assertEquals(2, strong.getAllServeEvents().size());
  }

  /**
   * A router- name no router answers to, or with a bad α, is a typo of routewise's own (chat answers
   * it 400, GET /v1/models/{id} 404: "no upstream can know it either"); passed on, the upstream
   * answered a "model not found" that named none of routewise's routers.
   */
  @Test
  void aMalformedRouterNameOnAnotherEndpointIsA400NotPassedOn() throws Exception {
    start("strong");
    strong.stubFor(WireMock.any(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{}")));
    for (String model : new String[] {"router-embedding-3", "router-random-2", "ROUTER-random-0.5"}) {
      HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"input\":\"x\"}")));
      String body = new String(r.body(), StandardCharsets.UTF_8);
      assertEquals(400, r.statusCode(), model + " -> " + body);
      assertTrue(body.contains("\"code\":\"model_not_found\"") && body.contains("\"param\":\"model\""), body);
    }
    assertEquals(0, strong.getAllServeEvents().size());
  }

  @Test
  void pathsThatAnUpstreamCouldReadAnotherWayAreRefused() throws Exception {
    start("strong");
    strong.stubFor(WireMock.any(anyUrl()).willReturn(aResponse().withStatus(200).withBody("upstream")));
    String chat = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    for (String path : new String[] {"/v1/files%2F..%2F..%2Fx", "/v1/a%5c..%5cb", "/v1//chat/completions",
        "/v1/chat//completions", "/v1/chat/completions;x=1", "/v1/%63hat/completions", "/v1/chat/Completions", "/v1/Route",
        // what an upstream could strip, split on or normalize (security review): an encoded ';' or
        // '..;', trailing space, tab or dot, fullwidth letters
        "/v1/x/%2e%2e%3b", "/v1/chat/completions%3bx", "/v1/chat/completions%20", "/v1/x%09", "/v1/chat/completions.",
        "/v1/%EF%BD%83%EF%BD%88%EF%BD%81%EF%BD%94/completions",
        // and the same in fullwidth, which such an upstream reads as '.', ';' (review)
        "/v1/embeddings/%EF%BC%8E%EF%BC%8E/chat/completions", "/v1/chat/completions%EF%BC%9Bx",
        "/v1/chat/completions%EF%BC%8E",
        // encoded twice, which a gateway that decodes before the upstream makes '..', '/' or its own path
        "/v1/deployments/%252e%252e/admin", "/v1/files%252F..", "/v1/%2563hat/completions"}) {
      HttpResponse<byte[]> r = send(to(path).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(chat)));
      assertEquals(400, r.statusCode(), path);
      assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("\"code\":\"invalid_path\""), path);
    }
    assertEquals(405, send(to("/v1/files/file-1").method("HEAD", HttpRequest.BodyPublishers.noBody())).statusCode());
    assertEquals(0, strong.getAllServeEvents().size());
  }

  @Test
  void theBaseUrlsQueryIsTheOperatorsAndTheClientsIsAddedAfterIt() throws Exception {
    start("strong", "/v1?api-version=2024-10-21");
    strong.stubFor(WireMock.get(anyUrl()).willReturn(aResponse().withHeader("Content-Type", "application/json").withBody("{}")));

    assertEquals(200, send(to("/v1/batches?api-version=evil&limit=5&after=b%2F1").GET()).statusCode());

    assertEquals("/v1/batches?api-version=2024-10-21&limit=5&after=b%2F1",
        strong.getAllServeEvents().get(0).getRequest().getUrl());

    // nor in another case, with white space or a control in its name, or after a ';': servers that match
    // names leniently (ASP.NET, before Azure's API) read a second value (a security trial)
    for (String query : new String[] {"API-VERSION=evil", "api-version+=evil", "api-version%20=evil", "api-version%00=evil",
        "x=1;api-version=evil", "%20Api-Version=evil"}) {
      strong.resetRequests();
      assertEquals(200, send(to("/v1/batches?" + query + "&limit=5").GET()).statusCode(), query);
      assertEquals("/v1/batches?api-version=2024-10-21&limit=5", strong.getAllServeEvents().get(0).getRequest().getUrl(),
          query);
    }
  }

  @Test
  void anUpstreamBodyThatBreaksOffBeforeAnythingWasSentIsA502() throws Exception {
    start("strong");
    strong.stubFor(WireMock.post(urlEqualTo("/v1/embeddings"))
        .willReturn(aResponse().withFault(com.github.tomakehurst.wiremock.http.Fault.MALFORMED_RESPONSE_CHUNK)));
    try (StderrCapture log = new StderrCapture()) {
      HttpResponse<byte[]> r = send(to("/v1/embeddings").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\"}")));
      String body = new String(r.body(), StandardCharsets.UTF_8);
      assertEquals(502, r.statusCode(), body);
      assertTrue(body.contains("\"code\":\"upstream_unreachable\""), body);
      assertTrue(body.contains("The strong upstream's answer broke off"), body);
      assertTrue(!log.text().contains("unexpected error"), log.text());
      assertTrue(log.text().contains("passthrough body failed"), log.text());
    }
  }

  /**
   * A passthrough stream (the Responses API's) that stalls past timeout_ms: the connection was cut, which
   * the SDKs raise as a network fault (node: TypeError terminated), not as the upstream's timeout (an SDK trial).
   */
  @Test
  void aPassthroughStreamThatStallsEndsWithAnErrorEvent() throws Exception {
    startWithHandwrittenUpstream("/v1/responses", exchange -> {
      exchange.getRequestBody().readAllBytes();
      exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
      exchange.sendResponseHeaders(200, 0);
      try (java.io.OutputStream out = exchange.getResponseBody()) {
        out.write("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
            .getBytes(StandardCharsets.UTF_8));
        out.flush();
        Thread.sleep(5_000); // past timeout_ms (1.5 s)
      } catch (InterruptedException | java.io.IOException e) {
        // cancelled
      }
    });
    HttpResponse<byte[]> r = send(to("/v1/responses").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\",\"stream\":true}")));
    String body = new String(r.body(), StandardCharsets.UTF_8);
    assertEquals(200, r.statusCode());
    assertTrue(body.startsWith("event: response.output_text.delta"), body);
    assertTrue(body.endsWith("\"code\":\"upstream_timeout\"}}\n\n"), body);
    String metrics = new String(send(to("/metrics").GET()).body(), StandardCharsets.UTF_8);
    assertTrue(metrics.contains("routewise_passthrough_requests_total{status=\"504\",upstream=\"weak\"} 1.0"), metrics);
  }

  /**
   * A large upload the upstream keeps reading, however long it takes, is not a wait on the upstream:
   * timeout_ms counts from the body's last byte (and while a write stalls). It had counted from the
   * connection, so a file that took longer than timeout_ms to send was cut off mid-upload with a 504
   * "did not respond", the upstream busy reading it all the while.
   */
  @Test
  void anUploadTheUpstreamKeepsReadingIsNoTimeout() throws Exception {
    try (java.net.ServerSocket upstream = new java.net.ServerSocket()) {
      upstream.setReceiveBufferSize(4096); // so what routewise sends waits on the upstream's reads
      upstream.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      long[] received = {-1};
      Thread reader = Thread.ofVirtual().start(() -> {
        try (java.net.Socket s = upstream.accept()) {
          java.io.InputStream in = s.getInputStream();
          StringBuilder head = new StringBuilder();
          while (!head.toString().endsWith("\r\n\r\n")) {
            head.append((char) in.read());
          }
          long length = Long.parseLong(head.toString().toLowerCase(java.util.Locale.ROOT)
              .split("content-length: ")[1].split("\r\n")[0].trim());
          long read = 0;
          long began = System.nanoTime();
          byte[] buf = new byte[16 * 1024];
          while (read < length) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, length - read));
            if (n < 0) {
              return;
            }
            read += n;
            // about 4 MiB a second, all the while; the last 6 MiB at once (what the socket buffers hold
            // past routewise's last write is not routewise's to see)
            long due = began + read * 1_000_000_000L / (4L << 20);
            long early = due - System.nanoTime();
            if (early > 0 && read < length - (6 << 20)) {
              Thread.sleep(early / 1_000_000, (int) (early % 1_000_000));
            }
          }
          received[0] = read;
          s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
              + "{\"id\":\"file-1\",\"bytes\":123}").getBytes(StandardCharsets.US_ASCII));
          s.getOutputStream().flush();
        } catch (java.io.IOException | InterruptedException | RuntimeException e) {
          // cut off: the test fails on its status
        }
      });
      strong.start();
      weak.start();
      String yaml = TestConfigs.withRouting(TestConfigs.yaml(strong.baseUrl() + "/v1",
          "http://127.0.0.1:" + upstream.getLocalPort() + "/v1", ""), "passthrough: weak")
          .replace("model: weak-model, timeout_ms: 1500", "model: weak-model, timeout_ms: 500");
      rw = Routewise.start(TestConfigs.config(TestConfigs.withServer(yaml, "max_body_bytes: 16777216")),
          RouterCatalog.standard(), id -> null, () -> {});
      byte[] file = new byte[12 << 20]; // over a second to send at the upstream's pace
      HttpResponse<byte[]> r = send(to("/v1/files").header("Content-Type", "application/octet-stream")
          .POST(HttpRequest.BodyPublishers.ofByteArray(file)));
      reader.join(10_000);
      assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
      assertEquals(file.length, received[0]);
    }
  }

  @Test
  void aClientLeavingMidStreamCancelsTheCallQuietly() throws Exception {
    start("strong");
    strong.stubFor(WireMock.post(urlEqualTo("/v1/responses")).willReturn(aResponse()
        .withHeader("Content-Type", "text/event-stream").withBody("data: {\"n\":1}\n\n".repeat(40))
        .withChunkedDribbleDelay(40, 4000)));
    try (StderrCapture log = new StderrCapture()) {
      HttpResponse<java.io.InputStream> r = http.send(to("/v1/responses").header("Content-Type", "application/json")
          .header("Authorization", "Bearer sk-client-key")
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\",\"stream\":true}")).build(),
          HttpResponse.BodyHandlers.ofInputStream());
      assertTrue(r.body().read() >= 0, "the first event arrives");
      r.body().close(); // the client goes away with the stream half done
      String metrics = "";
      for (int i = 0; i < 50 && !metrics.contains("status=\"499\""); i++) {
        Thread.sleep(100);
        metrics = new String(send(to("/metrics").GET()).body(), StandardCharsets.UTF_8);
      }
      assertTrue(metrics.contains("routewise_passthrough_requests_total{status=\"499\",upstream=\"strong\"} 1.0"), metrics);
      assertTrue(!log.text().contains("unexpected error"), log.text());
    }
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
