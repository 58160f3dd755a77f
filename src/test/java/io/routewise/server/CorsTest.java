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
import java.util.Locale;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** server.cors_origins: a web page on an allowed origin can call routewise with its key; others cannot. */
class CorsTest {
  private static final String PAGE = "https://app.example.com";
  private final HttpClient http = HttpClient.newHttpClient();
  private ProxyFixture f;

  @AfterEach
  void stop() {
    f.close();
  }

  private HttpResponse<String> preflight(String origin) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> chat(String origin) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", origin).header("Content-Type", "application/json")
        .header("Authorization", "Bearer page-key")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static Optional<String> header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).map(v -> v.toLowerCase(Locale.ROOT));
  }

  @Test
  void anAllowedPagePassesThePreflightWithoutItsKeyAndReadsTheDecision() throws Exception {
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + PAGE + "\"]");

    HttpResponse<String> pre = preflight(PAGE);
    assertTrue(pre.statusCode() == 200 || pre.statusCode() == 204, pre.statusCode() + " " + pre.body());
    assertEquals(Optional.of(PAGE), header(pre, "access-control-allow-origin"));
    assertTrue(header(pre, "access-control-allow-headers").orElse("").contains("authorization"), pre.headers().toString());
    assertTrue(header(pre, "access-control-allow-methods").orElse("").contains("post"), pre.headers().toString());

    HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", PAGE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, refused.statusCode());
    assertEquals(Optional.of(PAGE), header(refused, "access-control-allow-origin"), "so the page can read why");

    HttpResponse<String> r = chat(PAGE);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(Optional.of(PAGE), header(r, "access-control-allow-origin"));
    assertTrue(header(r, "access-control-expose-headers").orElse("").contains("x-routewise-model"), r.headers().toString());
    assertEquals(1, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size(),
        "only the chat call reached an upstream, not the preflight or the 401");
  }

  @Test
  void anotherOriginGetsNoCorsHeadersAndNothingWithoutTheSetting() throws Exception {
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + PAGE + "\"]");
    assertEquals(Optional.empty(), header(preflight("https://evil.example"), "access-control-allow-origin"));
    assertEquals(Optional.empty(), header(chat("https://evil.example"), "access-control-allow-origin"));
    f.close();

    f = new ProxyFixture("", "api_keys: [page-key]");
    assertEquals(Optional.empty(), header(chat(PAGE), "access-control-allow-origin"));
    assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString())
        .statusCode());
  }

  /**
   * Without keys, any page a browser loaded could POST a chat here (text/plain needs no preflight) and
   * spend the upstream keys; by DNS rebinding it could read the answer too (a security trial).
   */
  @Test
  void aPageFromAnOriginNotListedIsRefusedBeforeAnythingIsSpent() throws Exception {
    f = new ProxyFixture("");
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", "https://evil.example").header("Content-Type", "text/plain;charset=UTF-8")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"origin_not_allowed\""), r.body());
    assertTrue(r.body().contains("server.cors_origins"), r.body());
    HttpResponse<String> nullOrigin = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
        .header("Origin", "null").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, nullOrigin.statusCode(), "a sandboxed page or a file: alike");
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
    HttpResponse<String> program = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, program.statusCode(), "no Origin: a program, as before");
    f.close();

    f = new ProxyFixture("", "cors_origins: [\"" + PAGE + "\"]");
    HttpResponse<String> listed = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", PAGE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, listed.statusCode(), listed.body());
  }

  /** A GET as a browser sends it, with the {@code Host} its page's address names (the JDK's client will not set that). */
  private int browserGet(String path, String host, String fetchSite) throws Exception {
    okhttp3.Request.Builder b = new okhttp3.Request.Builder().url(f.url(path)).header("Host", host);
    if (fetchSite != null) {
      b.header("Sec-Fetch-Site", fetchSite).header("Sec-Fetch-Mode", "cors");
    }
    try (okhttp3.Response r = new okhttp3.OkHttpClient().newCall(b.build()).execute()) {
      String body = r.body().string();
      if (r.code() == 403) {
        assertTrue(body.contains("\"code\":\"origin_not_allowed\"") && body.contains("'" + host + "'"), body);
      }
      return r.code();
    }
  }

  /**
   * A page reached by DNS rebinding (its name made to point at routewise) is same-origin with it, and
   * its GETs carry no Origin, only {@code Sec-Fetch-Site}: it read the models, and through the
   * passthrough the upstream's files with the upstream's key (a security trial). A frame it leads here
   * through another site's redirect is a cross-site navigation, as readable by it.
   */
  @Test
  void aSameOriginGetFromAPageAtAnAddressNotListedIsRefusedBeforeTheUpstreamIsAsked() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong");
    f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get("/v1/files")
        .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"object\":\"list\",\"data\":[]}")));
    String rebound = "evil.example:" + f.routewise.port();
    assertEquals(403, browserGet("/v1/files", rebound, "same-origin"));
    assertEquals(403, browserGet("/v1/models", rebound, "SAME-ORIGIN"));
    assertEquals(0, f.strong.getAllServeEvents().size());
    assertEquals(403, browserGet("/v1/files", rebound, "cross-site"), "a frame led here through another site");
    assertEquals(403, browserGet("/v1/models", rebound, "same-site"));
    assertEquals(0, f.strong.getAllServeEvents().size());
    assertEquals(200, browserGet("/v1/files", rebound, "none"), "typed in the address bar: no page to read it");
    assertEquals(200, browserGet("/v1/files", rebound, null), "a program");
    f.close();

    // a page at a listed origin served by the reverse proxy in front (which may end TLS): its own address
    f = new ProxyFixture("", "cors_origins: [\"https://app.example.com\"]");
    assertEquals(200, browserGet("/v1/models", "app.example.com", "same-origin"));
    assertEquals(200, browserGet("/v1/models", "app.example.com", "cross-site"), "a link to it");
    assertEquals(403, browserGet("/v1/models", "other.example.com", "same-origin"));
    f.close();
    f = new ProxyFixture("", "cors_origins: [\"*\"]");
    assertEquals(200, browserGet("/v1/models", rebound, "same-origin"), "any page may read it anyway");
  }

  /** The 403 compared origins as strings: pages whose preflight the CORS rule had let through were refused (a review). */
  @Test
  void anOriginTheCorsRuleAllowsIsNotRefused() throws Exception {
    for (String configured : new String[] {"https://*.example.com", "https://app.example.com:443", "https://App.Example.com"}) {
      f = new ProxyFixture("", "cors_origins: [\"" + configured + "\"]");
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
          .header("Origin", PAGE).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), configured + " " + r.body());
      HttpResponse<String> other = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
          .header("Origin", "https://example.com.evil.test").build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(403, other.statusCode(), configured);
      f.close();
    }
    f = new ProxyFixture("");
  }
}
