package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's log hears of upstream outages and of config mistakes (a wrong key, URL or model),
 * not of the client's own errors or rate limits. A fresh routewise per test: the log's 10 s
 * interval must not carry over from another test.
 */
class UpstreamFailureLoggingTest {
  private ProxyFixture f;

  @BeforeEach
  void start() {
    f = new ProxyFixture("");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void anUpstream503IsLoggedAndAStrong429IsNot() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(429)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"slow down\"}}")));
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503)
        .withHeader("Content-Type", "text/plain").withBody("overloaded")));
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(429, f.chat("router-random-0", "x").statusCode());
      assertEquals(503, f.chat("router-random-1", "x").statusCode());
      logged = log.text();
    }
    assertTrue(logged.contains("upstream weak failed (answered 503): The weak upstream (localhost) answered 503"),
        logged);
    assertFalse(logged.contains("upstream strong"), "a 429 is the client's rate limit, not an outage: " + logged);
  }

  @Test
  void anUpstream401SaysTheConfiguredKeyIsWrongWithoutShowingIt() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(401)
        .withHeader("Content-Type", "application/json").withBody("{\"error\":{\"message\":\"Incorrect API key\"}}")));
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(401, f.chat("router-random-0", "x").statusCode());
      logged = log.text();
    }
    assertTrue(logged.contains("upstream strong failed (answered 401)"), logged);
    assertFalse(logged.contains("sk-strong-secret"), logged);
  }

  /** A base_url on http:// that the provider moves to https://: the client cannot follow it usefully. */
  @Test
  void anUpstreamRedirectIsLoggedAsAConfigurationProblem() throws Exception {
    f.strong.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(301)
        .withHeader("Location", "https://example.com/v1/chat/completions?key=sk-in-the-query")));
    String logged;
    try (StderrCapture log = new StderrCapture()) {
      assertEquals(301, f.chat("router-random-0", "x").statusCode());
      logged = log.text();
    }
    assertTrue(logged.contains("upstream strong failed (answered 301)"), logged);
    assertTrue(logged.contains("answered 301 to https://example.com; check base_url"), logged);
    assertFalse(logged.contains("sk-in-the-query"), "a redirect may repeat a key from base_url: " + logged);
  }
}
