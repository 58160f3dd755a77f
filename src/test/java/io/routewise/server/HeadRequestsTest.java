package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * HEAD on what routewise itself serves by GET answers as that GET would, without the body (uptime
 * probes and caches use it), with or without passthrough, whose own HEADs stay 405s.
 */
class HeadRequestsTest {
  private static HttpResponse<String> head(ProxyFixture f, String path) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).method("HEAD", HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void headOnRoutewisesOwnPathsAnswersAsGet(boolean passthrough) throws Exception {
    try (ProxyFixture f = passthrough ? ProxyFixture.withRouting("", "passthrough: strong") : new ProxyFixture("")) {
      for (String path : new String[] {"/v1/models", "/v1/models/router-random-0.5", "/health", "/metrics"}) {
        HttpResponse<String> get = f.get(path);
        HttpResponse<String> head = head(f, path);
        assertEquals(200, head.statusCode(), path + " passthrough=" + passthrough);
        assertEquals("", head.body(), path);
        assertEquals(get.headers().firstValue("content-type"), head.headers().firstValue("content-type"), path);
      }
      if (passthrough) {
        assertEquals(405, head(f, "/v1/files").statusCode());
        HttpResponse<String> unknown = head(f, "/v1/models/ft:gpt-4o:acme");
        assertEquals(405, unknown.statusCode(), "the upstream's models answer GET only");
        assertEquals("GET", unknown.headers().firstValue("allow").orElse(null));
      }
      assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
    }
  }

  /** No body bytes follow a HEAD's headers: the next answer on the connection is read cleanly. */
  @Test
  void aHeadAnswerLeavesTheConnectionClean() throws Exception {
    try (ProxyFixture f = new ProxyFixture("");
        java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
      s.setSoTimeout(5_000);
      s.getOutputStream().write(("HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
          + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String both = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      String[] answers = both.split("HTTP/1.1 ", -1);
      assertEquals(3, answers.length, both);
      assertTrue(answers[1].startsWith("200") && answers[1].endsWith("\r\n\r\n"), "headers only: " + answers[1]);
      assertTrue(answers[1].toLowerCase(java.util.Locale.ROOT).contains("content-type: application/json"), answers[1]);
      assertTrue(answers[2].startsWith("200") && answers[2].contains("\"status\":\"ok\""), answers[2]);
    }
  }
}
