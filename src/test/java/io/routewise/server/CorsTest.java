package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  /** A request as a browser sends it to the address it was given, {@code Host} and all (the JDK's client will not set that). */
  private int requestFor(String host, String method, String path) throws Exception {
    okhttp3.Request.Builder b = new okhttp3.Request.Builder().url(f.url(path)).header("Host", host)
        .header("Authorization", "Bearer page-key");
    if (method.equals("POST")) {
      b.post(okhttp3.RequestBody.create(ApiKeysTest.CHAT, okhttp3.MediaType.get("application/json")));
    }
    try (okhttp3.Response r = new okhttp3.OkHttpClient().newCall(b.build()).execute()) {
      String body = r.body().string();
      if (r.code() == 403) {
        assertTrue(body.contains("\"code\":\"host_not_allowed\"") && body.contains("server.allowed_hosts"), body);
      }
      return r.code();
    }
  }

  /**
   * A page reached by DNS rebinding (its name pointed at routewise) is same-origin with it: over plain
   * HTTP Chromium sends its GETs, frames included, with neither Origin nor Sec-Fetch-*, and it read the
   * models and, through the passthrough, the upstream's files with the upstream's key (a trial with a
   * real browser). Its requests still name its host, which a keyless routewise now refuses.
   */
  @Test
  void aKeylessInstanceAnswersOnlyHostNamesItKnows() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong");
    f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.get("/v1/files")
        .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"object\":\"list\",\"data\":[]}")));
    int port = f.routewise.port();
    for (String rebound : new String[] {"evil.example:" + port, "evil.example.:" + port, "127.0.0.1.evil.example"}) {
      assertEquals(403, requestFor(rebound, "GET", "/v1/files"), rebound);
      assertEquals(403, requestFor(rebound, "GET", "/v1/models"), rebound);
      assertEquals(403, requestFor(rebound, "POST", "/v1/chat/completions"), rebound);
    }
    assertEquals(0, f.strong.getAllServeEvents().size());
    assertEquals(200, requestFor("evil.example", "GET", "/health"), "probes and scrapers are not asked");
    // names no public DNS gives an attacker: addresses, localhost, a container's or a service's name
    for (String known : new String[] {"127.0.0.1:" + port, "[::1]:" + port, "localhost:" + port, "LocalHost",
        "app.localhost", "routewise:6060", "routewise.default.svc.cluster.local", "llm.internal", "10.0.0.7"}) {
      assertEquals(200, requestFor(known, "GET", "/v1/models"), known);
    }
    assertEquals(200, requestFor("localhost", "GET", "/v1/files"));
    // behind nginx's default proxy_pass the Host is routewise's own address: the name asked for counts too
    try (okhttp3.Response r = new okhttp3.OkHttpClient().newCall(new okhttp3.Request.Builder().url(f.url("/v1/files"))
        .header("X-Forwarded-Host", "evil.example").build()).execute()) {
      assertEquals(403, r.code());
    }
    String metrics = f.get("/metrics").body();
    assertTrue(metrics.contains("routewise_access_refused_total{reason=\"host_not_allowed\"} 10.0"), metrics);
    assertTrue(metrics.contains("routewise_access_refused_total{reason=\"invalid_api_key\"} 0.0"), metrics);
    f.close();

    f = new ProxyFixture("", "allowed_hosts: [router.example.com, \"*.corp.example\"], "
        + "cors_origins: [\"https://app.example.com\"]");
    for (String listed : new String[] {"router.example.com", "Router.Example.com:443", "a.corp.example",
        "app.example.com"}) {
      assertEquals(200, requestFor(listed, "GET", "/v1/models"), listed);
    }
    assertEquals(403, requestFor("corp.example", "GET", "/v1/models"));
    assertEquals(403, requestFor("evil.example", "GET", "/v1/models"));
    f.close();

    // with keys a rebound page has none to send; with "*" any page may read it anyway
    f = new ProxyFixture("", "api_keys: [page-key]");
    assertEquals(200, requestFor("router.example.com", "POST", "/v1/chat/completions"));
    f.close();
    f = new ProxyFixture("", "cors_origins: [\"*\"]");
    assertEquals(200, requestFor("router.example.com", "GET", "/v1/models"));
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

  /**
   * The CORS rule matches an Origin as sent, case and all (browsers send it in lower case), and answers
   * one it does not match 400 without halting; the 403 lowercased it and let it through, so a client
   * sending {@code HTTPS://APP.EXAMPLE.COM} was answered 400 carrying the models, or a chat spent
   * upstream and then answered 400 (a review): refused alike, before anything is spent.
   */
  @Test
  void anOriginTheCorsRuleDoesNotMatchIsRefusedNotAnswered400() throws Exception {
    f = new ProxyFixture("", "cors_origins: [\"" + PAGE + "\"]");
    for (String origin : new String[] {"HTTPS://APP.EXAMPLE.COM", "https://App.Example.com"}) {
      HttpResponse<String> models = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
          .header("Origin", origin).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(403, models.statusCode(), origin + " " + models.body());
      assertTrue(models.body().contains("\"code\":\"origin_not_allowed\""), models.body());
      HttpResponse<String> r = chat(origin);
      assertEquals(403, r.statusCode(), origin + " " + r.body());
    }
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size(), "nothing spent");
    assertEquals(200, chat(PAGE).statusCode(), "the page itself still passes");
  }

  /**
   * A browser extension's or a desktop app's page sends its own scheme as its origin
   * ({@code chrome-extension://<id>}, {@code app://obsidian.md}); the 403 tells its operator to list
   * it in server.cors_origins, and the start refused that ("is not an origin"), so only "*" (every
   * page, no rebinding check) let such a client in.
   */
  @Test
  void anExtensionOrAppOriginCanBeListed() throws Exception {
    String extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + extension + "\", \"app://obsidian.md\"]");
    HttpResponse<String> pre = preflight(extension);
    assertEquals(Optional.of(extension), header(pre, "access-control-allow-origin"), pre.headers().toString());
    for (String origin : new String[] {extension, "app://obsidian.md"}) {
      HttpResponse<String> r = chat(origin);
      assertEquals(200, r.statusCode(), origin + " " + r.body());
      assertEquals(Optional.of(origin), header(r, "access-control-allow-origin"), origin);
    }
    HttpResponse<String> other = chat("chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba");
    assertEquals(403, other.statusCode(), other.body());
    assertTrue(other.body().contains("origin_not_allowed"), other.body());
    assertEquals(2, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size(), "the listed two only");
  }

  /**
   * {@code *.} stands for one label, as the CORS rule reads it: a page two labels down had passed the
   * 403 and been spent for, its answer carrying no CORS header (a browser threw it away), and {@code
   * /v1/models} answered it 400 with the list (an operator trial).
   */
  @Test
  void aWildcardOriginStandsForOneLabelAsTheCorsRuleReadsIt() throws Exception {
    f = new ProxyFixture("", "cors_origins: [\"https://*.example.com\"]");
    HttpResponse<String> deep = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", "https://a.b.example.com").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, deep.statusCode(), deep.body());
    assertTrue(deep.body().contains("origin_not_allowed"), deep.body());
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size(), "nothing spent");
    HttpResponse<String> models = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/models")))
        .header("Origin", "https://a.b.example.com").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(403, models.statusCode(), models.body());
    HttpResponse<String> one = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Origin", "https://b.example.com").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ApiKeysTest.CHAT)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, one.statusCode(), one.body());
    assertEquals("https://b.example.com", one.headers().firstValue("access-control-allow-origin").orElse(null));
  }

  /**
   * A passthrough answer that fails before a byte went out (its body broke off, or stalled past
   * timeout_ms) became a 502 or 504 with every header wiped, the CORS ones too: a page's fetch saw
   * "TypeError: Failed to fetch" instead of the error and its x-should-retry (a browser trial).
   */
  @Test
  void aPassthroughAnswerThatFailsBeforeItsBodyStillCarriesTheCorsHeaders() throws Exception {
    f = ProxyFixture.edited("", yaml -> io.routewise.TestConfigs.withServer(
        io.routewise.TestConfigs.withRouting(yaml, "passthrough: strong"), "cors_origins: [\"" + PAGE + "\"]"));
    f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post("/v1/embeddings").willReturn(
        com.github.tomakehurst.wiremock.client.WireMock.aResponse()
            .withFault(com.github.tomakehurst.wiremock.http.Fault.MALFORMED_RESPONSE_CHUNK)));
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/embeddings")))
        .header("Origin", PAGE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"input\":\"x\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(502, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"upstream_unreachable\""), r.body());
    assertEquals(Optional.of(PAGE), header(r, "access-control-allow-origin"), "so the page can read why: " + r.headers());
    assertTrue(header(r, "access-control-expose-headers").orElse("").contains("x-request-id"), r.headers().toString());
  }

  /**
   * The README exposes x-ratelimit-* to a page, and routewise relays every such header; only OpenAI's
   * six names were exposed, so a page behind OpenRouter or Together (x-ratelimit-remaining, ...) read
   * null where curl saw the value (a browser trial).
   */
  @Test
  void everyRelayedRateLimitHeaderIsExposedToThePage() throws Exception {
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + PAGE + "\"]");
    for (com.github.tomakehurst.wiremock.WireMockServer upstream : new com.github.tomakehurst.wiremock.WireMockServer[] {f.strong, f.weak}) {
      upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post("/v1/chat/completions").willReturn(
          com.github.tomakehurst.wiremock.client.WireMock.okJson(ProxyFixture.COMPLETION.formatted("m", "m"))
              .withHeader("x-ratelimit-remaining", "41").withHeader("x-ratelimit-limit-tokens-minute", "9000")));
    }
    HttpResponse<String> r = chat(PAGE);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(Optional.of("41"), header(r, "x-ratelimit-remaining"), "relayed");
    java.util.Set<String> exposed = new java.util.HashSet<>();
    for (String name : header(r, "access-control-expose-headers").orElse("").split(",")) {
      exposed.add(name.trim());
    }
    for (String name : new String[] {"x-ratelimit-remaining", "x-ratelimit-limit-tokens-minute", "x-ratelimit-remaining-requests"}) {
      assertTrue(exposed.contains(name) || exposed.contains("*"), name + " readable by the page: " + exposed);
    }
    assertTrue(exposed.contains("x-routewise-model"), exposed.toString());
  }
  /**
   * A page that sends a key is always preflighted, and a preflight from an origin cors_origins does
   * not list (a typo: app.exmaple.com) was answered without its CORS header, and neither counted nor
   * logged: the page's requests never came, and the operator saw nothing to say why.
   */
  @Test
  void aPreflightFromAnOriginNotListedIsCountedAndLoggedOnce() throws Exception {
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + PAGE + "\"]");
    String typo = "https://app.exmaple.com";
    String logged;
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> pre = preflight(typo);
        assertEquals(Optional.empty(), header(pre, "access-control-allow-origin"));
        assertEquals(403, pre.statusCode(), pre.body());
        assertTrue(pre.body().contains("\"code\":\"origin_not_allowed\""), pre.body());
      }
      assertEquals(Optional.of(PAGE), header(preflight(PAGE), "access-control-allow-origin"), "a listed page still passes");
      logged = log.text();
    }
    String metrics = f.get("/metrics").body();
    assertTrue(metrics.contains("routewise_access_refused_total{reason=\"origin_not_allowed\"} 3.0"), metrics);
    assertEquals(1, logged.split(java.util.regex.Pattern.quote("'" + typo + "'"), -1).length - 1,
        "said once for that origin: " + logged);
    assertTrue(logged.contains("server.cors_origins"), logged);
    assertEquals(0, f.strong.getAllServeEvents().size() + f.weak.getAllServeEvents().size());
  }

  /** A request written by hand on a fresh connection: the answer's head and body. */
  private String[] raw(String request) throws Exception {
    io.routewise.RawHttp.Answer a = io.routewise.RawHttp.exchange(f.routewise.port(), request);
    return new String[] {a.head().toLowerCase(Locale.ROOT), new String(a.body(), java.nio.charset.StandardCharsets.UTF_8)};
  }

  /**
   * What the HTTP server refuses before any route runs (a header block over 8 KiB, a second Host, a
   * URI it cannot decode) carried no CORS headers, though routewise's own errors do: a page on a
   * listed origin saw an opaque network failure instead of the error's JSON (a review).
   */
  @Test
  void whatTheHttpServerRefusesCarriesTheCorsHeadersToo() throws Exception {
    f = new ProxyFixture("", "api_keys: [page-key], cors_origins: [\"" + PAGE + "\"]");
    for (String[] c : new String[][] {
        {"431", "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE + "\r\nX-Big: "
            + "j".repeat(9_000) + "\r\nContent-Length: 2\r\n\r\n{}"},
        {"400", "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: other\r\nOrigin: " + PAGE
            + "\r\nContent-Length: 2\r\n\r\n{}"},
        {"400", "GET /v1/models%00 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE + "\r\n\r\n"},
        {"400", "GET /v1/models%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE + "\r\n\r\n"}}) {
      String[] r = raw(c[1]);
      assertTrue(r[0].startsWith("http/1.1 " + c[0]), r[0]);
      assertTrue(r[1].contains("\"error\""), r[1]);
      assertTrue(r[0].contains("\r\naccess-control-allow-origin: " + PAGE + "\r\n"), "the page can read it: " + r[0]);
      assertTrue(r[0].contains("\r\nvary: origin\r\n"), r[0]);
      assertTrue(r[0].contains("access-control-expose-headers: ") && r[0].contains("x-request-id"), r[0]);
    }
    String[] other = raw("GET /v1/models%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\r\n");
    assertTrue(other[0].startsWith("http/1.1 400"), other[0]);
    assertFalse(other[0].contains("access-control-allow-origin"), "an origin not listed reads nothing: " + other[0]);
  }
}
