package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RouteSpecTest {
  private static final List<String> ROUTERS = List.of("random", "mf", "sw_ranking", "causal_llm");

  @Test
  void parsesRouterAndThresholdFromModelName() {
    RouteSpec spec = RouteSpec.parse("router-mf-0.116", ROUTERS).orElseThrow();
    assertEquals("mf", spec.router());
    assertEquals(0.116, spec.threshold());
  }

  @Test
  void routerNamesWithUnderscoresParse() {
    assertEquals("sw_ranking", RouteSpec.parse("router-sw_ranking-1", ROUTERS).orElseThrow().router());
    assertEquals("causal_llm", RouteSpec.parse("router-causal_llm-0", ROUTERS).orElseThrow().router());
  }

  @Test
  void modelNamesWithoutPrefixAreNotRouteSpecs() {
    assertTrue(RouteSpec.parse("gpt4", ROUTERS).isEmpty());
    assertTrue(RouteSpec.parse("gpt-4o-router-mf-0.5", ROUTERS).isEmpty());
    assertTrue(RouteSpec.parse(null, ROUTERS).isEmpty());
  }

  @Test
  void unknownRouterIsRejectedNamingTheValidRouters() {
    var e = assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse("router-bogus-0.5", ROUTERS));
    assertTrue(e.getMessage().contains("causal_llm, mf, random, sw_ranking"), e.getMessage());
  }

  @Test
  void thresholdOutsideUnitIntervalOrNotANumberIsRejected() {
    for (String bad : List.of("router-mf-1.5", "router-mf--0.1", "router-mf-abc", "router-mf-", "router-mf-NaN")) {
      assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(bad, ROUTERS), bad);
    }
  }

  @Test
  void winRateEqualToThresholdRoutesStrong() {
    assertEquals(Route.STRONG, ThresholdRule.route(0.5, 0.5));
    assertEquals(Route.WEAK, ThresholdRule.route(0.4999, 0.5));
    assertEquals(Route.STRONG, ThresholdRule.route(0.0, 0.0));
    assertEquals(Route.WEAK, ThresholdRule.route(0.999, 1.0));
  }

  @Test
  void modelIdRoundTrips() {
    assertEquals("router-mf-0.116", new RouteSpec("mf", 0.116).modelId());
    assertEquals("router-random-1", new RouteSpec("random", 1.0).modelId());
  }

  @Test
  void onlyPlainDecimalThresholdsAreAccepted() {
    assertEquals(0.5, RouteSpec.parse("router-mf-.5", ROUTERS).orElseThrow().threshold());
    for (String sloppy : java.util.List.of("router-mf-0.5f", "router-mf-0x1p-1", "router-mf- 0.5", "router-mf-1e-1",
        "router-mf-NaN", "router-mf-+0.5")) {
      assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(sloppy, ROUTERS), sloppy);
    }
  }

  /** A threshold is what its digits say, including where the nearest double is 0 or 1. */
  @Test
  void thresholdsNextToTheBoundsKeepTheirSide() {
    assertEquals(1.0, RouteSpec.parse("router-mf-1.000", ROUTERS).orElseThrow().threshold());
    assertEquals(1.0, RouteSpec.parse("router-mf-001", ROUTERS).orElseThrow().threshold());
    assertEquals(0.0, RouteSpec.parse("router-mf-0.000", ROUTERS).orElseThrow().threshold());
    double under = RouteSpec.parse("router-mf-0.99999999999999999999", ROUTERS).orElseThrow().threshold();
    assertTrue(under < 1.0, "under 1 as written: " + under);
    assertEquals(Route.WEAK, ThresholdRule.route(0.9999999999999999, 1.0));
    assertEquals(Route.STRONG, ThresholdRule.route(0.9999999999999999, under));
    double over = RouteSpec.parse("router-mf-0.00000000000000000000000000000000000000000000000000000000000000"
        + "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        + "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        + "00000000000000000000000000000000000000000000000000000000000000000000000000000000000001", ROUTERS)
        .orElseThrow().threshold();
    assertTrue(over > 0.0, "over 0 as written: " + over);
    for (String bad : List.of("router-mf-1.0000000000000000000001", "router-mf-01.5", "router-mf-10")) {
      assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(bad, ROUTERS), bad);
    }
  }

  /**
   * A megabyte of digits that round to 1 was compared with 1 in quadratic time (seconds of a core per
   * request, from any client); and each error quoted the whole model name back.
   */
  @Test
  void aHugeThresholdIsReadInLinearTimeAndNotQuotedWhole() {
    // (not timed here: about 50 ms for both, where the quadratic comparison took over 10 s)
    String nines = "router-mf-0." + "9".repeat(1_000_000);
    assertTrue(RouteSpec.parse(nines, ROUTERS).orElseThrow().threshold() < 1.0);
    String over = "router-mf-1." + "0".repeat(1_000_000) + "1";
    var e = assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(over, ROUTERS));
    assertTrue(e.getMessage().length() < 400, e.getMessage().length() + " characters");
    assertTrue(e.getMessage().contains("(1000013 characters)"), e.getMessage());
    String emoji = "router-mf-" + "x".repeat(53) + "\uD83D\uDE00".repeat(20); // a pair across the cut
    var cut = assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(emoji, ROUTERS));
    assertTrue(java.nio.charset.StandardCharsets.UTF_8.newEncoder().canEncode(cut.getMessage()), "no half of a pair");
  }

  @Test
  void anUpstreamNameParsesOnlyAgainstTheConfiguredUpstreams() {
    RouteSpec spec = RouteSpec.parseDirect("upstream-mini", List.of("strong", "mini", "weak")).orElseThrow();
    assertTrue(spec.isDirect());
    assertEquals("mini", spec.upstream());
    assertEquals("upstream-mini", spec.modelId());
    assertTrue(RouteSpec.parseDirect("router-mf-0.5", List.of("strong", "weak")).isEmpty());
    assertThrows(RouteSpec.InvalidRouteSpecException.class,
        () -> RouteSpec.parseDirect("upstream-", List.of("strong", "weak")));
    assertThrows(IllegalArgumentException.class, () -> new RouteSpec(RouteSpec.DIRECT, 0.5, false, "mini"),
        "a direct spec has no threshold");
  }

  /**
   * A router name with white space around it, or its prefix in capitals, went, silently, to the default
   * router at its default α (a trailing space was already a 400); a threshold just over 1 that rounds to
   * 1.0 passed as 1.
   */
  @Test
  void nearMissesAreRejectedNotRoutedSomewhereElse() {
    java.util.List<String> routers = java.util.List.of("length", "random");
    for (String model : new String[] {" router-length-0", "\trouter-length-0.3", "router-random-1.0000000000000000001",
        "ROUTER-length-0.5", "Router-random-0.5"}) {
      assertThrows(RouteSpec.InvalidRouteSpecException.class, () -> RouteSpec.parse(model, routers), model);
    }
    assertThrows(RouteSpec.InvalidRouteSpecException.class,
        () -> RouteSpec.parseDirect(" upstream-strong", java.util.List.of("strong", "weak")));
    RouteSpec.InvalidRouteSpecException upper = assertThrows(RouteSpec.InvalidRouteSpecException.class,
        () -> RouteSpec.parse("ROUTER-length-0.5", routers));
    assertTrue(upper.getMessage().contains("send 'router-length-0.5'"), upper.getMessage());
    assertThrows(RouteSpec.InvalidRouteSpecException.class,
        () -> RouteSpec.parseDirect("Upstream-strong", java.util.List.of("strong", "weak")));
    // white space after the name too: the same message, naming the spelling to send (it called '0.5 ' the threshold)
    for (String model : new String[] {"router-length-0.5 ", " router-length-0.5", "router-length-0.5\n"}) {
      RouteSpec.InvalidRouteSpecException spaced = assertThrows(RouteSpec.InvalidRouteSpecException.class,
          () -> RouteSpec.parse(model, routers));
      assertTrue(spaced.getMessage().contains("white space around its name; send 'router-length-0.5'"), spaced.getMessage());
    }
    RouteSpec.InvalidRouteSpecException direct = assertThrows(RouteSpec.InvalidRouteSpecException.class,
        () -> RouteSpec.parseDirect("upstream-strong ", java.util.List.of("strong", "weak")));
    assertTrue(direct.getMessage().contains("send 'upstream-strong'"), direct.getMessage());
    assertTrue(RouteSpec.parse("routerless-model", routers).isEmpty(), "a name that only begins like one");
    assertEquals(1.0, RouteSpec.parse("router-random-1.000", routers).orElseThrow().threshold());
    assertTrue(RouteSpec.parse("gpt-4o", routers).isEmpty());
  }
}
