package io.routewise.server;

import io.routewise.StderrCapture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class UpstreamUnreachableTest {
  @Test
  void unreachableUpstreamIsA502InOpenAiShapeWithoutTheKey() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + closedPort + "/v1";
    try (Routewise rw = Routewise.start(TestConfigs.config(TestConfigs.yaml(url, url, "")),
        RouterCatalog.standard(), id -> null, () -> {});
        StderrCapture log = new StderrCapture()) {
      HttpResponse<String> r = HttpClient.newHttpClient().send(
          TestConfigs.chat(rw.port(), "router-random-0"),
          HttpResponse.BodyHandlers.ofString());
      HttpClient.newHttpClient().send(TestConfigs.chat(rw.port(), "router-random-0"), HttpResponse.BodyHandlers.ofString());
      assertEquals(502, r.statusCode());
      // never reached: a retry may find it back, so the SDKs' default (retry a 502) stands
      assertTrue(r.headers().firstValue("x-should-retry").isEmpty(), r.headers().toString());
      // The operator hears of it too, once (the second failure within 10 s is only counted), without the key.
      String logged = log.text();
      assertEquals(1, logged.split("upstream strong failed \\(502 upstream_unreachable\\): Could not reach the strong "
          + "upstream \\(127\\.0\\.0\\.1\\)", -1).length - 1, logged);
      assertFalse(logged.contains("sk-strong-secret"), logged);
      JsonNode e = new ObjectMapper().readTree(r.body()).get("error");
      assertEquals("upstream_unreachable", e.get("code").asText());
      // The client learns what failed, but not the internal host or the raw I/O error: those are in the log.
      assertEquals("Could not reach the strong upstream: the connection was refused.", e.get("message").asText());
      assertTrue(logged.contains("caused by ConnectException (Connection refused)"), logged); // the operator sees the cause
      assertEquals("upstream_error", e.get("type").asText());
      assertFalse(r.body().contains("sk-strong-secret"));
      assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    }
  }

  /** The connect phase has its own limit: a connect slower than timeout_ms is still "unreachable". */
  @org.junit.jupiter.params.ParameterizedTest(name = "timeout_ms {0}, connect_timeout_ms {1}")
  @org.junit.jupiter.params.provider.CsvSource({"30000, 400", "300, 1000"})
  void anUpstreamThatNeverAcceptsTheConnectionIsA502NamingTheConnectTimeout(int timeoutMs, int connectMs)
      throws Exception {
    // A listening socket that never accepts, its backlog filled: further SYNs are dropped, so a
    // connect hangs until connect_timeout_ms.
    try (ServerSocket full = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      java.util.List<java.net.Socket> fillers = new java.util.ArrayList<>();
      for (int i = 0; i < 4; i++) {
        java.net.Socket f = new java.net.Socket();
        try {
          f.connect(full.getLocalSocketAddress(), 200);
          fillers.add(f);
        } catch (java.io.IOException backlogFull) {
          f.close();
          break;
        }
      }
      String url = "http://127.0.0.1:" + full.getLocalPort() + "/v1";
      String yaml = TestConfigs.yaml(url, url, "").replace("timeout_ms: 1500}",
          "timeout_ms: " + timeoutMs + ", connect_timeout_ms: " + connectMs + "}");
      long start = System.nanoTime();
      try (Routewise rw = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {})) {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
            TestConfigs.chat(rw.port(), "router-random-0"),
            HttpResponse.BodyHandlers.ofString());
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(502, r.statusCode(), r.body());
        JsonNode e = new ObjectMapper().readTree(r.body()).get("error");
        assertEquals("upstream_unreachable", e.get("code").asText());
        assertEquals("Could not connect to the strong upstream within connect_timeout_ms (" + connectMs + " ms).",
            e.get("message").asText(), r.body());
        assertTrue(ms >= connectMs - 50 && ms < 10_000,
            "failed after " + ms + " ms, not after connect_timeout_ms");
      } finally {
        for (java.net.Socket f : fillers) {
          f.close();
        }
      }
    }
  }
}
