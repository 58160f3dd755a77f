package io.routewise.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  private static final String VALID = """
      server: {host: 127.0.0.1, port: 7000}
      upstreams:
        strong: {base_url: https://api.openai.com/v1/, api_key: "${OPENAI_API_KEY}", model: gpt-4o}
        weak: {base_url: "http://localhost:11434/v1", api_key: "${WEAK_API_KEY:-none}", model: "llama3.1:8b"}
      routing: {router: random, threshold: 0.25}
      """;

  private static RoutewiseConfig parse(String yaml, Map<String, String> env) {
    return new ConfigLoader(env).parse(yaml, "config.yaml");
  }

  private static String problems(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml, Map.of("OPENAI_API_KEY", "sk-x"))).getMessage();
  }

  @Test
  void readsAValidConfigAndSubstitutesEnvironmentVariables() {
    RoutewiseConfig c = parse(VALID, Map.of("OPENAI_API_KEY", "sk-live"));
    assertEquals(7000, c.server().port());
    assertEquals("https://api.openai.com/v1", c.strong().baseUrl().toString());
    assertEquals("sk-live", c.strong().apiKey().value());
    assertEquals("none", c.weak().apiKey().value());
    assertFalse(c.weak().sendsKey());
    assertEquals("llama3.1:8b", c.weak().model());
    assertEquals(0.25, c.routing().threshold());
    assertEquals(4L * 1024 * 1024, c.server().maxBodyBytes());
    assertEquals(java.time.Duration.ofSeconds(25), c.server().shutdownGrace());
    assertEquals(Runtime.getRuntime().availableProcessors(), c.routing().scoringThreads());
    assertEquals(256, c.routing().scoringQueue());
    assertEquals(java.time.Duration.ofSeconds(2), c.routing().scoringTimeout());
    assertTrue(!c.routing().failover(), "failover is opt-in: a 502 stays a 502 unless asked");
    assertEquals("none", c.routing().passthrough(), "passing other endpoints on with an upstream's key is opt-in");
    assertEquals("auto", c.routing().ladderRule(), "each router gets the rule that suits it by default");
  }

  @Test
  void theHttp2StreamWindowIsReadWithinHttp2sAndOkHttpsOwn() {
    assertEquals(ClientConfig.DEFAULT_HTTP2_STREAM_WINDOW_BYTES, parse(VALID, Map.of("OPENAI_API_KEY", "a")).client()
        .http2StreamWindowBytes());
    assertEquals(4 << 20, parse(VALID + "client: {http2_stream_window_bytes: 4194304}\n", Map.of("OPENAI_API_KEY", "a"))
        .client().http2StreamWindowBytes());
    String msg = problems(VALID + "client: {http2_stream_window_bytes: 1024}\n");
    assertTrue(msg.contains("client.http2_stream_window_bytes: must be between 65535 and 16777216, got 1024"), msg);
  }

  @Test
  void scoringThreadsAndQueueAreCheckedIntegers() {
    String msg = problems(VALID.replace("threshold: 0.25}", "threshold: 0.25, scoring_threads: -1, scoring_queue: lots, scoring_timeout_ms: 0, failover: maybe, passthrough: both, ladder_rule: cheapest}"));
    assertTrue(msg.contains("routing.passthrough: must be one of [none, strong, weak], got 'both'"), msg);
    assertTrue(msg.contains("routing.ladder_rule: must be one of [auto, threshold, price_weighted], got 'cheapest'"), msg);
    assertTrue(msg.contains("routing.failover: must be true or false"), msg);
    assertTrue(msg.contains("routing.scoring_timeout_ms: must be between 1 and 600000"), msg);
    assertTrue(msg.contains("routing.scoring_threads: must be between 0 and 1024, got -1"), msg);
    assertTrue(msg.contains("routing.scoring_queue: must be an integer, got"), msg);
  }

  @Test
  void aKeyThatCannotBeSentStopsTheStartInsteadOfFailingEveryRequest() {
    // a trailing newline from a secret file: every call was a 500 (OkHttp refuses the header), every client a 401
    String msg = assertThrows(ConfigException.class, () -> parse(VALID.replace("server: {host: 127.0.0.1, port: 7000}",
        "server: {host: 127.0.0.1, port: 7000, api_keys: [\"${RW_KEY}\"]}"),
        Map.of("OPENAI_API_KEY", "sk-abc\n", "RW_KEY", "client key"))).getMessage();
    assertTrue(msg.contains("upstreams.strong.api_key: must be visible ASCII without spaces or line breaks "
        + "(character 7 of 7 is a line break)"), msg);
    assertTrue(msg.contains("server.api_keys: entry 1 must be visible ASCII without spaces or line breaks (character 7 "
        + "of 10 is a space)"), msg);
    assertFalse(msg.contains("sk-abc"), "never the key itself: " + msg);
    msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, headers: {OpenAI-Organization: 0123}}")
        .replace("port: 7000}", "port: 7000, api_keys: [0123456, ok, 1_000]}").replace("\"${WEAK_API_KEY:-none}\"", "0777"));
    assertTrue(msg.contains("server.api_keys[2]: must be text"), "every entry, not the first only: " + msg);
    // YAML read each as a number (0777 is 511): they were sent, changed, without a word
    for (String key : List.of("upstreams.weak.api_key", "upstreams.strong.headers.OpenAI-Organization", "server.api_keys[0]")) {
      assertTrue(msg.contains(key + ": must be text, and YAML read it as a number: quote it"), msg);
    }
    assertFalse(msg.contains("42798") || msg.contains("'83'"), "not the values YAML made of them: " + msg);
  }

  @Test
  void aMalformedPlaceholderIsAProblemNotTextSentUpstream() {
    String msg = problems(VALID.replace("model: gpt-4o}", "model: \"${STRONG_MODEL:gpt-4o}\"}")
        .replace("\"${WEAK_API_KEY:-none}\"", "\"${WEAK_API_KEY-}\""));
    assertTrue(msg.contains("upstreams.strong.model: '${STRONG_MODEL:gpt-4o}' is not ${VAR} or ${VAR:-default}"), msg);
    assertTrue(msg.contains("upstreams.weak.api_key: '${WEAK_API_KEY-}' is not ${VAR} or ${VAR:-default}"), msg);
  }

  @Test
  void aBaseUrlWithABadPortOrTheEndpointsPathIsAProblem() {
    String msg = problems(VALID.replace("https://api.openai.com/v1/", "http://127.0.0.1:99999/v1")
        .replace("\"http://localhost:11434/v1\"", "http://localhost:11434/v1/chat/completions"));
    assertTrue(msg.contains("upstreams.strong.base_url: has port 99999, outside 1-65535"), msg);
    assertTrue(msg.contains("upstreams.weak.base_url: ends in /chat/completions: give the API's base"), msg);
  }

  @Test
  void anAliasInsideItsOwnAnchorIsAProblemNotAStackOverflow() {
    String msg = problems(VALID + "embedding: &e {self: *e}\n");
    assertTrue(msg.contains("embedding.self: contains itself"), msg);
  }

  @Test
  void settingsOfAFeatureThatIsOffAreSaidToDoNothing() {
    String yaml = VALID.replace("threshold: 0.25}", "threshold: 0.25, failover_cooldown_ms: 5000, session_ttl_ms: 60000, "
        + "passthrough_endpoints: [embeddings]}");
    ConfigNode root = new ConfigNode("", new org.yaml.snakeyaml.Yaml().load(yaml), new ConfigProblems());
    RoutewiseConfig c = parse(yaml, Map.of("OPENAI_API_KEY", "sk-x"));
    assertEquals(List.of("routing.failover_cooldown_ms does nothing without routing.failover: true",
        "routing.passthrough_endpoints does nothing without routing.passthrough (an upstream's name)",
        "routing.session_ttl_ms does nothing without routing.session_pinning: true"),
        ConfigLoader.idleKeys(root.child("routing"), c.routing()));
    assertEquals(List.of(), ConfigLoader.idleKeys(root.child("routing"), parse(VALID.replace("threshold: 0.25}",
        "threshold: 0.25, failover: true, session_pinning: true, passthrough: strong}"), Map.of("OPENAI_API_KEY", "k"))
        .routing()));
  }

  @Test
  void anUpstreamLeftEmptyIsSaidSo() {
    String msg = problems(VALID.replace("routing:", "  mini:\n    # base_url: http://x/v1\nrouting:"));
    assertTrue(msg.contains("upstreams.mini: is empty: give its base_url and model, or remove it"), msg);
    assertFalse(msg.contains("unknown key"), msg);
  }

  @Test
  void defaultsApplyWhenTheVariableIsUnsetAndValuesWinWhenSet() {
    RoutewiseConfig c = parse(VALID, Map.of("OPENAI_API_KEY", "a", "WEAK_API_KEY", "sk-weak"));
    assertEquals("sk-weak", c.weak().apiKey().value());
  }

  @Test
  void unsetVariableWithoutDefaultNamesTheKeyAndTheVariable() {
    String msg = assertThrows(ConfigException.class, () -> parse(VALID, Map.of())).getMessage();
    assertTrue(msg.contains("upstreams.strong.api_key: environment variable OPENAI_API_KEY is not set"), msg);
  }

  @Test
  void anUnsetVariableIsTheKeysOneProblemNotAlsoTheEmptyValuePutInItsPlace() {
    String msg = assertThrows(ConfigException.class,
        () -> parse(VALID.replace("port: 7000", "port: \"${PORT}\""), Map.of("OPENAI_API_KEY", "a"))).getMessage();
    assertTrue(msg.contains("server.port: environment variable PORT is not set"), msg);
    assertFalse(msg.contains("must be an integer"), msg);
  }

  @Test
  void unknownKeyIsAnErrorWithItsPath() {
    String msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, modle: x}"));
    assertTrue(msg.contains("upstreams.strong.modle: unknown key"), msg);
  }

  @Test
  void missingFieldBadUrlAndThresholdOutOfRangeAreAllReportedAtOnce() {
    String yaml = """
        upstreams:
          strong: {base_url: "ftp://nope", api_key: x}
          weak: {base_url: "not a url", model: m}
        routing: {threshold: 1.5}
        server: {port: 70000, shutdown_grace_ms: -1}
        """;
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml, Map.of()));
    String msg = e.getMessage();
    assertTrue(msg.contains("upstreams.strong.model: is required"), msg);
    assertTrue(msg.contains("upstreams.strong.base_url: must be an http:// or https:// URL"), msg);
    assertTrue(msg.contains("upstreams.weak.base_url"), msg);
    assertTrue(msg.contains("routing.threshold: must be in [0, 1], got 1.5"), msg);
    assertTrue(msg.contains("server.port: must be between 0 and 65535, got 70000"), msg);
    assertTrue(msg.contains("server.shutdown_grace_ms: must be between 0 and 3600000, got -1"), msg);
    assertEquals(6, e.problems().size(), msg);
  }

  @Test
  void upstreamHeadersAreKeptInOrderAndTheirValuesSecret() {
    RoutewiseConfig c = parse(VALID.replace("model: gpt-4o}",
        "model: gpt-4o, headers: {OpenAI-Organization: org-1, X-Extra: \"${EXTRA}\", OpenAI-Project: \"${UNSET:-}\"}}"),
        Map.of("OPENAI_API_KEY", "sk-x", "EXTRA", "extra-secret"));
    assertEquals(java.util.List.of("OpenAI-Organization", "X-Extra"), java.util.List.copyOf(c.strong().headers().keySet()));
    assertEquals("extra-secret", c.strong().headers().get("X-Extra").value());
    assertTrue(c.weak().headers().isEmpty());
    assertFalse(c.toString().contains("extra-secret"), c.toString());
  }

  @Test
  void upstreamHeadersThatCannotWorkStopTheStart() {
    String msg = problems(VALID
        .replace("model: gpt-4o}", "model: gpt-4o, headers: {Authorization: \"Bearer x\", Content-Type: text/plain, \"bad name\": v, X-A: 1, x-a: 2}}")
        .replace("model: \"llama3.1:8b\"}", "model: \"llama3.1:8b\", headers: {Authorization: \"Bearer ok\", X-Multi: \"a\\nb\", api-key: \"s3cr\u00e9t-KEY\"}}"));
    assertTrue(msg.contains("upstreams.strong.headers.Authorization: conflicts with api_key"), msg);
    assertTrue(msg.contains("upstreams.strong.headers.Content-Type: is set by routewise"), msg);
    assertTrue(msg.contains("upstreams.strong.headers.bad name: is not a valid header name"), msg);
    assertTrue(msg.contains("upstreams.strong.headers.x-a: is given twice"), msg);
    assertTrue(msg.contains("upstreams.weak.headers.X-Multi: must be printable ASCII on a single line"), msg);
    assertTrue(msg.contains("upstreams.weak.headers.api-key: must be printable ASCII on a single line"), msg);
    assertFalse(msg.contains("s3cr"), "a header value may be a key: " + msg);
    assertFalse(msg.contains("weak.headers.Authorization"), "the weak upstream sends no api_key, so its own Authorization is fine: " + msg);
  }

  @Test
  void corsOriginsAreOriginsNotUrls() {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", "port: 7000, cors_origins: [\"https://app.example.com\", \"\", \"http://localhost:3000\"]}"),
        Map.of("OPENAI_API_KEY", "k"));
    assertEquals(java.util.List.of("https://app.example.com", "http://localhost:3000"), c.server().corsOrigins());
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, cors_origins: [\"https://app.example.com/chat\", \"https://b.example\", \"*\"]}"));
    assertTrue(msg.contains("server.cors_origins: 'https://app.example.com/chat' is not an origin"), msg);
    assertTrue(msg.contains("server.cors_origins: '*' allows every origin; list no others beside it"), msg);
  }

  @Test
  void hostIsAnAddressOrAHostName() {
    for (String good : new String[] {"0.0.0.0", "::", "::1", "[::1]", "fe80::1%eth0", "localhost", "routewise_1",
        "router.example.com", "0"}) {
      assertEquals(good, parse(VALID.replace("host: 127.0.0.1", "host: \"" + good + "\""), Map.of("OPENAI_API_KEY", "k"))
          .server().host());
    }
    // an empty host bound loopback only (Java reads "" as the loopback address) while an absent one is 0.0.0.0, with
    // no warning and "listening on :6060"; the others passed check (exit 0) and only serve refused them
    String msg = problems(VALID.replace("host: 127.0.0.1", "host: \"\""));
    assertTrue(msg.contains("server.host: must not be empty"), msg);
    for (String bad : new String[] {"*", "0.0.0.0:6060", "http://0.0.0.0", "localhost:8080", "[::1"}) {
      msg = problems(VALID.replace("host: 127.0.0.1", "host: \"" + bad + "\""));
      assertTrue(msg.contains("server.host: '" + bad + "' is not an address or host name"), msg);
    }
  }

  @Test
  void allowedHostsAreHostNamesNotUrls() {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", "port: 7000, allowed_hosts: [router.example.com, \"\", \"*.corp.example\"]}"),
        Map.of("OPENAI_API_KEY", "k"));
    assertEquals(java.util.List.of("router.example.com", "*.corp.example"), c.server().allowedHosts());
    for (String bad : new String[] {"https://router.example.com", "router.example.com:443", "a.example/v1", "a.*.example", "*"}) {
      String msg = problems(VALID.replace("port: 7000}", "port: 7000, allowed_hosts: [\"" + bad + "\"]}"));
      assertTrue(msg.contains("server.allowed_hosts: '" + bad + "' is not a host name"), msg);
    }
    // a trial: these started, and http://*.com let a rebound evil.com in
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, allowed_hosts: [\"*.com\"], cors_origins: [\"http://*.com:8080\"]}"));
    assertTrue(msg.contains("server.allowed_hosts: '*.com' takes every name under a top-level domain"), msg);
    assertTrue(msg.contains("server.cors_origins: 'http://*.com:8080' takes every site under a top-level domain"), msg);
    parse(VALID.replace("port: 7000}", "port: 7000, allowed_hosts: [\"*.example.com\", \"*.internal\"], "
        + "cors_origins: [\"https://*.example.com\", \"http://*.localhost:3000\"]}"), Map.of("OPENAI_API_KEY", "k"));
  }

  @Test
  void aListEntryThatIsNotAStringIsAProblemNotItsPrintedForm() {
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: [{a: b}]}"));
    assertTrue(msg.contains("server.api_keys[0]: must be a string, got a mapping"), "it was the key '{a=b}': " + msg);
    msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: [sk-1, ~]}"));
    assertTrue(msg.contains("server.api_keys[1]: must be a string, got nothing"), "it was the key 'null': " + msg);
    msg = problems(VALID + "routers: [1]\n");
    assertTrue(msg.contains("routers: must be a mapping"), msg);
    assertEquals(msg.indexOf("routers: must be a mapping"), msg.lastIndexOf("routers: must be a mapping"), msg);
  }

  /** server.api_keys as a mapping names each client, whose requests and spend are counted under its name. */
  @Test
  void namedClientKeysAreReadAndEachMustBeItsOwn() {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", "port: 7000, api_keys: {search: sk-s, batch-2: \"${B}\", "
        + "unset: \"${NOPE:-}\"}}"), Map.of("OPENAI_API_KEY", "sk-x", "B", "sk-b"));
    assertEquals(List.of(new ClientKey("search", Secret.of("sk-s")), new ClientKey("batch-2", Secret.of("sk-b")),
        new ClientKey("unset", Secret.of(""))), c.server().apiKeys(),
        "a key left blank is kept blank: it matches nothing, so its client is refused (and warned of)");
    assertEquals(List.of(new ClientKey(null, Secret.of("sk-1"))),
        parse(VALID.replace("port: 7000}", "port: 7000, api_keys: [sk-1, \"\"]}"), Map.of("OPENAI_API_KEY", "sk-x"))
            .server().apiKeys(), "a list as before: unnamed");
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: sk-same, b: sk-same, "
        + "\"team a\": sk-t, A: sk-u, c: \"sk c\", d: 12, \"sk-proj/abc+def\": search}}"));
    assertTrue(msg.contains("server.api_keys.b: is the same key as server.api_keys.a: each client needs its own"), msg);
    assertTrue(msg.contains("server.api_keys: entry 3's name is not a usable client name"), msg);
    assertTrue(msg.contains("server.api_keys: entry 7's name is not a usable client name"), msg);
    assertFalse(msg.contains("team a") || msg.contains("sk-proj"), "a name that is no name may be a key: " + msg);
    assertTrue(msg.contains("server.api_keys.A: differs from client 'a' only in case"), msg);
    assertTrue(msg.contains("server.api_keys.c: must be visible ASCII without spaces"), msg);
    assertTrue(msg.contains("server.api_keys.d: must be text, and YAML read it as a number: quote it"), msg);
    assertFalse(msg.contains("sk-same") || msg.contains("sk-t"), "never a key: " + msg);
  }

  /**
   * A named client may have several keys ({@code keys: [...]}), each its own, so that its key can be
   * rotated without downtime; an empty entry (the old key's variable unset) is dropped.
   */
  @Test
  void aNamedClientMayHaveSeveralKeys() throws Exception {
    String keys = "port: 7000, api_keys: {batch: {keys: [\"${BATCH_KEY}\", \"${BATCH_KEY_OLD:-}\"], budget: {usd: 5}}, "
        + "search: {key: sk-s}, ui: sk-u}}";
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", keys),
        Map.of("OPENAI_API_KEY", "sk-x", "BATCH_KEY", "sk-new", "BATCH_KEY_OLD", "sk-old"));
    ClientKey.Budget five = new ClientKey.Budget(5, ClientKey.Period.DAY);
    assertEquals(List.of(new ClientKey("batch", List.of(Secret.of("sk-new"), Secret.of("sk-old")), five),
        new ClientKey("search", Secret.of("sk-s")), new ClientKey("ui", Secret.of("sk-u"))), c.server().apiKeys());
    assertFalse(c.server().toString().contains("sk-"), "never a key: " + c.server());
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      c = parse(VALID.replace("port: 7000}", keys), Map.of("OPENAI_API_KEY", "sk-x", "BATCH_KEY", "sk-new"));
      assertEquals(new ClientKey("batch", List.of(Secret.of("sk-new")), five), c.server().apiKeys().get(0),
          "the old key retired: dropped");
      c = parse(VALID.replace("port: 7000}", keys), Map.of("OPENAI_API_KEY", "sk-x", "BATCH_KEY", ""));
      assertEquals(new ClientKey("batch", List.of(), five), c.server().apiKeys().get(0), "none left: refused");
      String warned = log.text();
      assertEquals(1, warned.lines().filter(l -> l.contains("has no key")).count(), warned);
      assertTrue(warned.contains("server.api_keys.batch.keys is empty: client 'batch' has no key"), warned);
    }
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {keys: [sk-1, sk-2, sk-1]}, "
        + "b: sk-2, c: {key: sk-3, keys: [sk-4]}, d: {keys: sk-5}, e: {keys: [sk-6, 7]}, f: {keys: [\"${F_OLD}\"]}, "
        + "g: {keys: [\"sk 8\"]}, h: {}, i: {keys: [sk-9], kyes: [sk-10]}}}"));
    assertTrue(msg.contains("server.api_keys.a.keys[2]: is the same key as server.api_keys.a.keys[0]: list it once"), msg);
    assertTrue(msg.contains("server.api_keys.b: is the same key as server.api_keys.a.keys[1]: each client needs its own"),
        msg);
    assertTrue(msg.contains("server.api_keys.c: has both key and keys: write one"), msg);
    assertTrue(msg.contains("server.api_keys.d.keys: must be a list, got a string (not shown"), msg);
    assertTrue(msg.contains("server.api_keys.e.keys[1]: must be text, and YAML read it as a number"), msg);
    assertTrue(msg.contains("server.api_keys.f.keys[0]: environment variable F_OLD is not set"), msg);
    assertTrue(msg.contains("server.api_keys.g.keys[0]: must be visible ASCII without spaces"), msg);
    assertTrue(msg.contains("server.api_keys.h.key: is required"), msg);
    assertTrue(msg.contains("server.api_keys.i.kyes: unknown key"), msg);
    for (int i = 1; i <= 10; i++) {
      assertFalse(msg.contains("sk-" + i) || msg.contains("sk " + i), "never a key: " + msg);
    }
  }

  /**
   * A named key that is wrong (an unset variable, a number, a list) is said once, as the problem that
   * stops the start, not also warned of as an empty key "refused" (an operator trial read both).
   */
  @Test
  void aNamedKeyThatIsWrongIsNotAlsoWarnedOfAsEmpty() throws Exception {
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {ui: \"${UI_KEY}\", n: 12, l: [a, b], "
          + "m: {key: \"${M_KEY}\", budget: {usd: 5, per: week, extra: 1, unpriced: pass}}, e: \"${E_KEY:-}\"}}"));
      assertTrue(msg.contains("server.api_keys.ui: environment variable UI_KEY is not set"), msg);
      assertTrue(msg.contains("server.api_keys.m.budget.per: must be one of [hour, day, month], got 'week'"), msg);
      assertTrue(msg.contains("server.api_keys.m.budget.extra: unknown key"), msg);
      assertTrue(msg.contains("server.api_keys.m.budget.unpriced: must be one of [refuse, allow], got 'pass'"), msg);
      msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {batch: {key: sk-b, budget: }}}"));
      assertTrue(msg.contains("server.api_keys.batch.budget: is empty"), "not no limit: " + msg);
      msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {batch: {key: sk-b, budget: 5}}}"));
      assertTrue(msg.contains("server.api_keys.batch.budget: must be a mapping, got '5'"), "no secret: " + msg);
      String warned = log.text();
      assertTrue(warned.contains("server.api_keys.e is empty: client 'e' has no key"), warned);
      for (String client : new String[] {"ui", "n", "l", "m"}) {
        assertFalse(warned.contains("client '" + client + "' has no key"), warned);
      }
    }
  }

  /** A named client's rate_limit: requests a period (per minute unless said), each key checked and named. */
  @Test
  void aNamedClientsRateLimitIsReadAndItsMistakesNamed() throws Exception {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, rate_limit: "
        + "{requests: 600}}, b: {key: sk-b, rate_limit: {requests: 5, per: second}}, c: sk-c}}"), Map.of("OPENAI_API_KEY", "sk-x"));
    assertEquals(java.util.Arrays.asList(new ClientKey.RateLimit(600, ClientKey.RatePeriod.MINUTE),
        new ClientKey.RateLimit(5, ClientKey.RatePeriod.SECOND), null),
        c.server().apiKeys().stream().map(ClientKey::rateLimit).toList());
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, rate_limit: {requests: 0, "
        + "per: day, burst: 3}}, b: {key: sk-b, rate_limit: {per: hour}}, c: {key: sk-c, rate_limit: }, "
        + "d: {key: sk-d, rate_limit: 60}, e: {key: sk-e, rate_limit: {requests: 1.5}}}}"));
    assertTrue(msg.contains("server.api_keys.a.rate_limit.requests: must be between 1 and 1000000000, got 0"), msg);
    assertTrue(msg.contains("server.api_keys.a.rate_limit.per: must be one of [second, minute, hour], got 'day'"), msg);
    assertTrue(msg.contains("server.api_keys.a.rate_limit.burst: unknown key"), msg);
    assertTrue(msg.contains("server.api_keys.b.rate_limit.requests: is required"), msg);
    assertTrue(msg.contains("server.api_keys.c.rate_limit: is empty"), "not no limit: " + msg);
    assertTrue(msg.contains("server.api_keys.d.rate_limit: must be a mapping"), msg);
    assertTrue(msg.contains("server.api_keys.e.rate_limit.requests: must be an integer"), msg);
  }

  /** A named client's models: names or prefixes ending in *, each mistake named. */
  @Test
  void aNamedClientsModelsAreReadAndTheirMistakesNamed() throws Exception {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, models: "
        + "[\"router-*\", gpt-4o-mini]}, b: sk-b}}"), Map.of("OPENAI_API_KEY", "sk-x"));
    ClientKey a = c.server().apiKeys().get(0);
    assertTrue(a.allowsModel("router-mf-0.3") && a.allowsModel("gpt-4o-mini"));
    assertFalse(a.allowsModel("gpt-4o") || a.allowsModel("upstream-strong") || a.allowsModel("gpt-4o-mini-2024-07-18"));
    assertTrue(c.server().apiKeys().get(1).allowsModel("anything"), "no list: any model");
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, models: []}, "
        + "b: {key: sk-b, models: [\"gpt-*-mini\", \" \"]}, c: {key: sk-c, models: router-*}}}"));
    assertTrue(msg.contains("server.api_keys.a.models: is empty"), msg);
    assertTrue(msg.contains("server.api_keys.b.models[0]: must be a model name, or one ending in *"), msg);
    assertTrue(msg.contains("server.api_keys.b.models[1]: must be a model name"), msg);
    assertTrue(msg.contains("server.api_keys.c.models: must be a list"), msg);
    // white space around a name: no request names it so (chat refuses "router-mf-auto "), the client locked out
    msg = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, models: [\"router-mf-auto \"]}}}"));
    assertTrue(msg.contains("server.api_keys.a.models[0]: must be a model name, or one ending in * for every name it "
        + "starts with, got 'router-mf-auto '"), msg);
  }

  /** model_prices: other models an upstream serves, priced for passthrough; its own model is its price's. */
  @Test
  void modelPricesAreReadAndTheOwnModelIsPricedOnce() {
    RoutewiseConfig c = parse(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 2.5, output: 10}, "
        + "model_prices: {gpt-4o-mini: {input: 0.15, output: 0.6}}}"), Map.of("OPENAI_API_KEY", "sk-x"));
    assertEquals(new Price(0.15, 0.6, 0.15), c.strong().priceOf("gpt-4o-mini"));
    assertEquals(new Price(2.5, 10, 2.5), c.strong().priceOf("gpt-4o"));
    assertEquals(null, c.strong().priceOf("o3"));
    String msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 2.5, output: 10}, "
        + "model_prices: {gpt-4o: {input: 1, output: 1}, o3: 5, o4: {input: 1}}}"));
    assertTrue(msg.contains("upstreams.strong.model_prices: names gpt-4o, this upstream's own model: write its price "
        + "as upstreams.strong.price"), msg);
    assertTrue(msg.contains("upstreams.strong.model_prices.o3: must be a mapping"), msg);
    assertTrue(msg.contains("upstreams.strong.model_prices.o4.output: is required"), msg);
    msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 1.25, output: 10, cached_input: 12.5}, "
        + "model_prices: {o4: {input: 1, output: 4, cached_input: 1.5}}}"));
    assertTrue(msg.contains("upstreams.strong.price.cached_input: is above input (12.5 > 1.25)"), "a slipped decimal: " + msg);
    assertTrue(msg.contains("upstreams.strong.model_prices.o4.cached_input: is above input"), msg);
    msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 0x1F, output: 10, cached_input: 12.5}}"));
    assertTrue(msg.contains("upstreams.strong.price.input: must be written in decimal"), msg);
    assertFalse(msg.contains("cached_input"), "the input's problem alone, not a comparison with its fallback: " + msg);
    assertEquals(new Price(1, 4, 1), parse(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 1, output: 4, "
        + "cached_input: 1}}"), Map.of("OPENAI_API_KEY", "sk-x")).strong().price(), "no discount is a price");
    msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, model_prices: {gpt-4o: {input: 1, output: 1}}}"));
    assertTrue(msg.contains("upstreams.strong.model_prices: names gpt-4o"), "without a price too: routed answers "
        + "would go unpriced: " + msg);
  }

  /** A model_prices id may end in '*' (every id it begins: snapshots), nowhere else; a budget refuses unpriced ones. */
  @Test
  void aModelPricesIdMayEndInAStar() {
    RoutewiseConfig c = parse(VALID.replace("model: gpt-4o}", "model: gpt-4o, price: {input: 2.5, output: 10}, "
        + "model_prices: {gpt-4o-mini-*: {input: 0.15, output: 0.6}}}"), Map.of("OPENAI_API_KEY", "sk-x"));
    assertEquals(new Price(0.15, 0.6, 0.15), c.strong().priceOf("gpt-4o-mini-2024-07-18"));
    assertEquals(null, c.strong().priceOf("gpt-4o-mini"));
    assertEquals(new Price(2.5, 10, 2.5), c.strong().priceOf("gpt-4o"));
    String msg = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, "
        + "model_prices: {\"gpt-*-mini\": {input: 1, output: 1}, \"*\": {input: 1, output: 1}}}"));
    assertTrue(msg.contains("upstreams.strong.model_prices: has 'gpt-*-mini': '*' may only end an id"), msg);
    assertTrue(msg.contains("upstreams.strong.model_prices: has '*': '*' may only end an id"), msg);
    RoutewiseConfig budgets = parse(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, budget: "
        + "{usd: 1}}, b: {key: sk-b, budget: {usd: 1, unpriced: allow, uncapped_tokens: 4000}}}}"),
        Map.of("OPENAI_API_KEY", "sk-x"));
    assertEquals(java.util.List.of(false, true), budgets.server().apiKeys().stream()
        .map(k -> k.budget().allowUnpriced()).toList());
    assertEquals(java.util.List.of(500L, 4000L), budgets.server().apiKeys().stream()
        .map(k -> k.budget().uncappedTokens()).toList());
    assertTrue(problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {a: {key: sk-a, budget: {usd: 1, "
        + "uncapped_tokens: 0}}}}")).contains("server.api_keys.a.budget.uncapped_tokens"));
  }

  @Test
  void missingUpstreamsIsReported() {
    String msg = problems("routing: {router: random}\n");
    assertTrue(msg.contains("upstreams: is required"), msg);
  }

  @Test
  void aCommandThatCallsNoUpstreamReadsAnUnsetKeyAsEmpty() {
    assertTrue(assertThrows(ConfigException.class, () -> parse(VALID, Map.of())).getMessage()
        .contains("environment variable OPENAI_API_KEY is not set"), "serving needs it set");
    RoutewiseConfig c = ConfigLoader.offline(Map.of()).parse(VALID, "config.yaml");
    assertEquals("", c.strong().apiKey().value());
    assertEquals("gpt-4o", c.strong().model());
  }

  @Test
  void keysNeverAppearInToStringOrErrors() {
    RoutewiseConfig c = parse(VALID, Map.of("OPENAI_API_KEY", "sk-very-secret"));
    assertFalse(c.toString().contains("sk-very-secret"));
    String msg = problems(VALID.replace("threshold: 0.25", "threshold: 2") .replace("${OPENAI_API_KEY}", "sk-very-secret"));
    assertFalse(msg.contains("sk-very-secret"), msg);
  }

  @Test
  void invalidYamlAndMissingFileAreClear(@TempDir Path dir) throws Exception {
    assertTrue(problems("server: [unclosed").contains("not valid YAML"));
    // SnakeYAML quotes the line it stopped at: a literal key there was in the start's error
    String broken = problems(VALID.replace("\"${OPENAI_API_KEY}\"", "[sk-literal-secret-1234"));
    assertTrue(broken.matches("(?s).*not valid YAML: .*\\(line \\d+, column \\d+\\).*"), broken);
    assertFalse(broken.contains("sk-literal"), broken);
    // unquoted, a key beginning with '*' is an alias and one with '!' a tag: SnakeYAML's problem names it
    for (String key : new String[] {"*sk-literal-secret-1234", "!sk-literal-secret-1234", "!!sk-literal-secret-1234"}) {
      String named = problems(VALID.replace("\"${OPENAI_API_KEY}\"", key));
      assertTrue(named.contains("not valid YAML") && named.matches("(?s).*\\(line \\d+, column \\d+\\).*"), named);
      assertFalse(named.contains("literal-secret"), named);
      named = problems("server:\n  api_keys:\n    - " + key + "\n"); // block style: another path through the parser
      assertTrue(named.contains("not valid YAML") && named.matches("(?s).*\\(line \\d+, column \\d+\\).*"), named);
      assertFalse(named.contains("literal-secret"), named);
    }
    Path latin1 = dir.resolve("latin1.yaml");
    Files.write(latin1, "# caf\u00e9\nserver: {port: 1}\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    String notUtf8 = assertThrows(ConfigException.class, () -> new ConfigLoader(Map.of()).load(latin1)).getMessage();
    assertTrue(notUtf8.contains("latin1.yaml: is not UTF-8 text"), notUtf8);
    // two upstreams of one name: the first is not dropped silently
    String twice = problems(VALID.replace("upstreams:\n", "upstreams:\n  weak:\n    base_url: http://127.0.0.1:1/v1\n    model: m\n"));
    assertTrue(twice.contains("found duplicate key weak") && twice.contains("two upstreams need two names") && twice.contains("(line 7)"), twice);
    assertTrue(assertThrows(ConfigException.class,
        () -> new ConfigLoader(Map.of()).load(dir.resolve("absent.yaml"))).getMessage().contains("file not found"));
    Path f = dir.resolve("c.yaml");
    Files.writeString(f, VALID);
    assertEquals(7000, new ConfigLoader(Map.of("OPENAI_API_KEY", "k")).load(f).server().port());
  }

  /** "${ROUTEWISE_API_KEY}" where a list belongs printed the key itself in the start-up error (a security trial). */
  @Test
  void aCredentialOfTheWrongTypeIsNotQuotedInTheError() {
    Map<String, String> env = Map.of("OPENAI_API_KEY", "sk-x", "ROUTEWISE_API_KEY", "rw-SECRET-clientkey");
    String message = assertThrows(ConfigException.class, () -> parse(VALID.replace("server: {host: 127.0.0.1, port: 7000}",
        "server: {host: 127.0.0.1, port: 7000, api_keys: \"${ROUTEWISE_API_KEY}\"}"), env)).getMessage();
    assertTrue(message.contains("server.api_keys: must be a list, got a string (not shown"), message);
    assertFalse(message.contains("rw-SECRET"), message);
    String port = assertThrows(ConfigException.class, () -> parse(VALID.replace("port: 7000", "port: \"x7\""), env))
        .getMessage();
    assertTrue(port.contains("got 'x7'"), "other values are quoted as before: " + port);
  }

  @Test
  void shippedConfigYamlIsValid() {
    RoutewiseConfig c = new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-x")).load(Path.of("config.yaml"));
    assertEquals(6060, c.server().port());
    assertEquals("gpt-4o", c.strong().model());
    assertEquals(List.of(), c.server().allowedHosts(), "an unset ROUTEWISE_ALLOWED_HOST adds none");
    assertEquals(List.of("router.example.com"), new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-x", "ROUTEWISE_ALLOWED_HOST",
        "router.example.com")).load(Path.of("config.yaml")).server().allowedHosts());
    // a default install warns of nothing, or operators learn to skip warnings (review)
    java.util.Map<String, Object> raw = new org.yaml.snakeyaml.Yaml().load(readShipped());
    assertEquals(List.of(), ConfigLoader.idleKeys(new ConfigNode("", raw, new ConfigProblems()).child("routing"),
        c.routing()));
  }

  /**
   * A config's commented-out settings made live: each comment at a key's indentation whose text is a
   * key of one line of YAML ({@code # failover_cooldown_ms: 10000}, {@code # mini:}), not prose, nor a
   * placeholder's {@code ...}. What the README's reference and config.yaml show as optional must load.
   */
  static String withCommentedKeys(String yaml) {
    StringBuilder out = new StringBuilder();
    java.util.regex.Pattern keyLine = java.util.regex.Pattern.compile("^( {0,6})# ( *[a-z_]+:(?: .*)?)$");
    for (String line : yaml.split("\n", -1)) {
      java.util.regex.Matcher m = keyLine.matcher(line);
      if (m.matches() && !line.contains("...")) {
        try {
          new org.yaml.snakeyaml.Yaml().load(m.group(2).trim());
          line = m.group(1) + m.group(2);
        } catch (org.yaml.snakeyaml.error.YAMLException prose) {
          // "# routers: {mf: ...} and the keys below": a sentence, left as it is
        }
      }
      out.append(line).append('\n');
    }
    return out.toString();
  }

  /** The README's "## Configuration" reference block. */
  static String readmeReference() throws java.io.IOException {
    String readme = Files.readString(Path.of("README.md"));
    int start = readme.indexOf("```yaml\n", readme.indexOf("\n## Configuration\n")) + "```yaml\n".length();
    return readme.substring(start, readme.indexOf("\n```\n", start) + 1);
  }

  @Test
  void theReadmesConfigurationReferenceLoadsWithEveryOptionalKeyAndShowsTheDefaults() throws Exception {
    String reference = withCommentedKeys(readmeReference());
    assertTrue(reference.contains("\n  scoring_threads: 8") && reference.contains("\n    accepts: [text, image]"), reference);
    RoutewiseConfig r = new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-x")).parse(reference, "README.md");
    java.nio.file.Path modelsDir = Path.of("models");
    io.routewise.embedding.EmbeddingSettings.from(r.embedding(), modelsDir); // its embedding names a shipped table
    r.embedding().problems().throwIfAny();
    // what the block shows, where its comment gives no other default, is what a config without the key gets
    RoutewiseConfig d = parse("""
        upstreams:
          strong: {base_url: "https://api.openai.com/v1", model: gpt-4o}
          weak: {base_url: "http://localhost:11434/v1", model: "llama3.1:8b"}
        """, Map.of());
    assertEquals(d.server().withPort(6060).toString().replaceAll("maxBufferedBodyBytes=\\d+", ""),
        r.server().toString().replaceAll("maxBufferedBodyBytes=\\d+", ""));
    for (UpstreamConfig u : List.of(r.strong(), r.weak())) {
      assertEquals(d.weak().timeout(), u.timeout(), u.name());
      assertEquals(d.weak().connectTimeout(), u.connectTimeout(), u.name());
      assertEquals(d.weak().streamUsage(), u.streamUsage(), u.name());
    }
    assertEquals("random", d.routing().router(), "the block's comment: (default: random)");
    assertEquals(0.5, d.routing().threshold(), "the block's comment: default 0.5");
    RoutingConfig rr = r.routing();
    RoutingConfig dr = d.routing();
    assertEquals(List.of(dr.scoringQueue(), dr.scoringTimeout(), dr.failover(), dr.failoverCooldown(), dr.passthrough(),
        dr.passthroughEndpoints(), dr.directUpstreams(), dr.ladderRule(), dr.sessionPinning(),
        List.of(dr.tokenMix()[0], dr.tokenMix()[1])),
        List.of(rr.scoringQueue(), rr.scoringTimeout(), rr.failover(), rr.failoverCooldown(), rr.passthrough(),
        rr.passthroughEndpoints(), rr.directUpstreams(), rr.ladderRule(), rr.sessionPinning(),
        List.of(rr.tokenMix()[0], rr.tokenMix()[1])));
    StateConfig local = StateConfig.LOCAL;
    assertEquals(List.of(local.sync(), local.timeout(), local.pinTimeout(), local.keyPrefix()),
        List.of(r.state().sync(), r.state().timeout(), r.state().pinTimeout(), r.state().keyPrefix()));
    assertEquals(d.client(), r.client());
    assertEquals(d.modelsDir(), r.modelsDir());
  }

  @Test
  void theShippedConfigLoadsWithItsCommentedOutExamplesTurnedOn() throws Exception {
    String shipped = withCommentedKeys(readShipped());
    assertTrue(shipped.contains("\n  mini:\n") && shipped.contains("\nstate:\n"), shipped);
    RoutewiseConfig c = new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-x")).parse(shipped, "config.yaml");
    assertEquals(List.of("strong", "weak", "mini"), c.upstreams().stream().map(UpstreamConfig::name).toList());
    assertTrue(c.state().shared());
  }

  private static String readShipped() {
    try {
      return Files.readString(Path.of("config.yaml"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void requestBodyLimits() {
    RoutewiseConfig c = parse(VALID.replace("port: 7000}",
        "port: 7000, max_body_bytes: 1000, max_buffered_body_bytes: 5000, min_body_bytes_per_second: 0}"),
        Map.of("OPENAI_API_KEY", "k"));
    assertEquals(5000, c.server().maxBufferedBodyBytes());
    assertEquals(0, c.server().minBodyBytesPerSecond());
    ServerConfig defaults = parse(VALID, Map.of("OPENAI_API_KEY", "k")).server();
    assertEquals(Math.max(ServerConfig.DEFAULT_MAX_BODY_BYTES, Runtime.getRuntime().maxMemory() / 8),
        defaults.maxBufferedBodyBytes());
    assertEquals(16384, defaults.minBodyBytesPerSecond());
    String msg = problems(VALID.replace("port: 7000}", "port: 7000, max_body_bytes: 1000, max_buffered_body_bytes: 999}"));
    assertTrue(msg.contains("server.max_buffered_body_bytes: is 999, below max_body_bytes (1000)"), msg);
  }

  @Test
  void passthroughEndpointsArePathsBelowV1() {
    RoutewiseConfig c = parse(VALID.replace("threshold: 0.25}", "threshold: 0.25, passthrough: weak, "
        + "passthrough_endpoints: [embeddings, audio/transcriptions]}"), Map.of("OPENAI_API_KEY", "k"));
    assertEquals(java.util.List.of("embeddings", "audio/transcriptions"), c.routing().passthroughEndpoints());
    assertEquals(java.util.List.of(), parse(VALID, Map.of("OPENAI_API_KEY", "k")).routing().passthroughEndpoints());
    String msg = problems(VALID.replace("threshold: 0.25}", "threshold: 0.25, passthrough_endpoints: [/v1/files]}"));
    assertTrue(msg.contains("routing.passthrough_endpoints: '/v1/files' is not a path below /v1/"), msg);
  }

  /**
   * SnakeYAML stops at 50 aliases, but each may stand for a structure holding the one before: 24 anchors
   * of two aliases each are 2^24 leaves. Substitution copied every alias's structure anew, so such a
   * file took minutes and gigabytes (an OutOfMemoryError at -Xmx1g) before saying anything.
   */
  @Test
  void anAliasBombWithinSnakeYamlsAliasLimitIsRefusedWithoutExpandingIt() {
    StringBuilder yaml = new StringBuilder(VALID).append("x0: &x0 [\"${OPENAI_API_KEY}\", b]\n");
    for (int i = 1; i <= 24; i++) {
      yaml.append("x").append(i).append(": &x").append(i).append(" [*x").append(i - 1).append(", *x").append(i - 1).append("]\n");
    }
    yaml.append("embedding: {model: *x24}\n");
    String msg = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
        () -> problems(yaml.toString()));
    assertTrue(msg.contains("x24: unknown key"), msg);
    // an alias still reads as its anchor's value, substituted, wherever it is used
    RoutewiseConfig c = parse(VALID.replace("routing: {router: random, threshold: 0.25}",
        "routing: {router: random, threshold: &t \"${T}\"}\nclient: {max_idle_connections: *t}"),
        Map.of("OPENAI_API_KEY", "k", "T", "1"));
    assertEquals(1.0, c.routing().threshold());
    assertEquals(1, c.client().maxIdleConnections());
  }

  /**
   * A problem shows the value it refuses unless its key may hold a credential; "key" and "token"
   * anywhere in the path hid a client's rate limit (under api_keys), token_mix and max_tokens alike.
   */
  @Test
  void aClientsRateLimitAndTokenSettingsAreShownInProblemsButKeysAreNot() {
    String msg = problems(VALID.replace("threshold: 0.25}", "threshold: 0.25, token_mix: {input: three, output: 1}}")
        .replace("port: 7000}", "port: 7000, api_keys: {alice: {key: sk-alice-secret, rate_limit: {requests: 1.5}}, "
            + "bob: {key: [sk-bob-secret]}}}"));
    assertTrue(msg.contains("server.api_keys.alice.rate_limit.requests: must be an integer, got '1.5'"), msg);
    assertTrue(msg.contains("routing.token_mix.input: must be a number, got 'three'"), msg);
    assertTrue(msg.contains("server.api_keys.bob.key: must be a string, got a list"), msg);
    assertFalse(msg.contains("secret"), msg);
    String scalar = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: sk-scalar-secret}"));
    assertTrue(scalar.contains("server.api_keys: must be a list, got a string (not shown"), scalar);
    String header = problems(VALID.replace("model: gpt-4o}", "model: gpt-4o, headers: {X-Key: {a: b}, api-key: 7}"));
    assertFalse(header.contains("a: b") || header.contains("'7'"), header);
  }

  /**
   * A number, switch or choice written with no value took its default without a word (a config trial:
   * `port:` served on 6060, a budget's `per:` was a day); leaving the key out still takes it.
   */
  @Test
  void aSettingWrittenWithNoValueIsAProblemNotItsDefault() {
    String msg = problems(VALID.replace("port: 7000}", "port: }").replace("threshold: 0.25}", "threshold: ~, failover: }")
        .replace("api_key: \"${OPENAI_API_KEY}\", model: gpt-4o}", "api_key: \"${OPENAI_API_KEY}\", model: gpt-4o, "
            + "price: {input: 1, output: 2, cached_input: }}"));
    for (String path : new String[] {"server.port", "routing.threshold", "routing.failover", "upstreams.strong.price.cached_input"}) {
      assertTrue(msg.contains(path + ": has no value: give one, or leave the key out for its default"), path + " in " + msg);
    }
    String per = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {alice: {key: sk-a, budget: {usd: 1, per: }}}}"));
    assertTrue(per.contains("server.api_keys.alice.budget.per: has no value"), per);
    String usd = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {alice: {key: sk-a, budget: {usd: }}}}"));
    assertEquals(1, usd.split("budget.usd", -1).length - 1, "said once, not also as missing: " + usd);
    assertEquals(0.5, parse(VALID.replace(", threshold: 0.25", ""), Map.of("OPENAI_API_KEY", "k"))
        .routing().threshold(), "left out: the default");
  }

  /**
   * A setting with a default written with no value is no more its default when it is text than when it
   * is a number: `router:` routed at random and `host:` listened on every address (where `host: ""` is
   * refused), without a word.
   */
  @Test
  void aTextSettingWithADefaultWrittenWithNoValueIsAProblemToo() {
    String msg = problems(VALID.replace("host: 127.0.0.1,", "host: ,").replace("router: random,", "router: ,"));
    for (String path : new String[] {"server.host", "routing.router"}) {
      assertTrue(msg.contains(path + ": has no value: give one, or leave the key out for its default"), path + " in " + msg);
    }
    String per = problems(VALID.replace("port: 7000}", "port: 7000, api_keys: {alice: {key: sk-a, rate_limit: {requests: 5, per: }}}}"));
    assertEquals(1, per.split("rate_limit.per", -1).length - 1, "a choice's said once: " + per);
    assertEquals("random", parse(VALID.replace("router: random, ", ""), Map.of("OPENAI_API_KEY", "k")).routing().router(),
        "left out: the default");
    // an api_key left empty is no key, as "" is (README: "none" or empty)
    assertTrue(parse(VALID.replace("api_key: \"${WEAK_API_KEY:-none}\"", "api_key: "), Map.of("OPENAI_API_KEY", "k"))
        .weak().apiKey().isBlank());
  }
}
