package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.Ladder.Rung;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoutingServiceLadderTest {
  private static final Ladder THREE = new Ladder(List.of(
      new Rung("strong", "gpt-4o", 2.5, 10), new Rung("mini", "gpt-4o-mini", 0.15, 0.6), new Rung("weak", "llama", 0.1, 0.1)));

  /** A router with per-upstream scores of its own, as mf and sw_ranking have. */
  private record Fixed(double strong, double[] rates) implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      return strong;
    }

    @Override
    public double[] topWinRates(Prompt prompt, Ladder ladder) {
      return rates;
    }
  }

  private static final class Recording implements RoutingListener {
    final List<RoutingDecision> decided = new ArrayList<>();
    final List<String> failed = new ArrayList<>();

    @Override
    public void decided(RoutingDecision d) {
      decided.add(d);
    }

    @Override
    public void routerFailed(String router, String kind, Throwable error) {
      failed.add(router + "/" + kind);
    }
  }

  private static RoutingService service(Router r, Ladder ladder, RoutingListener listener, ScoringPool pool) {
    return new RoutingService(Map.of("r", r), "r", 0.5, listener, pool, ladder);
  }

  @Test
  void withThreeUpstreamsTheDecisionNamesTheCheapestUpstreamTheTopDoesNotBeat() {
    Recording seen = new Recording();
    try (RoutingService s = service(new Fixed(0.9, new double[] {0, 0.3, 0.8}), THREE, seen, null)) {
      RoutingDecision d = s.decide(new RouteSpec("r", 0.5), Prompt.of("x"));
      assertEquals("mini", d.upstream(), "beats weak with 0.8 >= 0.5, mini only with 0.3");
      assertEquals(Route.WEAK, d.route(), "not the top");
      assertEquals(0.8, d.strongWinRate(), "the top over the cheapest");
      assertEquals("weak", s.decide(new RouteSpec("r", 0.81), Prompt.of("x")).upstream());
      RoutingDecision top = s.decide(new RouteSpec("r", 0.3), Prompt.of("x"));
      assertEquals("strong", top.upstream());
      assertEquals(Route.STRONG, top.route());
      assertEquals(List.of("mini", "weak", "strong"), seen.decided.stream().map(RoutingDecision::upstream).toList());
    }
  }

  @Test
  void thePriceWeightedRuleDecidesWhereTheConfigAsksForIt() {
    Ladder ladder = new Ladder(List.of(new Rung("strong", "a", 10, 10), new Rung("mid", "b", 8, 8),
        new Rung("weak", "c", 0, 0)));
    Router r = new Fixed(0.45, new double[] {0, 0.42, 0.45});
    try (RoutingService threshold = service(r, ladder, RoutingListener.NONE, null);
        RoutingService weighted = new RoutingService(Map.of("r", r), "r", 0.5, RoutingListener.NONE, null,
            LadderRule.of(ladder, LadderRule.Kind.PRICE_WEIGHTED), Map.of(), null)) {
      assertEquals("weak", threshold.decide(new RouteSpec("r", 0.5), Prompt.of("x")).upstream());
      RoutingDecision d = weighted.decide(new RouteSpec("r", 0.5), Prompt.of("x"));
      assertEquals("mid", d.upstream(), "mid's shortfall (logit 0.42) is below weak's (logit 0.45) and price weighs 0 at 0.5");
      assertEquals(0.45, d.strongWinRate(), "still the router's own rate, the top over the cheapest");
      assertEquals("weak", weighted.decide(new RouteSpec("r", 0.7), Prompt.of("x")).upstream());
      assertEquals("strong", weighted.decide(new RouteSpec("r", 0.05), Prompt.of("x")).upstream());
    }
  }

  @Test
  void withTwoUpstreamsTheScalarWinRateDecidesAsItAlwaysHas() {
    Router twoWayOnly = new Router() {
      @Override
      public double strongWinRate(Prompt prompt) {
        return 0.6;
      }

      @Override
      public double[] topWinRates(Prompt prompt, Ladder ladder) {
        throw new AssertionError("not asked with two upstreams");
      }
    };
    try (RoutingService s = service(twoWayOnly, Ladder.twoWay("a", "b"), RoutingListener.NONE, null)) {
      RoutingDecision d = s.decide(new RouteSpec("r", 0.6), Prompt.of("x"));
      assertEquals(new RoutingDecision("r", 0.6, 0.6, Route.STRONG, null, d.nanos()), d);
      assertEquals("strong", d.upstream());
      assertEquals("weak", s.decide(new RouteSpec("r", 0.61), Prompt.of("x")).upstream());
    }
  }

  @Test
  void aFailingOrNonsensicalRouterSendsTheRequestToTheTop() {
    Recording seen = new Recording();
    Router broken = new Router() {
      @Override
      public double strongWinRate(Prompt prompt) throws Exception {
        throw new RouterException("boom", "no");
      }
    };
    try (RoutingService s = service(broken, THREE, seen, null)) {
      RoutingDecision d = s.decide(new RouteSpec("r", 1.0), Prompt.of("x"));
      assertEquals("strong", d.upstream());
      assertEquals("boom", d.failureKind());
    }
    for (double[] bad : new double[][] {{0, 0.2}, {0, Double.NaN, 0.1}, {0, 0.1, 1.5}, null}) {
      try (RoutingService s = service(new Fixed(0.5, bad), THREE, seen, null)) {
        RoutingDecision d = s.decide(new RouteSpec("r", 1.0), Prompt.of("x"));
        assertEquals("strong", d.upstream());
        assertEquals("out_of_range", d.failureKind());
      }
    }
    assertEquals(List.of("r/boom", "r/out_of_range", "r/out_of_range", "r/out_of_range", "r/out_of_range"), seen.failed);
  }

  @Test
  void aScalarRouterRoutesNWayThroughTheDefault() {
    try (RoutingService s = service(p -> 0.6, THREE, RoutingListener.NONE, null)) {
      // thresholds per rung at alpha 0.5: weak 0.5, mini sqrt(0.5) = 0.707; 0.6 falls between
      assertEquals("mini", s.decide(new RouteSpec("r", 0.5), Prompt.of("x")).upstream());
      assertEquals("strong", s.decide(new RouteSpec("r", 0.0), Prompt.of("x")).upstream());
      assertEquals("weak", s.decide(new RouteSpec("r", 1.0), Prompt.of("x")).upstream());
    }
  }

  @Test
  void cpuBoundRoutersScoreTheLadderOnAScoringThreadUnlessThePromptIsCached() {
    Thread caller = Thread.currentThread();
    List<Thread> scoredOn = new ArrayList<>();
    Router cpu = new Router() {
      @Override
      public double strongWinRate(Prompt prompt) {
        return 0.5;
      }

      @Override
      public double[] topWinRates(Prompt prompt, Ladder ladder) {
        scoredOn.add(Thread.currentThread());
        return new double[] {0, 0.1, 0.9};
      }

      @Override
      public boolean cpuBound() {
        return true;
      }

      @Override
      public double cachedWinRate(Prompt prompt) {
        return prompt.text().equals("cached") ? 0.5 : Double.NaN;
      }
    };
    try (RoutingService s = service(cpu, THREE, RoutingListener.NONE,
        new ScoringPool(1, 4, java.time.Duration.ofSeconds(5)))) {
      assertEquals("mini", s.decide(new RouteSpec("r", 0.5), Prompt.of("new")).upstream());
      assertEquals("mini", s.decide(new RouteSpec("r", 0.5), Prompt.of("cached")).upstream());
      assertNotEquals(caller, scoredOn.get(0), "an uncached prompt scores off the request thread");
      assertEquals(caller, scoredOn.get(1), "a cached one on it, at once");
    }
  }

  @Test
  void aPreviewDecidesWithoutReportingTheDecision() {
    Recording seen = new Recording();
    try (RoutingService s = service(new Fixed(0.9, new double[] {0, 0.3, 0.8}), THREE, seen, null)) {
      assertEquals("mini", s.preview(new RouteSpec("r", 0.5), Prompt.of("x")).decision().upstream());
      assertTrue(seen.decided.isEmpty());
      assertFalse(s.preview(new RouteSpec("r", 0.5), Prompt.of("x")).decision().fellBack());
      assertNull(s.preview(new RouteSpec("r", 0.5), Prompt.of("x")).decision().failureKind());
      assertArrayEquals(new double[] {0, 0.3, 0.8}, s.preview(new RouteSpec("r", 0.5), Prompt.of("x")).topWinRates());
    }
  }

  /** Each router decides by its own ladder rule (routing.ladder_rule auto gives them different ones). */
  @Test
  void eachRouterDecidesByItsOwnLadderRule() {
    Router each = new Fixed(0.6, new double[] {0, 0.45, 0.6});
    Map<String, LadderRule> rules = Map.of("weighted", LadderRule.of(THREE, LadderRule.Kind.PRICE_WEIGHTED),
        "plain", LadderRule.threshold(THREE));
    try (RoutingService s = new RoutingService(Map.of("weighted", each, "plain", each), "plain", 0.5,
        RoutingListener.NONE, null, rules, Map.of(), null)) {
      // at 0.7 the top beats both with probability below α: the threshold rule takes the cheapest,
      // the price-weighted one pays 0.55 more per million tokens for mini's 0.15 smaller shortfall
      assertEquals("weak", s.decide(new RouteSpec("plain", 0.7), Prompt.of("x")).upstream());
      assertEquals("mini", s.decide(new RouteSpec("weighted", 0.7), Prompt.of("x")).upstream());
      assertEquals(LadderRule.Kind.PRICE_WEIGHTED, s.ladderRule("weighted").kind());
    }
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new RoutingService(
        Map.of("weighted", each, "plain", each), "plain", 0.5, RoutingListener.NONE, null,
        Map.of("plain", LadderRule.threshold(THREE)), Map.of(), null), "a router without a rule");
  }
}
