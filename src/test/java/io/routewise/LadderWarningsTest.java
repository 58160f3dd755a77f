package io.routewise;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.Price;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import io.routewise.routing.Ladder;
import io.routewise.routing.Ladder.Rung;
import io.routewise.routing.LadderRule;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the start log warns an operator about a ladder: the rule auto chose, and a top that is not the dearest. */
class LadderWarningsTest {
  private static final Router PER_UPSTREAM = new Router() {
    @Override
    public double strongWinRate(Prompt prompt) {
      return 0.5;
    }

    @Override
    public boolean scoresEachUpstream() {
      return true;
    }
  };
  private static final Router ONE_SCORE = prompt -> 0.5;

  private static UpstreamConfig upstream(String name, double input, double output) {
    return new UpstreamConfig(name, URI.create("http://127.0.0.1:9/v1"), Secret.of("k"), name + "-model",
        Duration.ofSeconds(1), Duration.ofSeconds(1), Map.of(), new Price(input, output), null);
  }

  private static UpstreamConfig unpriced(String name) {
    return new UpstreamConfig(name, URI.create("http://127.0.0.1:9/v1"), Secret.of("k"), name + "-model",
        Duration.ofSeconds(1), Duration.ofSeconds(1), Map.of(), null, null);
  }

  private static List<String> warnings(List<UpstreamConfig> upstreams, String setting) {
    Ladder ladder = Ladder.byPrice(upstreams.stream().map(u -> u.price() == null ? new Rung(u.name(), u.model(),
        Double.NaN, Double.NaN) : new Rung(u.name(), u.model(), u.price().input(), u.price().output())).toList());
    Map<String, LadderRule> rules = new LinkedHashMap<>();
    rules.put("length", LadderRule.forRouter(ladder, setting, ONE_SCORE));
    rules.put("mf", LadderRule.forRouter(ladder, setting, PER_UPSTREAM));
    return Routewise.ladderWarnings(upstreams, setting, rules);
  }

  @Test
  void aWellPricedLadderStartsWithoutWarnings() {
    List<UpstreamConfig> three = List.of(upstream("strong", 2.5, 10), upstream("mini", 0.15, 0.6),
        upstream("weak", 0.1, 0.1));
    // which rule auto gave each router is the start line's (INFO), not a warning every start repeats
    assertEquals(List.of(), warnings(three, "auto"));
    assertEquals(List.of(), warnings(three, "threshold"));
    assertEquals(List.of(), warnings(three, "price_weighted"));
    assertEquals(List.of(), warnings(List.of(upstream("strong", 2.5, 10), upstream("weak", 0.1, 0.1)), "auto"));
  }

  @Test
  void aForgottenPriceIsNamedWithWhatItDoesToTheLadder() {
    List<UpstreamConfig> ladder = List.of(upstream("strong", 2.5, 10), unpriced("big"), upstream("mini", 0.15, 0.6),
        upstream("weak", 0.1, 0.1));
    assertEquals(List.of("no price for upstream(s) [big] while the others have one: their answers' cost is unknown "
        + "and not in routewise_cost_usd_total; on the ladder [big] count as free (price 0: below every upstream "
        + "that costs something; weak goes below its equals); "
        + "ladder_rule auto decides by threshold for every router (price weighting needs every price); a local "
        + "model: price: {input: 0, output: 0}"), warnings(ladder, "auto"));
    List<String> top = warnings(List.of(unpriced("strong"), upstream("weak", 0.1, 0.1)), "auto");
    assertEquals(1, top.size(), top.toString());
    assertTrue(top.get(0).contains("; strong has none, so no saving is counted;"), top.get(0));
    assertEquals(List.of(), warnings(List.of(unpriced("strong"), unpriced("weak")), "auto"),
        "nothing priced: a choice, said at INFO");
  }

  @Test
  void anUpstreamPricedAboveStrongIsNamed() {
    List<UpstreamConfig> ladder = List.of(upstream("strong", 2.5, 10), upstream("opus", 15, 75),
        upstream("weak", 0.1, 0.1));
    // priced above the top: auto falls back to threshold for every router, and says so
    assertEquals(List.of("upstream opus is priced above strong; strong stays the most capable (the top of the "
        + "ladder, where failed routers send requests, and what savings are counted against), so routers never send "
        + "to opus (strong does at least as well for less; it still serves upstream-opus and failover); ladder_rule auto "
        + "decides by threshold for every router (price weighting needs strong the dearest)"),
        warnings(ladder, "auto"));
    assertEquals(List.of("upstream opus is priced above strong; strong stays the most capable (the top of the "
        + "ladder, where failed routers send requests, and what savings are counted against), so routers never send "
        + "to opus (strong does at least as well for less; it still serves upstream-opus and failover)"),
        warnings(ladder, "threshold"), "a rule set by hand is not auto's to explain");
  }

  @Test
  void aLadderOfOnePriceSaysAutoHasNothingToWeigh() {
    List<UpstreamConfig> ladder = List.of(upstream("strong", 0.2, 0.2), upstream("mid", 0.2, 0.2),
        upstream("weak", 0.2, 0.2));
    assertEquals(List.of("every upstream has the same price: ladder_rule auto decides by threshold for every "
        + "router (nothing to weigh)"), warnings(ladder, "auto"));
    assertEquals(List.of(), warnings(List.of(upstream("strong", 0.2, 0.2), upstream("weak", 0.2, 0.2)), "auto"),
        "two upstreams: the two-model rule, whatever the prices");
  }
}
