package io.routewise.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code upstreams:} beyond strong and weak: named entries, prices, the trained model id. */
class UpstreamsConfigTest {
  private static final String THREE = """
      upstreams:
        strong: {base_url: "https://api.openai.com/v1", api_key: sk-a, model: gpt-4o, price: {input: 2.5, output: 10}}
        weak: {base_url: "http://localhost:11434/v1", model: "llama3.1:8b"}
        mini:
          base_url: https://api.openai.com/v1
          api_key: sk-a
          model: gpt-4o-mini
          price: {input: "0.15", output: 0.6}
          router_model: gpt-4o-mini-2024-07-18
      routing: {passthrough: mini}
      """;

  private static RoutewiseConfig parse(String yaml) {
    return new ConfigLoader(Map.of()).parse(yaml, "config.yaml");
  }

  private static String problems(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml)).getMessage();
  }

  @Test
  void namedUpstreamsBesideStrongAndWeakAreReadInTheOrderWritten() {
    RoutewiseConfig c = parse(THREE);
    assertEquals(List.of("strong", "weak", "mini"), c.upstreams().stream().map(UpstreamConfig::name).toList());
    UpstreamConfig mini = c.upstreams().get(2);
    assertEquals("gpt-4o-mini", mini.model());
    assertEquals(new Price(0.15, 0.6), mini.price());
    assertEquals("gpt-4o-mini-2024-07-18", mini.routerModel());
    assertEquals(new Price(2.5, 10), c.strong().price());
    assertNull(c.weak().price(), "no price: unknown");
    assertNull(c.weak().routerModel());
    assertEquals("mini", c.routing().passthrough(), "passthrough may name any upstream");
    assertEquals(c.strong(), c.upstreams().get(0));
  }

  @Test
  void withOnlyStrongAndWeakTheListHoldsJustThoseTwo() {
    RoutewiseConfig c = parse("""
        upstreams:
          weak: {base_url: "http://localhost:11434/v1", model: w}
          strong: {base_url: "https://api.openai.com/v1", api_key: k, model: s}
        """);
    assertEquals(List.of(c.weak(), c.strong()), c.upstreams());
  }

  @Test
  void acceptsListsTextAndTheMediaAnUpstreamTakes() {
    RoutewiseConfig c = parse(THREE.replace("model: gpt-4o,", "model: gpt-4o, accepts: [text, image],"));
    assertEquals(java.util.Set.of("image"), c.strong().accepts());
    assertEquals(java.util.Set.of("image", "audio", "file"), c.weak().accepts(), "unsaid: everything");
    String msg = problems(THREE.replace("model: gpt-4o,", "model: gpt-4o, accepts: [image, video],"));
    assertTrue(msg.contains("upstreams.strong.accepts: lists 'video'; it may list text, image, audio and file"), msg);
    assertTrue(msg.contains("upstreams.strong.accepts: must list text"), msg);
  }

  @Test
  void pricesMustBeTwoNonNegativeNumbersAndNothingElse() {
    String msg = problems(THREE
        .replace("price: {input: 2.5, output: 10}", "price: {input: -1, outptu: 3}")
        .replace("price: {input: \"0.15\", output: 0.6}", "price: 0.15"));
    assertTrue(msg.contains("upstreams.strong.price.input: must be in [0, 1000000], got -1"), msg);
    assertTrue(msg.contains("upstreams.strong.price.output: is required (USD per million output tokens)"), msg);
    assertTrue(msg.contains("upstreams.strong.price.outptu: unknown key (expected one of [audio_input, audio_output, cache_write, cached_input, input, output])"), msg);
    assertTrue(msg.contains("upstreams.mini.price: must be a mapping"), msg);
    assertFalse(msg.contains("upstreams.mini.price.input"), "a price that is no mapping is one problem: " + msg);
  }

  @Test
  void aMisshapenUpstreamHidesNothingOfAnotherWhoseNameItBegins() {
    String msg = problems(THREE.replace("  mini:\n", "  gpt-4: 8\n  gpt-4.1: {base_url: \"http://a/v1\"}\n  mini:\n"));
    assertTrue(msg.contains("upstreams.gpt-4: must be a mapping"), msg);
    assertTrue(msg.contains("upstreams.gpt-4.1.model: is required"), msg);
    assertFalse(msg.contains("upstreams.gpt-4.model"), msg);
  }

  @Test
  void aMisspelledStrongIsOneProblemThatNamesTheEntryReadInstead() {
    String msg = problems(THREE.replace("  strong: {", "  stronk: {"));
    assertTrue(msg.contains("upstreams.strong: is required (base_url and model; api_key unless the upstream needs "
        + "none); [mini, stronk] are read as other upstreams of the ladder: is one of them meant to be strong?"), msg);
    assertFalse(msg.contains("upstreams.strong.base_url") || msg.contains("upstreams.strong.model"),
        "said once: " + msg);
    String two = problems("""
        upstreams:
          strong: {base_url: "http://a/v1", model: a}
          waek: {base_url: "http://b/v1", model: b}
        """);
    assertTrue(two.contains("upstreams.weak: is required (base_url and model; api_key unless the upstream needs "
        + "none); 'waek' is read as another upstream of the ladder: is it meant to be weak?"), two);
  }

  @Test
  void anUpstreamNameMustBeAPlainWordAndRouterModelNotEmpty() {
    String msg = problems(THREE.replace("  mini:\n", "  \"my model\":\n"));
    assertTrue(msg.contains("upstreams.my model: is not a usable upstream name"), msg);
    assertFalse(msg.contains("unknown key"), "said once: " + msg);
    String none = problems(THREE.replace("  mini:\n", "  none:\n"));
    assertTrue(none.contains("upstreams.none: is not a usable upstream name"), none);
    String blank = problems(THREE.replace("router_model: gpt-4o-mini-2024-07-18", "router_model: \"\""));
    assertTrue(blank.contains("upstreams.mini.router_model: must not be empty"), blank);
    String cased = problems(THREE.replace("  mini:\n", "  Strong:\n"));
    assertTrue(cased.contains("upstreams.Strong: differs from upstream 'strong' only in case"), cased);
    assertFalse(cased.contains("unknown key"), "said once: " + cased);
  }

  /** routing.token_mix: the proportion of input to output tokens the ladder's order price weighs. */
  @Test
  void aTokenMixWeighsTheOrderPrice() {
    RoutewiseConfig cfg = parse(THREE.replace("routing: {passthrough: mini}",
        "routing: {passthrough: mini, token_mix: {input: 3, output: 1}}"));
    assertEquals(List.of(3.0, 1.0), java.util.Arrays.stream(cfg.routing().tokenMix()).boxed().toList());
    io.routewise.routing.Ladder ladder = io.routewise.routers.RouterCatalog.ladder(cfg);
    assertEquals(3 * 0.15 + 0.6, ladder.orderPrice(ladder.rung(1)), 1e-12);
    assertEquals(List.of(1.0, 1.0), java.util.Arrays.stream(parse(THREE).routing().tokenMix()).boxed().toList());
    String none = problems(THREE.replace("routing: {passthrough: mini}",
        "routing: {passthrough: mini, token_mix: {input: 0, output: 0}}"));
    assertTrue(none.contains("routing.token_mix: needs input or output above 0"), none);
  }

  @Test
  void anExtraUpstreamIsCheckedLikeStrongAndWeak() {
    String msg = problems(THREE.replace("model: gpt-4o-mini\n", "modle: gpt-4o-mini\n"));
    assertTrue(msg.contains("upstreams.mini.model: is required"), msg);
    assertTrue(msg.contains("upstreams.mini.modle: unknown key"), msg);
  }

  @Test
  void passthroughListsEveryUpstreamWhenItNamesNone() {
    String msg = problems(THREE.replace("passthrough: mini", "passthrough: maxi"));
    assertTrue(msg.contains("routing.passthrough: must be one of [none, strong, weak, mini], got 'maxi'"), msg);
  }

  @Test
  void priceCostsAnAnswerFromItsTokenCounts() {
    assertEquals((1000 * 2.5 + 200 * 10) / 1e6, new Price(2.5, 10).cost(1000, 200), 1e-15);
    assertThrows(IllegalArgumentException.class, () -> new Price(-0.1, 1));
    assertEquals(0.0, new Price(0, 0).cost(5, 5));
    // cached prompt tokens at their rate, at most all of the prompt; without a rate, the input's
    assertEquals((200 * 2.5 + 800 * 1.25 + 100 * 10) / 1e6, new Price(2.5, 10, 1.25).cost(1000, 800, 100), 1e-15);
    assertEquals((1000 * 1.25) / 1e6, new Price(2.5, 10, 1.25).cost(1000, 5000, 0), 1e-15);
    assertEquals(new Price(2.5, 10).cost(1000, 0, 100), new Price(2.5, 10).cost(1000, 800, 100), 1e-15);
  }

  @Test
  void aBadBaseUrlIsShownWithoutItsPasswordOrQuery() {
    String p = problems("""
        upstreams:
          strong: {base_url: "ftp://user:BASEURLPASS@host/v1?key=QUERYKEY", api_key: k, model: a}
          weak: {base_url: "http://localhost:1/v1", api_key: none, model: b}
        """);
    assertTrue(p.contains("upstreams.strong.base_url") && p.contains("'ftp://***@host/v1?***'"), p);
    assertFalse(p.contains("BASEURLPASS") || p.contains("QUERYKEY"), p);
  }
}
