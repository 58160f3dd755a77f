package io.routewise.server;

import io.routewise.StderrCapture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A hand-written SSE upstream that sends its first chunk, then waits until the test says the
 * client has seen it: the stream can only finish if routewise relays chunks as they arrive.
 */
class StreamingRelayTest {
  private HttpServer upstream;
  private Routewise routewise;
  private final CountDownLatch clientSawFirstChunk = new CountDownLatch(1);
  private final CountDownLatch upstreamWriteFailed = new CountDownLatch(1);
  private final AtomicReference<String> receivedBody = new AtomicReference<>();
  private volatile boolean endless;
  /** When set: after the first chunk, sleep each gap (ms) then send a chunk; then [DONE]. */
  private volatile long[] gapsMillis;
  /** With gapsMillis: answer a plain JSON completion (not SSE), its bytes spread over the gaps. */
  private volatile boolean plainJson;

  @BeforeEach
  void start() throws IOException {
    upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    upstream.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    upstream.createContext("/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        receivedBody.set(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      OutputStream out = ex.getResponseBody();
      if (plainJson) {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, 0);
        byte[] json = COMPLETION.getBytes(StandardCharsets.UTF_8);
        int piece = json.length / (gapsMillis.length + 1) + 1;
        try {
          for (int i = 0, off = 0; off < json.length; i++, off += piece) {
            if (i > 0) {
              Thread.sleep(gapsMillis[i - 1]);
            }
            out.write(json, off, Math.min(piece, json.length - off));
            out.flush();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          ex.close();
        }
        return;
      }
      ex.getResponseHeaders().set("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try {
        out.write(chunk("{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}"));
        out.flush();
        if (gapsMillis != null) {
          for (long gap : gapsMillis) {
            Thread.sleep(gap);
            out.write(chunk("{\"choices\":[{\"delta\":{\"content\":\".\"}}]}"));
            out.flush();
          }
          out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
          return;
        }
        if (endless) {
          // Keep streaming until writes fail: that happens only once routewise cancels the call.
          for (int i = 0; i < 400; i++) {
            Thread.sleep(25);
            out.write(chunk("{\"choices\":[{\"delta\":{\"content\":\".\"}}]}"));
            out.flush();
          }
          return;
        }
        if (!clientSawFirstChunk.await(5, TimeUnit.SECONDS)) {
          return; // the relay buffered: finish without the rest, and the test fails
        }
        out.write(chunk("{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}"));
        out.write(chunk("{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}"));
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
      } catch (IOException e) {
        upstreamWriteFailed.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        ex.close();
      }
    });
    upstream.start();
    String url = "http://127.0.0.1:" + upstream.getAddress().getPort() + "/v1";
    routewise = Routewise.start(TestConfigs.config(TestConfigs.withServer(TestConfigs.yaml(url, url, ""), "access_log: true")),
        RouterCatalog.standard(),
        id -> null, () -> {});
  }

  @AfterEach
  void stop() {
    routewise.close();
    upstream.stop(0);
  }

  private static final String COMPLETION = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
      + "\"message\":{\"role\":\"assistant\",\"content\":\"slow but steady\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}";

  private static byte[] chunk(String json) {
    return ("data: " + json + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  private HttpResponse<InputStream> openStream() throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/v1/chat/completions"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-random-0\",\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
  }

  @Test
  void firstChunkReachesTheClientBeforeTheUpstreamHasFinished() throws Exception {
    HttpResponse<InputStream> r = openStream();
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
    List<String> lines = new ArrayList<>();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.contains("Hel")) {
          clientSawFirstChunk.countDown();
        }
        if (!line.isEmpty()) {
          lines.add(line);
        }
      }
    }
    assertEquals(4, lines.size(), lines.toString());
    assertTrue(lines.get(1).contains("\"lo\""), "the second chunk arrived only after the first was seen");
    assertEquals("data: [DONE]", lines.get(3));
    assertTrue(receivedBody.get().contains("\"stream\":true"));
    String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + routewise.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    assertTrue(metrics.contains("routewise_tokens_total{type=\"completion\",upstream=\"strong\"} 2.0"), metrics);
  }

  @Test
  void clientThatDisconnectsMidStreamCancelsTheUpstreamCall() throws Exception {
    endless = true;
    HttpResponse<InputStream> r = openStream();
    InputStream body = r.body();
    byte[] buf = new byte[64];
    assertTrue(body.read(buf) > 0);
    body.close(); // the client goes away
    assertTrue(upstreamWriteFailed.await(8, TimeUnit.SECONDS),
        "the upstream kept streaming to nobody: routewise did not cancel the call");
  }

  @Test
  void aStreamThatStallsLongerThanTheTimeoutEndsWithATimeoutEventAfterTheTimeout() throws Exception {
    gapsMillis = new long[] {6000}; // timeout_ms is 1500
    long start = System.nanoTime();
    List<String> lines;
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      lines = readLines(openStream());
      for (int i = 0; i < 100 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      logged = log.text();
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    // the 200 had gone before the stream failed: the access log says how it ended
    assertTrue(logged.contains("POST /v1/chat/completions 200") && logged.contains(" outcome=timeout"), logged);
    assertEquals(2, lines.size(), lines.toString());
    assertTrue(lines.get(0).contains("Hel"));
    assertTrue(lines.get(1).startsWith("data: {\"error\""), lines.get(1));
    assertTrue(lines.get(1).contains("\"code\":\"upstream_timeout\"") && lines.get(1).contains("1500 ms"), lines.get(1));
    assertTrue(ms >= 1400 && ms < 4500, "the stream failed after " + ms + " ms with a 1500 ms timeout");
  }

  @Test
  void aSlowStreamWhoseEveryGapIsWithinTheTimeoutRunsToTheEnd() throws Exception {
    gapsMillis = new long[] {500, 500, 500, 500, 500}; // 2.5 s in all, past timeout_ms 1500
    List<String> lines = readLines(openStream());
    assertEquals(7, lines.size(), lines.toString());
    assertEquals("data: [DONE]", lines.get(6));
    assertTrue(lines.stream().noneMatch(l -> l.contains("error")), lines.toString());
  }

  private static List<String> readLines(HttpResponse<InputStream> r) throws IOException {
    assertEquals(200, r.statusCode());
    List<String> lines = new ArrayList<>();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (!line.isEmpty()) {
          lines.add(line);
        }
      }
    }
    return lines;
  }

  @Test
  void aNonStreamedBodyArrivingSlowlyButSteadilyIsRelayedWhole() throws Exception {
    plainJson = true;
    gapsMillis = new long[] {500, 500, 500, 500, 500}; // 2.5 s in all, past timeout_ms 1500
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        TestConfigs.chat(routewise.port(), "router-random-0"),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(COMPLETION, r.body());
  }
}
