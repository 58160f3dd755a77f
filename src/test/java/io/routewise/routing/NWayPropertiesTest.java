package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.Ladder.Rung;
import io.routewise.routing.LadderRule.Kind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property checks of N-way routing over random configs (fixed seeds): ladders of 3 to 8 upstreams built
 * by {@link Ladder#byPrice} from prices that may be equal, free, missing, on some only, huge or tiny; every
 * rule the config allows; routers with one score (random, length) and with a score per upstream (mf).
 */
class NWayPropertiesTest {
  private static final double[] PRICES = {0, 0, 1e-12, 0.05, 0.1, 0.2, 0.2, 0.6, 2.5, 10, 1e9};

  private static Ladder randomLadder(Random rnd, int k) {
    List<Rung> rungs = new ArrayList<>();
    int weakAt = 1 + rnd.nextInt(k - 1);
    int strongAt = rnd.nextInt(k);
    if (strongAt == weakAt) {
      strongAt = 0;
      weakAt = k - 1;
    }
    int style = rnd.nextInt(4); // 0: all priced, 1: none, 2: some, 3: all priced and none above strong
    double topIn = PRICES[rnd.nextInt(PRICES.length)];
    double topOut = PRICES[rnd.nextInt(PRICES.length)];
    for (int i = 0; i < k; i++) {
      String name = i == strongAt ? "strong" : i == weakAt ? "weak" : "u" + i;
      boolean priced = style == 0 || style == 3 || (style == 2 && rnd.nextBoolean());
      if (i == strongAt && style == 3) {
        rungs.add(new Rung(name, "m" + i, topIn, topOut));
      } else if (priced) {
        double in = PRICES[rnd.nextInt(PRICES.length)];
        double out = rnd.nextInt(3) == 0 ? in : PRICES[rnd.nextInt(PRICES.length)];
        if (style == 3 && i != strongAt) {
          double f = rnd.nextInt(3) == 0 ? 1 : rnd.nextDouble();
          in = topIn * f;
          out = topOut * f;
        }
        rungs.add(new Rung(name, "m" + i, in, out));
      } else {
        rungs.add(Rung.unpriced(name, "m" + i));
      }
    }
    return Ladder.byPrice(rungs);
  }

  /** Rungs a router never chooses: priced above the top, on three or more. */
  private static boolean aboveTop(Ladder l, int i) {
    return l.size() > 2 && i > 0 && l.top().priced() && l.rung(i).priced() && l.orderPrice(l.rung(i)) > l.orderPrice(l.top());
  }

  private static double rate(Random rnd) {
    switch (rnd.nextInt(8)) {
      case 0: return 0;
      case 1: return 0.5;
      case 2: return Math.nextDown(1.0);
      case 3: return Double.MIN_VALUE;
      default: return rnd.nextDouble();
    }
  }

  private static double[] alphas(Random rnd) {
    double[] a = new double[40];
    a[0] = 0;
    a[1] = 1;
    a[2] = Double.MIN_VALUE;
    a[3] = Math.nextDown(1.0);
    for (int i = 4; i < a.length; i++) {
      a[i] = rnd.nextInt(4) == 0 ? Math.round(rnd.nextDouble() * 20) / 20.0 : rnd.nextDouble();
    }
    Arrays.sort(a);
    return a;
  }

  private record PerUpstream(double[] rates) implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      return rates[rates.length - 1];
    }

    @Override
    public double[] topWinRates(Prompt prompt, Ladder ladder) {
      return rates;
    }

    @Override
    public boolean scoresEachUpstream() {
      return true;
    }
  }

  private record OneScore(double s) implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      return s;
    }
  }

  @Test
  void alphaMovesTheChoiceMonotonicallyFromTheTopToTheCheapestForEveryRuleAndRouterKind() throws Exception {
    Random rnd = new Random(20240601);
    int ladders = 0;
    for (int t = 0; t < 4_000; t++) {
      Ladder ladder = randomLadder(rnd, 3 + rnd.nextInt(6));
      for (boolean perUpstream : new boolean[] {true, false}) {
        Router router;
        if (perUpstream) {
          double[] rates = new double[ladder.size()];
          for (int i = 1; i < rates.length; i++) {
            rates[i] = rate(rnd);
          }
          router = new PerUpstream(rates);
        } else {
          router = new OneScore(rate(rnd));
        }
        for (String setting : LadderRule.configNames()) {
          Kind kind = LadderRule.kindFor(ladder, setting, perUpstream);
          if (LadderRule.unsupported(ladder, kind).isPresent()) {
            continue; // the config check stops such a start
          }
          ladders++;
          LadderRule rule = LadderRule.forRouter(ladder, setting, router);
          try (RoutingService s = new RoutingService(Map.of("r", router), "r", 0.5, RoutingListener.NONE, null,
              rule, Map.of(), null)) {
            int previous = 0;
            double price = Double.POSITIVE_INFINITY;
            String what = setting + "/" + kind + " " + ladder.rungs() + " router " + router;
            for (double alpha : alphas(rnd)) {
              String up = s.decide(new RouteSpec("r", alpha), Prompt.of("x")).upstream();
              int i = ladder.indexOf(up);
              if (alpha == 0) {
                assertEquals(0, i, "α = 0 is the top: " + what);
              }
              assertTrue(i >= previous, "α " + alpha + " chose " + up + " after rung " + previous + ": " + what);
              assertTrue(!aboveTop(ladder, i), "priced above the top, chosen at α " + alpha + ": " + what);
              assertTrue(ladder.orderPrice(ladder.rung(i)) <= price || i == 0, "price rose at α " + alpha + ": " + what);
              if (i > 0) {
                price = ladder.orderPrice(ladder.rung(i));
              }
              previous = i;
            }
            // α = 1: a rung of the cheapest price among those that can be chosen, unless beaten for certain
            double[] rates = router.topWinRates(Prompt.of("x"), ladder);
            double cheapest = Double.POSITIVE_INFINITY;
            boolean anyCandidate = false;
            for (int i = 1; i < ladder.size(); i++) {
              if (!aboveTop(ladder, i)) {
                cheapest = Math.min(cheapest, ladder.orderPrice(ladder.rung(i)));
                anyCandidate = true;
              }
            }
            int atOne = ladder.indexOf(s.decide(new RouteSpec("r", 1.0), Prompt.of("x")).upstream());
            boolean certain = Arrays.stream(rates, 1, rates.length).allMatch(r -> r >= 1);
            if (anyCandidate && !certain && perUpstream == false) {
              assertEquals(cheapest, ladder.orderPrice(ladder.rung(atOne)), "α = 1 is the cheapest: " + what);
            }
            if (anyCandidate && perUpstream && kind == Kind.PRICE_WEIGHTED) {
              assertEquals(cheapest, ladder.orderPrice(ladder.rung(atOne)), "α = 1 is the cheapest: " + what
                  + " rates " + Arrays.toString(rates));
            }
          }
        }
      }
    }
    assertTrue(ladders > 4_000, "ladders tried " + ladders);
  }

  /** With exactly strong and weak, every rule, router kind and price is `rate >= α → strong`, to the bit. */
  @Test
  void twoUpstreamsAreExactlyTheTwoWayRule() {
    Random rnd = new Random(7);
    for (int t = 0; t < 20_000; t++) {
      Ladder ladder = randomLadder(rnd, 2);
      double s = rate(rnd);
      double alpha = rnd.nextBoolean() ? s : rnd.nextInt(4) == 0 ? rnd.nextInt(2) : rnd.nextDouble();
      Route expected = ThresholdRule.route(s, alpha);
      for (String setting : LadderRule.configNames()) {
        for (Router r : List.of(new OneScore(s), new PerUpstream(new double[] {0, s}))) {
          LadderRule rule = LadderRule.forRouter(ladder, setting, r);
          try (RoutingService svc = new RoutingService(Map.of("r", r), "r", 0.5, RoutingListener.NONE, null, rule,
              Map.of(), null)) {
            RoutingDecision d = svc.decide(new RouteSpec("r", alpha), Prompt.of("x"));
            assertEquals(expected, d.route(), setting + " " + ladder.rungs() + " s " + s + " α " + alpha);
            assertEquals(expected == Route.STRONG ? "strong" : "weak", d.upstream());
          }
        }
      }
    }
  }

  /**
   * An image request the rule sent to a text-only rung climbs to the nearest more capable rung that takes
   * images, but never onto one priced above the top (README: such an upstream "is never chosen by a router
   * (strong does at least as well for less)"; failover passes over it as well): it went to sonnet, dearer
   * than strong, at every α above 0, so raising α raised the cost (serve trial: router-mf-0.3 with an
   * image answered by sonnet at $3/$15 where router-mf-0 got strong at $2.5/$10).
   */
  @Test
  void aMediaMoveNeverClimbsOntoAnUpstreamPricedAboveTheTop() {
    Ladder ladder = Ladder.byPrice(List.of(new Rung("strong", "gpt-4o", 2.5, 10), new Rung("sonnet", "sonnet", 3, 15),
        new Rung("mini", "mini", 0.15, 0.6, java.util.Set.of()), new Rung("weak", "llama", 0, 0, java.util.Set.of())));
    assertEquals("sonnet", ladder.rung(1).upstream());
    java.util.Set<Media> image = java.util.Set.of(Media.IMAGE);
    assertEquals(0, ladder.accepting(3, image), "weak cannot take the image: the top, not sonnet");
    assertEquals(0, ladder.accepting(2, image));
    try (RoutingService s = new RoutingService(Map.of("r", new OneScore(0.2)), "r", 0.5, RoutingListener.NONE, null,
        LadderRule.threshold(ladder), Map.of(), null)) {
      for (double alpha : new double[] {0, 0.3, 0.7, 1}) {
        RoutingDecision d = s.decide(new RouteSpec("r", alpha), new Prompt("what is in it?", image));
        assertEquals("strong", d.upstream(), "α " + alpha);
      }
    }
    // the only rung that takes images is priced above a text-only top: it still gets them (a text model's
    // answer to an image is no answer)
    Ladder textTop = Ladder.byPrice(List.of(new Rung("strong", "a", 2.5, 10, java.util.Set.of()),
        new Rung("sonnet", "b", 3, 15), new Rung("weak", "c", 0, 0, java.util.Set.of())));
    assertEquals(1, textTop.accepting(2, image));
    assertEquals(1, textTop.accepting(0, image));
    // two upstreams: the two-model rule and its media move stand as they were
    Ladder pair = Ladder.byPrice(List.of(new Rung("strong", "a", 1, 1), new Rung("weak", "b", 5, 5, java.util.Set.of())));
    assertEquals(0, pair.accepting(1, image));
  }

  /** With random {@code accepts}, an image request's cost never rises with α (unless only dearer rungs take it). */
  @Test
  void withMediaTheCostStillNeverRisesWithAlphaOnAPricedLadder() throws Exception {
    Random rnd = new Random(99);
    java.util.Set<Media> image = java.util.Set.of(Media.IMAGE);
    for (int t = 0; t < 3_000; t++) {
      int k = 3 + rnd.nextInt(6);
      List<Rung> rungs = new ArrayList<>();
      for (int i = 0; i < k; i++) {
        String name = i == 0 ? "strong" : i == k - 1 ? "weak" : "u" + i;
        double in = PRICES[rnd.nextInt(PRICES.length - 1)];
        java.util.Set<Media> accepts = i == 0 || rnd.nextBoolean() ? Media.ALL : java.util.Set.of();
        rungs.add(new Rung(name, "m" + i, in, in * 4, accepts));
      }
      Ladder ladder = Ladder.byPrice(rungs);
      double s0 = rate(rnd);
      try (RoutingService s = new RoutingService(Map.of("r", new OneScore(s0)), "r", 0.5, RoutingListener.NONE, null,
          LadderRule.threshold(ladder), Map.of(), null)) {
        double price = Double.POSITIVE_INFINITY;
        for (double alpha : alphas(rnd)) {
          int i = ladder.indexOf(s.decide(new RouteSpec("r", alpha), new Prompt("x", image)).upstream());
          assertTrue(ladder.rung(i).accepts().contains(Media.IMAGE), "the image went to a text model");
          assertTrue(ladder.orderPrice(ladder.rung(i)) <= price, "α " + alpha + " chose " + ladder.rung(i).upstream()
              + " dearer than before: " + ladder.rungs());
          price = ladder.orderPrice(ladder.rung(i));
        }
      }
    }
  }
}
