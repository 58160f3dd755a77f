package io.routewise.server;

import io.routewise.StderrCapture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** server.access_log: one findable line per request, with the decision and both request ids, never the prompt. */
class AccessLogTest {
  private static String line(String log, String contains) {
    return Arrays.stream(log.split("\n")).filter(l -> l.contains("routewise.access") && l.contains(contains))
        .findFirst().orElseThrow(() -> new AssertionError("no access line with '" + contains + "' in:\n" + log));
  }

  /**
   * Anyone can send requests without a key, and each 401 was a line: a flood of them flooded the log
   * at full request rate (security review). A second's lines past the cap are counted in one line.
   */
  @Test
  void linesOfRequestsTurnedAwayAreCappedPerSecond() throws Exception {
    try (ProxyFixture f = new ProxyFixture("", "access_log: true, api_keys: [sk-client-key]");
        StderrCapture log = new StderrCapture()) {
      int sent = 5 * AccessLog.REJECTED_PER_SECOND;
      long start = System.nanoTime();
      for (int i = 0; i < sent; i++) {
        assertEquals(401, f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
            .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
      }
      long seconds = (System.nanoTime() - start) / 1_000_000_000L + 1;
      // no request follows: the last second's count comes once it is over, without waiting for a next 401,
      // so every request is a line or counted in one
      long lines = 0;
      long counted = 0;
      String text = "";
      for (int i = 0; i < 150 && lines + counted < sent; i++) {
        Thread.sleep(20);
        text = log.text();
        lines = text.lines().filter(l -> l.contains("routewise.access") && l.contains(" 401 ")).count();
        counted = java.util.regex.Pattern.compile("(\\d+) more requests turned away in a second").matcher(text)
            .results().mapToLong(m -> Long.parseLong(m.group(1))).sum();
      }
      assertEquals(sent, lines + counted, text);
      assertTrue(lines <= (seconds + 1) * AccessLog.REJECTED_PER_SECOND, lines + " lines of " + sent);
      // (a box so slow that the requests took five seconds or more may have logged them all)
      assertTrue(seconds >= 5 || text.contains("more requests turned away in a second were not logged"), text);
    }
  }

  /**
   * A named client past its rate_limit gets a 429 line with its name. Those lines had the one budget of
   * the 401 and 403 lines: a key holder's runaway job (its 429s as fast as it sends them) left the
   * failed logins of that second unlogged, counted only as "more requests turned away".
   */
  @Test
  void aClientOverItsRateLimitDoesNotHideFailedLoginsFromTheLog() throws Exception {
    try (ProxyFixture f = new ProxyFixture("", "access_log: true, api_keys: {batch: {key: sk-batch, "
            + "rate_limit: {requests: 1, per: hour}}}");
        StderrCapture log = new StderrCapture()) {
      HttpRequest models = HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
          .header("Authorization", "Bearer sk-batch").build();
      assertEquals(200, f.http.send(models, HttpResponse.BodyHandlers.ofString()).statusCode());
      // early in one of the log budget's seconds, so that all of it falls in that second
      while (Math.floorMod(System.nanoTime(), 1_000_000_000L) > 300_000_000L) {
        Thread.sleep(5);
      }
      for (int i = 0; i < 2 * AccessLog.REJECTED_PER_SECOND; i++) {
        assertEquals(429, f.http.send(models, HttpResponse.BodyHandlers.ofString()).statusCode());
      }
      HttpResponse<String> login = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Authorization", "Bearer guessed").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(401, login.statusCode());
      String id = login.headers().firstValue("x-request-id").orElseThrow();
      for (int i = 0; i < 100 && !log.text().contains(id); i++) {
        Thread.sleep(20);
      }
      String limited = line(log.text(), " 429 ");
      assertTrue(limited.contains("GET /v1/models 429 ") && limited.contains(" client=batch")
          && limited.contains(" error=rate_limit_exceeded"), limited);
      assertTrue(line(log.text(), " 401 ").contains(" error=invalid_api_key request_id=" + id), log.text());
    }
  }

  /**
   * An operator charging teams back, or asking why one answer cost so much, finds its tokens and dollars
   * on its line (the metrics only sum them): a whole answer's, a stream's from its usage chunk, and an
   * unpriced upstream's tokens without a cost.
   */
  @Test
  void aLineCarriesItsAnswersTokensAndCost() throws Exception {
    try (ProxyFixture f = ProxyFixture.edited("", yaml -> io.routewise.TestConfigs.withServer(yaml, "access_log: true")
            .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10},"));
        StderrCapture log = new StderrCapture()) {
      f.weak.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(
          com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/chat/completions"))
          .willReturn(com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(200)
              .withHeader("Content-Type", "text/event-stream").withHeader("x-request-id", "req-weak-stream").withBody(
                  "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
                  + "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":13,"
                  + "\"completion_tokens\":5,\"total_tokens\":18}}\n\ndata: [DONE]\n\n")));
      assertEquals(200, f.chat("router-random-0", "x").statusCode()); // α 0: strong, priced
      assertEquals(200, f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"router-random-1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"))
          .build(), HttpResponse.BodyHandlers.ofString()).statusCode()); // weak, unpriced, streamed
      for (int i = 0; i < 100 && log.text().split("routewise\\.access", -1).length < 3; i++) {
        Thread.sleep(20);
      }
      String whole = line(log.text(), "request_id=req-strong");
      // 11 prompt and 7 completion tokens at 2.5 and 10 USD a million
      assertTrue(whole.contains(" prompt_tokens=11 completion_tokens=7 cost_usd=0.0000975"), whole);
      String streamed = line(log.text(), "request_id=req-weak-stream");
      assertTrue(streamed.contains(" prompt_tokens=13 completion_tokens=5"), streamed);
      assertFalse(streamed.contains("cost_usd"), "no price, no cost: " + streamed);
    }
  }

  @Test
  void eachRequestIsOneLineWithItsDecisionStatusAndIds() throws Exception {
    try (ProxyFixture f = new ProxyFixture("", "access_log: true, api_keys: [sk-client-key]");
        StderrCapture log = new StderrCapture()) {
      HttpResponse<String> ok = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Content-Type", "application/json").header("Authorization", "Bearer sk-client-key")
          .header("X-Client-Request-Id", "ticket 42 \"quoted\" error=forged")
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"router-fixed-0.3\",\"messages\":[{\"role\":\"user\",\"content\":\"a very private prompt\"}]}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ok.statusCode());
      HttpResponse<String> bad = f.chat("router-nope-0.5", "x");
      assertEquals(400, bad.statusCode());
      assertEquals(401, f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Authorization", "Bearer wrong").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode());
      // the line is written once the handler returns, which may be just after the client has its answer
      for (int i = 0; i < 100 && log.text().split("routewise\\.access", -1).length < 4; i++) {
        Thread.sleep(20);
      }
      String logged = log.text();

      String served = line(logged, " 200 ");
      assertTrue(served.contains("POST /v1/chat/completions 200 ms="), served);
      assertTrue(served.contains(" router=fixed win_rate=0.5000 threshold=0.3 route=strong model=strong-model"), served);
      assertTrue(served.contains(" request_id=req-strong"), served);
      assertTrue(served.contains(" client_request_id=ticket_42__quoted__error_forged"), "a client's value cannot forge fields: " + served);
      assertFalse(served.contains("error="), served);
      String refused = line(logged, " 400 ");
      assertTrue(refused.contains(" error=model_not_found"), refused);
      assertTrue(refused.contains(" request_id=" + bad.headers().firstValue("x-request-id").orElseThrow()),
          "the id a client reports finds its line: " + refused);
      assertTrue(line(logged, " 401 ").contains(" error=invalid_api_key"), logged);
      assertFalse(logged.contains("private prompt"), logged);
      assertFalse(logged.contains("Bearer"), logged);
    }
  }

  /**
   * README: every chat and passthrough request writes a line. A browser's page from an origin not in
   * cors_origins, or a host a keyless instance does not know (DNS rebinding), got its 403 with none:
   * the operator of a web app that fails found nothing in the access log.
   */
  @Test
  void requestsRefusedForTheirOriginOrHostAreLogged() throws Exception {
    try (ProxyFixture f = new ProxyFixture("", "access_log: true, api_keys: [sk-client-key]");
        StderrCapture log = new StderrCapture()) {
      HttpResponse<String> refused = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Authorization", "Bearer sk-client-key").header("Origin", "https://evil.example")
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(403, refused.statusCode(), refused.body());
      for (int i = 0; i < 50 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      String line = line(log.text(), " 403 ");
      assertTrue(line.contains("POST /v1/chat/completions 403 ") && line.contains(" error=origin_not_allowed"), line);
      assertTrue(line.contains(" request_id=" + refused.headers().firstValue("x-request-id").orElseThrow()), line);
    }
    try (ProxyFixture f = new ProxyFixture("", "access_log: true");
        StderrCapture log = new StderrCapture()) {
      HttpResponse<String> refused = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("X-Forwarded-Host", "rebound.example.com")
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(403, refused.statusCode(), refused.body());
      for (int i = 0; i < 50 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      assertTrue(line(log.text(), " 403 ").contains(" error=host_not_allowed"), log.text());
    }
  }

  /**
   * README: outcome= says how a stream whose 200 had gone ended (client_closed among them). A
   * passed-through stream its client left was a bare 499: the line neither said that its 200 had
   * gone nor carried the outcome an operator greps for, as a routed stream's does.
   */
  @Test
  void aPassedThroughStreamItsClientLeftSaysSo() throws Exception {
    try (ProxyFixture f = ProxyFixture.edited("", yaml -> io.routewise.TestConfigs.withServer(
            io.routewise.TestConfigs.withRouting(yaml, "passthrough: strong"), "access_log: true"));
        StderrCapture log = new StderrCapture()) {
      String events = "data: {\"choices\":[{\"text\":\"x\"}]}\n\n".repeat(40);
      f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(
          com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/completions")).willReturn(
          com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(200)
              .withHeader("Content-Type", "text/event-stream").withBody(events).withChunkedDribbleDelay(40, 4_000)));
      String body = "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true}";
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", f.routewise.port())) {
        s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        byte[] first = new byte[64];
        int n = s.getInputStream().read(first);
        assertTrue(new String(first, 0, n, java.nio.charset.StandardCharsets.UTF_8).startsWith("HTTP/1.1 200"));
      } // left with the stream under way
      for (int i = 0; i < 300 && !log.text().contains("routewise.access"); i++) {
        Thread.sleep(20);
      }
      String line = line(log.text(), "POST /v1/completions");
      assertTrue(line.contains(" outcome=client_closed"), line);
    }
  }

  @Test
  void offByDefault() throws Exception {
    try (ProxyFixture f = new ProxyFixture(""); StderrCapture log = new StderrCapture()) {
      assertEquals(200, f.chat("router-random-0", "x").statusCode());
      assertFalse(log.text().contains("routewise.access"), log.text());
    }
  }
}
