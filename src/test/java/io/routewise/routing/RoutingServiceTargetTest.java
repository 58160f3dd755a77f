package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.TargetConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Targets and pins inside the routing service, on a ladder of three upstreams. */
class RoutingServiceTargetTest {
  private static final long T0 = 1_700_000_000_000L;
  private static final Ladder LADDER = new Ladder(List.of(
      new Ladder.Rung("strong", "big", 10, 30), new Ladder.Rung("mini", "small", 1, 2), Ladder.Rung.unpriced("weak", "local")));
  private static final Router SCORED = prompt -> Double.parseDouble(prompt.text());

  private static RoutingService service(TargetController target, SessionPins pins, Ladder ladder) {
    return new RoutingService(Map.of("scored", SCORED), "scored", 0.5, RoutingListener.NONE, null, LadderRule.threshold(ladder),
        Map.of("scored", target), pins);
  }

  /**
   * Ten minutes of uniform scores, 20 a second, through the target's auto spec, ticking each second:
   * the share that went to the top after the first two.
   */
  private static double topShareAfterTenMinutes(RoutingService routing, TargetController target, ManualClock clock) {
    return topShareAfterTenMinutes(routing, target, clock, rnd -> Prompt.of(Double.toString(rnd.nextDouble())));
  }

  private static double topShareAfterTenMinutes(RoutingService routing, TargetController target, ManualClock clock,
      Function<Random, Prompt> prompts) {
    RouteSpec auto = routing.specFor("router-scored-auto");
    Random rnd = new Random(11);
    int top = 0;
    int n = 0;
    for (int second = 0; second < 600; second++) {
      for (int i = 0; i < 20; i++) {
        RoutingDecision d = routing.decide(auto, prompts.apply(rnd));
        if (second >= 120) {
          n++;
          top += d.upstream().equals("strong") ? 1 : 0;
        }
      }
      clock.advance(1000);
      target.tick(target.snapshot(), null);
    }
    return (double) top / n;
  }

  private static TargetController controller(ManualClock clock) {
    return new TargetController("scored", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1,
        Duration.ofSeconds(60), 0.5), clock);
  }

  @Test
  void onALadderTheTargetHoldsTheShareSentToTheTop() {
    ManualClock clock = new ManualClock(T0);
    TargetController target = controller(clock);
    RoutingService routing = service(target, null, LADDER);
    double share = topShareAfterTenMinutes(routing, target, clock);
    // The default N-way scores put the top above mini at s^2 and above weak at s: the top is chosen
    // when s^2 >= α, so 30% of uniform s is α = 0.7^2.
    assertEquals(0.49, target.alpha(), 0.02);
    assertEquals(0.3, share, 0.02);
  }

  @Test
  void underThePriceWeightedRuleTheTargetHoldsTheShareSentToTheTopToo() {
    // A dear middle rung (price share 0.8), so the rule's top rate is far from the threshold rule's s^2:
    // from s = 0.75 on it is s itself (weak takes over from the top first), so 20 % goes to the top
    // at α = 0.8, where s^2 would put 36 % there.
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "big", 10, 30),
        new Ladder.Rung("mid", "dear", 8, 24), new Ladder.Rung("weak", "cheap", 0.1, 0.1)));
    LadderRule rule = LadderRule.of(ladder, LadderRule.Kind.PRICE_WEIGHTED);
    ManualClock clock = new ManualClock(T0);
    TargetController target = new TargetController("scored", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.2, 0, 1,
        Duration.ofSeconds(60), 0.5), clock);
    RoutingService routing = new RoutingService(Map.of("scored", SCORED), "scored", 0.5, RoutingListener.NONE, null,
        rule, Map.of("scored", target), null);
    double share = topShareAfterTenMinutes(routing, target, clock);
    assertEquals(0.8, target.alpha(), 0.02, "the α that sends 20 % to the top");
    assertEquals(0.2, share, 0.02);
  }

  /** One request in five carries an image, one in ten has no text at all, the rest uniform scores. */
  private static Prompt withImagesAndEmpties(Random rnd) {
    double kind = rnd.nextDouble();
    String score = Double.toString(rnd.nextDouble());
    return kind < 0.2 ? new Prompt(score, Set.of(Media.IMAGE)) : kind < 0.3 ? Prompt.of("") : Prompt.of(score);
  }

  @Test
  void requestsOnlyTheTopCanTakeCountAsTheTopsSoTheShareHolds() {
    // weak takes text only: an image goes strong at any α, and so does a request with nothing to
    // score. Sketched at their own rates (or not at all) they read as traffic α sends elsewhere, and
    // 30 % aimed for was 30 % of the rest plus all of them: 0.3 + 0.3 × 0.7 = 51 %.
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "big", 10, 30, Set.of(Media.values())),
        new Ladder.Rung("weak", "local", 0.1, 0.1, Set.of())));
    ManualClock clock = new ManualClock(T0);
    TargetController target = controller(clock);
    RoutingService routing = service(target, null, ladder);
    assertEquals(0.3, topShareAfterTenMinutes(routing, target, clock, RoutingServiceTargetTest::withImagesAndEmpties), 0.02);
  }

  @Test
  void onALadderImagesMovedUpToTheTopCountAsTheTopsToo() {
    // mini takes text only, weak takes images: an image the rule gives mini goes to the top, one it
    // gives weak stays there. So an image reaches the top exactly when weak's value (s) is >= α.
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "big", 10, 30, Set.of(Media.values())),
        new Ladder.Rung("mini", "small", 1, 2, Set.of()), new Ladder.Rung("weak", "local", 0.1, 0.1, Set.of(Media.IMAGE))));
    ManualClock clock = new ManualClock(T0);
    TargetController target = controller(clock);
    RoutingService routing = service(target, null, ladder);
    assertEquals(0.3, topShareAfterTenMinutes(routing, target, clock, RoutingServiceTargetTest::withImagesAndEmpties), 0.02);
  }

  /** A pinned session's turn with an image its pin cannot take goes up, and says from where. */
  @Test
  void aPinnedTurnMovedForItsImageSaysFromWhere() {
    ManualClock clock = new ManualClock(T0);
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "big", 10, 30),
        new Ladder.Rung("mini", "small", 1, 2, Set.of()), new Ladder.Rung("weak", "local", 0.1, 0.1)));
    SessionPins pins = new SessionPins(Duration.ofHours(1), 100, null, () -> false, Duration.ofMillis(10),
        StateListener.NONE, clock);
    RoutingService routing = service(controller(clock), pins, ladder);
    RouteSpec fixed = routing.specFor("router-scored-0.5");
    assertEquals("mini", routing.decide(fixed, Prompt.of("0.6"), null, "conv").upstream());
    RoutingDecision image = routing.decide(fixed, new Prompt("0.6", Set.of(Media.IMAGE)), null, "conv");
    assertTrue(image.pinned());
    assertEquals("strong", image.upstream());
    assertEquals("mini", image.movedFrom());
    assertEquals(null, routing.decide(fixed, Prompt.of("0.6"), null, "conv").movedFrom(), "text: the pin itself");
  }

  /**
   * Two first turns of one session at once: the one whose pin lost goes where the other's went, and
   * its decision is the pin's, as a later turn's is (README: x-routewise-pinned true, then no
   * x-routewise-win-rate). Before, it kept its own score: a win rate of 0.9 against α = 0.5 beside a
   * weak upstream, and in the access log.
   */
  @Test
  void aFirstTurnThatLostItsSessionsPinCarriesNoWinRateOfItsOwn() {
    ManualClock clock = new ManualClock(T0);
    SessionPins pins = new SessionPins(Duration.ofHours(1), 100, null, () -> false, Duration.ofMillis(10),
        StateListener.NONE, clock);
    // while this turn is scored, the session's other first turn pins it to weak
    Router racing = p -> {
      pins.pin("conv", "weak");
      return Double.parseDouble(p.text());
    };
    RoutingService routing = new RoutingService(Map.of("scored", racing), "scored", 0.5, RoutingListener.NONE, null,
        LadderRule.threshold(LADDER), Map.of(), pins);
    RoutingDecision d = routing.decide(routing.specFor("router-scored-0.5"), Prompt.of("0.9"), null, "conv");
    assertEquals("weak", d.upstream());
    assertTrue(d.pinned());
    assertTrue(Double.isNaN(d.strongWinRate()), "the router's score did not decide: " + d.strongWinRate());
  }

  /** Parsed model names are kept for the next request, but not a client's megabyte-long ones. */
  @Test
  void onlyModelNamesOfAReasonableLengthAreKeptParsed() {
    RoutingService routing = service(controller(new ManualClock(T0)), null, LADDER);
    routing.specFor("router-scored-0.5");
    routing.specFor("gpt-4o");
    assertEquals(2, routing.cachedSpecs());
    for (int i = 0; i < 10; i++) {
      assertEquals(0.5, routing.specFor("gpt-" + i + "x".repeat(100_000)).threshold(), "the default");
      assertEquals(7.0 / 9, routing.specFor("router-scored-0." + "7".repeat(100_000) + i).threshold(), 1e-9);
    }
    assertEquals(2, routing.cachedSpecs());
  }

  /**
   * The names kept parsed are capped, and a client that sent a thousand made-up ones (any α text is a
   * name) kept every later new name from being kept (a review): at the cap they are dropped instead.
   */
  @Test
  void madeUpModelNamesDoNotKeepTheNamesInUseFromBeingKeptParsed() {
    RoutingService routing = service(controller(new ManualClock(T0)), null, LADDER);
    for (int i = 0; i < 5_000; i++) {
      routing.specFor("router-scored-0." + i);
      assertTrue(routing.cachedSpecs() <= 1024, "capped");
    }
    routing.specFor("router-scored-0.3456789");
    assertTrue(routing.keepsParsed("router-scored-0.3456789"));
    assertEquals(0.3456789, routing.specFor("router-scored-0.3456789").threshold(), 1e-12);
  }

  @Test
  void aPinNamesTheUpstreamAndOneNoLongerConfiguredIsForgotten() {
    ManualClock clock = new ManualClock(T0);
    SessionPins pins = new SessionPins(Duration.ofHours(1), 100, null, () -> false, Duration.ofMillis(10),
        StateListener.NONE, clock);
    RoutingService routing = service(controller(clock), pins, LADDER);
    RouteSpec fixed = routing.specFor("router-scored-0.5");
    // s = 0.6: the top beats mini with 0.36 < 0.5, so mini answers (weak's 0.6 is beaten).
    RoutingDecision first = routing.decide(fixed, Prompt.of("0.6"), null, "conv");
    assertEquals("mini", first.upstream());
    assertFalse(first.pinned());
    RoutingDecision later = routing.decide(fixed, Prompt.of("0.99"), null, "conv");
    assertEquals("mini", later.upstream());
    assertEquals(Route.WEAK, later.route());
    assertTrue(later.pinned());
    assertTrue(Double.isNaN(later.strongWinRate()), "the router was not asked");

    Ladder twoWay = new Ladder(List.of(Ladder.Rung.unpriced("strong", "big"), Ladder.Rung.unpriced("weak", "local")));
    RoutingService after = service(controller(clock), pins, twoWay);
    RoutingDecision d = after.decide(after.specFor("router-scored-0.5"), Prompt.of("0.99"), null, "conv");
    assertFalse(d.pinned(), "mini is gone: decided afresh");
    assertEquals("strong", d.upstream());
  }

  /**
   * Replicas sharing pins, the newer ones no longer configuring the upstream a session was pinned to
   * (an entry renamed or removed in a rolling deploy): its next turn is routed afresh, and the session
   * then follows where that turn went, on every replica of the new config. The old pin held the
   * store's set-if-absent for the rest of its life, so each later turn was routed afresh and went
   * wherever it scored: the session unpinned for up to session_ttl_ms.
   */
  @Test
  void aSessionPinnedToAnUpstreamNoLongerConfiguredIsPinnedAgainWhereItGoes() {
    ManualClock clock = new ManualClock(T0);
    MapPinStore store = new MapPinStore();
    Ladder twoWay = new Ladder(List.of(Ladder.Rung.unpriced("strong", "big"), Ladder.Rung.unpriced("weak", "local")));
    try (SessionPins old = pins(store, clock); SessionPins renewed = pins(store, clock); SessionPins another = pins(store, clock)) {
      RoutingService before = service(controller(clock), old, LADDER);
      assertEquals("mini", before.decide(before.specFor("router-scored-0.5"), Prompt.of("0.6"), null, "conv").upstream());

      RoutingService after = service(controller(clock), renewed, twoWay);
      RouteSpec fixed = after.specFor("router-scored-0.5");
      RoutingDecision moved = after.decide(fixed, Prompt.of("0.99"), null, "conv");
      assertFalse(moved.pinned(), "mini is gone: decided afresh");
      assertEquals("strong", moved.upstream());
      RoutingDecision later = after.decide(fixed, Prompt.of("0.1"), null, "conv");
      assertEquals("strong", later.upstream(), "pinned where the turn after mini went");
      assertTrue(later.pinned());
      RoutingService replica = service(controller(clock), another, twoWay);
      assertEquals("strong", replica.decide(fixed, Prompt.of("0.1"), null, "conv").upstream(), "on every new replica");
      assertEquals("mini", before.decide(before.specFor("router-scored-0.5"), Prompt.of("0.99"), null, "conv").upstream(),
          "an old replica still knows mini");
    }
  }

  private static SessionPins pins(StateStore store, ManualClock clock) {
    return new SessionPins(Duration.ofHours(1), 100, store, () -> true, Duration.ofSeconds(5), StateListener.NONE, clock);
  }

  @Test
  void anAutoAnswersCostIsItsUsageAtItsUpstreamsPriceAndAFixedOnesIsNotTheTargets() {
    ManualClock clock = new ManualClock(T0);
    TargetController target = controller(clock);
    RoutingService routing = service(target, null, LADDER);
    RouteSpec auto = routing.specFor("router-scored-auto");
    routing.answered(auto, "mini", 0.002);
    routing.answered(auto, "strong", 0.025);
    routing.answered(auto, "weak", 0.5);    // no price in the ladder: not counted
    routing.answered(routing.specFor("router-scored-0.5"), "strong", 0.025);
    clock.advance(1000);
    target.tick(target.snapshot(), null);
    assertEquals(0.002 + 0.025, target.windowSpend(), 1e-12);
  }

  /**
   * A router's failure goes to the top at any α, so its target counts it as the top's: left out of
   * the sketch, one failure in five took the share to 0.44 against a 0.3 target (a review).
   */
  @Test
  void routerFailuresGoToTheTopAtAnyAlphaSoTheyCountAsTheTopsAndTheShareHolds() {
    // One decision in five fails (a judge timing out, a scoring queue full): it goes strong at any α.
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("scored", new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1, Duration.ofSeconds(60), 0.5), clock);
    Router router = p -> {
      double v = Double.parseDouble(p.text());
      if (v < 0) {
        throw new RouterException("timeout", "judge did not answer");
      }
      return v;
    };
    RoutingService routing = new RoutingService(Map.of("scored", router), "scored", 0.5, RoutingListener.NONE, null,
        LadderRule.threshold(Ladder.twoWay("strong", "weak")), Map.of("scored", c), null);
    RouteSpec auto = routing.specFor("router-scored-auto");
    Random rnd = new Random(3);
    int strong = 0;
    int n = 0;
    for (int s = 0; s < 600; s++) {
      for (int i = 0; i < 20; i++) {
        String text = rnd.nextDouble() < 0.2 ? "-1" : Double.toString(rnd.nextDouble());
        RoutingDecision d = routing.decide(auto, Prompt.of(text));
        if (s >= 120) {
          n++;
          strong += d.route() == Route.STRONG ? 1 : 0;
        }
      }
      clock.advance(1000);
      c.tick(c.snapshot(), null);
    }
    assertEquals(0.3, (double) strong / n, 0.02, "the share of all auto requests sent strong");
    assertEquals(0.3, c.observedShare(), 0.03);
    assertFalse(c.outOfReach());
  }
}
