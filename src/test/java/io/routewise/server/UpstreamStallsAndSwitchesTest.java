package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/** Upstreams that stall after their headers or switch protocols: counted as failures, answered as 502/504. */
class UpstreamStallsAndSwitchesTest {
  private static final String OK = ProxyFixture.COMPLETION.formatted("weak-model", "weak-model");
  private final HttpClient http = HttpClient.newHttpClient();
  private ScriptedUpstream strong;
  private ScriptedUpstream weak;
  private Routewise routewise;

  @AfterEach
  void stop() throws Exception {
    if (routewise != null) {
      routewise.close();
    }
    if (strong != null) {
      strong.close();
    }
    if (weak != null) {
      weak.close();
    }
  }

  private void start(String routing) throws Exception {
    strong = new ScriptedUpstream();
    weak = new ScriptedUpstream();
    String yaml = TestConfigs.withRouting(TestConfigs.yaml(strong.url(), weak.url(), ""), routing);
    routewise = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
  }

  private HttpResponse<String> chat(String model) throws Exception {
    return http.send(TestConfigs.chat(routewise.port(), model), HttpResponse.BodyHandlers.ofString());
  }

  private String metrics() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** A whole (non-streamed) answer's headers, then nothing: its body stalls past timeout_ms (1.5 s). */
  private static ScriptedUpstream.Answer headersThenStall() {
    return out -> {
      out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(4_000);
    };
  }

  /**
   * README, Failover and cooldown: "Down means 3 routed calls in a row failed (unreachable, timed out,
   * ...)". A hung upstream (or a gateway in front of one) that sends a whole answer's headers at once and
   * then nothing gives each request a 504 upstream_timeout after timeout_ms, but the headers were counted
   * as an answer: three such timeouts in a row never cool it, so every request chosen for it waits out the
   * whole timeout (a stream's headers alone do count as a failure: FailoverTest's
   * streamsCutOffBeforeTheirFirstByteCoolTheirUpstream).
   */
  @Test
  void wholeAnswersWhoseBodyStallsCoolTheirUpstreamAsTimeouts() throws Exception {
    start("failover: true");
    for (int i = 0; i < 3; i++) {
      strong.answers.add(headersThenStall());
      HttpResponse<String> r = chat("router-random-0");
      assertEquals(504, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"code\":\"upstream_timeout\""), r.body());
    }
    weak.answers.add(ScriptedUpstream.json(200, OK));
    strong.answers.add(headersThenStall()); // would make the client wait out timeout_ms once more
    long t0 = System.nanoTime();
    HttpResponse<String> r = chat("router-random-0");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertEquals("strong cooldown", r.headers().firstValue("x-routewise-failover").orElse(null),
        "after three timeouts in a row strong should cool; got " + r.statusCode() + " after " + ms + " ms: " + r.body());
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(3, strong.requests.get(), "not tried while cooling");
    assertTrue(metrics().contains("routewise_upstream_cooling{upstream=\"strong\"} 1.0"));
  }
  /** An upstream that answers a POST with 101 Switching Protocols (a websocket endpoint, a broken gateway), then idles. */
  private static ScriptedUpstream.Answer switchingProtocols() {
    return out -> {
      out.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(4_000);
    };
  }

  /** POSTs {@code body} to {@code path} on a raw socket; returns what came within 6 s (head and body), or what came before the wait ran out. */
  private String rawPost(String path, String body) throws Exception {
    try (java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), routewise.port())) {
      s.setSoTimeout(6_000);
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      s.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Connection: close\r\nContent-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(b);
      s.getOutputStream().flush();
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = s.getInputStream().read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (java.net.SocketTimeoutException stalled) {
        return got.toString(StandardCharsets.UTF_8) + "\n[no end within 6 s]";
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }

  private static final String CHAT = "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  /**
   * README, Errors: an answer no client can use (a redirect, a status over 599) is a 502
   * upstream_invalid_response. A 101 Switching Protocols to a chat POST went to the client as its
   * status, with no body, and the client then waited (its connection switched to nothing) until the
   * idle timeout closed it: a hang, and no error in OpenAI's shape.
   */
  @Test
  void a101FromTheUpstreamIsA502NotASwitchedConnection() throws Exception {
    start("failover: false");
    strong.answers.add(switchingProtocols());
    String got = rawPost("/v1/chat/completions", CHAT);
    assertTrue(got.startsWith("HTTP/1.1 502"), got);
    assertTrue(got.contains("\"code\":\"upstream_invalid_response\""), got);
  }

  /** With failover on, a 101 fails over as another unusable answer (a redirect) does, nothing having reached the client. */
  @Test
  void a101FromTheUpstreamFailsOver() throws Exception {
    start("failover: true");
    strong.answers.add(switchingProtocols());
    weak.answers.add(ScriptedUpstream.json(200, OK));
    String got = rawPost("/v1/chat/completions", CHAT);
    assertTrue(got.startsWith("HTTP/1.1 200"), got);
    assertTrue(got.toLowerCase(java.util.Locale.ROOT).contains("x-routewise-failover: strong invalid"), got);
  }

  /** The same on passthrough: a 502 in OpenAI's shape, not a 101 and a connection left hanging. */
  @Test
  void a101OnPassthroughIsA502() throws Exception {
    start("passthrough: strong");
    strong.answers.add(switchingProtocols());
    String got = rawPost("/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}");
    assertTrue(got.startsWith("HTTP/1.1 502"), got);
    assertTrue(got.contains("\"code\":\"upstream_invalid_response\""), got);
  }
}
