package io.routewise.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Prices, targets, shared state and session pinning: what they read, and how bad values are named. */
class TargetStateConfigTest {
  private static final String BASE = """
      upstreams:
        strong: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: s%s}
        weak: {base_url: "http://127.0.0.1:2/v1", api_key: none, model: w%s}
      routing: {router: random, threshold: 0.4%s}
      %s
      """;

  private static String yaml(String strongExtra, String weakExtra, String routingExtra, String rest) {
    return BASE.formatted(strongExtra, weakExtra, routingExtra, rest);
  }

  private static RoutewiseConfig parse(String yaml) {
    return new ConfigLoader(Map.of()).parse(yaml, "config.yaml");
  }

  private static String problems(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml)).getMessage();
  }

  @Test
  void aTargetWithATypoReportsTheTypoBesideTheMissingTarget() {
    // a problem reported on a mapping hides nothing beneath it: only a missing or misshapen key does
    String msg = problems(yaml("", "", "",
        "routers: {random: {target: {strong_shar: 0.3, min_alpha: 0.9, max_alpha: 0.1}}}"));
    assertTrue(msg.contains("routers.random.target.strong_shar: unknown key"), msg);
    // the keys meant are among those it lists (before, only the ones read: the alphas and window_s)
    assertTrue(msg.contains("expected one of [initial_alpha, max_alpha, min_alpha, strong_share, usd_per_hour, window_s]"), msg);
    assertTrue(msg.contains("routers.random.target: give strong_share"), msg);
    msg = problems(yaml("", "", "", "routers: {random: {target: {strong_share: }}}"));
    assertTrue(msg.contains("routers.random.target.strong_share: has no value"), msg);
    assertFalse(msg.contains("unknown key"), msg);
  }

  @Test
  void pricesAreReadPerUpstreamAndAbsentMeansNone() {
    RoutewiseConfig c = parse(yaml(", price: {input: 2.5, output: 10}", "", "", ""));
    assertEquals(new Price(2.5, 10), c.strong().price());
    assertNull(c.weak().price());
    assertEquals(2.5 * 1000 / 1e6 + 10 * 200 / 1e6, c.strong().price().cost(1000, 200), 1e-12);
  }

  @Test
  void aPriceNeedsBothNumbersNonNegativeAndNoOtherKeys() {
    String msg = problems(yaml(", price: {input: -1, outptu: 3}", ", price: {input: x, output: 1}", "", ""));
    assertTrue(msg.contains("upstreams.strong.price.input: must be in [0, 1000000], got -1"), msg);
    assertTrue(msg.contains("upstreams.strong.price.output: is required"), msg);
    assertTrue(msg.contains("upstreams.strong.price.outptu: unknown key"), msg);
    assertTrue(msg.contains("upstreams.weak.price.input: must be a number, got 'x'"), msg);
  }

  @Test
  void aShareTargetIsReadWithItsBoundsWindowAndStart() {
    RoutewiseConfig c = parse(yaml("", "", "", """
        routers:
          length: {target: {strong_share: 0.3, min_alpha: 0.1, max_alpha: 0.9, window_s: 120}}
          mf: {}
        """));
    TargetConfig t = c.targets().get("length");
    assertEquals(TargetConfig.Kind.STRONG_SHARE, t.kind());
    assertEquals(0.3, t.value());
    assertEquals(0.1, t.minAlpha());
    assertEquals(0.9, t.maxAlpha());
    assertEquals(Duration.ofSeconds(120), t.window());
    assertEquals(0.4, t.initialAlpha(), "starts at routing.threshold unless initial_alpha says otherwise");
    assertFalse(c.targets().containsKey("mf"));
  }

  @Test
  void aBudgetTargetNeedsBothUpstreamsPriced() {
    String msg = problems(yaml(", price: {input: 5, output: 15}", "", "", "routers: {mf: {target: {usd_per_hour: 2}}}"));
    assertTrue(msg.contains("routers.mf.target.usd_per_hour: needs upstreams.weak.price"), msg);
    assertFalse(msg.contains("upstreams.strong.price ("), msg);

    RoutewiseConfig c = parse(yaml(", price: {input: 5, output: 15}", ", price: {input: 0.1, output: 0.2}", "",
        "routers: {mf: {target: {usd_per_hour: 2}}}"));
    assertEquals(TargetConfig.Kind.USD_PER_HOUR, c.targets().get("mf").kind());
    assertEquals(2.0, c.targets().get("mf").value());
  }

  @Test
  void targetProblemsNameTheirKeys() {
    String msg = problems(yaml("", "", "", """
        routers:
          mf: {target: {strong_share: 1.5, min_alpha: 0.8, max_alpha: 0.2, windw_s: 10}}
          length: {target: {strong_share: 0.2, usd_per_hour: 1}}
          bert: {target: {}}
          sw_ranking: {target: {strong_share: 0.2, window_s: 0, initial_alpha: 0.95, max_alpha: 0.9}}
        """));
    assertTrue(msg.contains("routers.mf.target.strong_share: must be in [0, 1], got 1.5"), msg);
    assertTrue(msg.contains("routers.mf.target.min_alpha: must not be above max_alpha"), msg);
    assertTrue(msg.contains("routers.mf.target.windw_s: unknown key"), msg);
    assertTrue(msg.contains("routers.length.target: give strong_share or usd_per_hour, not both"), msg);
    assertFalse(msg.contains("routers.length.target.strong_share: unknown key")
        || msg.contains("routers.length.target.usd_per_hour: unknown key"), "both keys are known: " + msg);
    assertTrue(msg.contains("routers.bert.target: give strong_share"), msg);
    assertTrue(msg.contains("routers.sw_ranking.target.window_s: must be between 1 and 86400, got 0"), msg);
    assertTrue(msg.contains("routers.sw_ranking.target.initial_alpha: must lie within [min_alpha, max_alpha]"), msg);
  }

  @Test
  void stateIsLocalWithoutRedisAndReadsItsSettings() {
    assertFalse(parse(yaml("", "", "", "")).state().shared());
    StateConfig s = parse(yaml("", "", "", """
        state: {redis: "redis://:hunter2@10.0.0.5:6380/2", sync_ms: 500, timeout_ms: 100, pin_timeout_ms: 5, key_prefix: rw-prod}
        """)).state();
    assertTrue(s.shared());
    assertEquals("10.0.0.5:6380", s.redisAddress());
    assertEquals(Duration.ofMillis(500), s.sync());
    assertEquals(Duration.ofMillis(100), s.timeout());
    assertEquals(Duration.ofMillis(5), s.pinTimeout());
    assertEquals("rw-prod", s.keyPrefix());
    assertFalse(s.toString().contains("hunter2"), "the URL may carry a password: " + s);
  }

  @Test
  void stateProblemsNameTheirKeysWithoutEchoingAPassword() {
    String msg = problems(yaml("", "", "", """
        state: {redis: "http://:hunter2@cache:6379", sync_ms: 10, pin_timeout_ms: 0, key_prefix: "a b", tls: true}
        """));
    assertTrue(msg.contains("state.redis: must be redis://host[:port][/db]"), msg);
    assertFalse(msg.contains("hunter2"), msg);
    assertTrue(msg.contains("state.sync_ms: must be between 50 and 60000, got 10"), msg);
    assertTrue(msg.contains("state.pin_timeout_ms: must be between 1 and 1000, got 0"), msg);
    assertTrue(msg.contains("state.key_prefix: must be 1 to 64 of"), msg);
    assertTrue(msg.contains("state.tls: unknown key"), msg);
    // a port Redis cannot have: it was an outage for good, not a config problem
    msg = problems(yaml("", "", "", "state: {redis: \"redis://127.0.0.1:99999/0\"}\n"));
    assertTrue(msg.contains("state.redis: must be redis://host[:port][/db]"), msg);
  }

  /**
   * A password written without its colon (or a user without a password) passed the config, and the
   * start then failed with the Redis client's bare "Password not provided in uri." and a stack trace,
   * naming no key: a config problem like any other, without echoing what may be the password.
   */
  @Test
  void aRedisUrlWithAPasswordButNoColonIsAProblemOfStateRedis() {
    String msg = problems(yaml("", "", "", "state: {redis: \"redis://hunter2@cache:6379/0\"}\n"));
    assertTrue(msg.contains("state.redis: "), msg);
    assertFalse(msg.contains("hunter2"), msg);
  }

  @Test
  void sessionPinningIsOffByDefaultAndReadsItsKeyTtlAndCacheSize() {
    assertFalse(parse(yaml("", "", "", "")).routing().sessionPinning().enabled());
    SessionPinning p = parse(yaml("", "", ", session_pinning: true, session_key: user, session_ttl_ms: 60000, session_cache_entries: 10", ""))
        .routing().sessionPinning();
    assertTrue(p.enabled());
    assertEquals("user", p.key());
    assertEquals(Duration.ofMinutes(1), p.ttl());
    assertEquals(10, p.localEntries());
    String msg = problems(yaml("", "", ", session_pinning: maybe, session_key: cookie, session_cache_entries: 0", ""));
    assertTrue(msg.contains("routing.session_pinning: must be true or false"), msg);
    assertTrue(msg.contains("routing.session_key: must be one of [header, user, prompt_cache_key], got 'cookie'"), msg);
    assertTrue(msg.contains("routing.session_cache_entries: must be between 1 and 10000000, got 0"), msg);
  }
}
