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

  private static List<String> warnings(List<UpstreamConfig> upstreams, String setting) {
    Ladder ladder = Ladder.byPrice(upstreams.stream().map(u -> new Rung(u.name(), u.model(), u.price().input(),
        u.price().output())).toList());
    Map<String, LadderRule> rules = new LinkedHashMap<>();
    rules.put("length", LadderRule.forRouter(ladder, setting, ONE_SCORE));
    rules.put("mf", LadderRule.forRouter(ladder, setting, PER_UPSTREAM));
    return Routewise.ladderWarnings(upstreams, setting, rules);
  }

  @Test
  void autoNamesTheRoutersItPutsUnderThePriceWeightedRule() {
    List<UpstreamConfig> three = List.of(upstream("strong", 2.5, 10), upstream("mini", 0.15, 0.6),
        upstream("weak", 0.1, 0.1));
    List<String> w = warnings(three, "auto");
    assertEquals(1, w.size(), w.toString());
    assertTrue(w.get(0).startsWith("routing.ladder_rule auto gives [mf] the price-weighted rule"), w.get(0));
    assertTrue(w.get(0).contains("set routing.ladder_rule: threshold to keep the old decisions"), w.get(0));
    assertEquals(List.of(), warnings(three, "threshold"), "a rule chosen by name changes nothing unasked");
    assertEquals(List.of(), warnings(three, "price_weighted"), "nor does price_weighted, named");
    assertEquals(List.of(), warnings(List.of(upstream("strong", 2.5, 10), upstream("weak", 0.1, 0.1)), "auto"),
        "two upstreams: both rules are the two-model rule");
  }

  @Test
  void anUpstreamPricedAboveStrongIsNamed() {
    List<UpstreamConfig> ladder = List.of(upstream("strong", 2.5, 10), upstream("opus", 15, 75),
        upstream("weak", 0.1, 0.1));
    // priced above the top: auto falls back to threshold for every router, so the only warning is the price
    assertEquals(List.of("upstream opus is priced above strong; strong stays the most capable (the top of the "
        + "ladder, where failed routers send requests, and what savings are counted against)"),
        warnings(ladder, "auto"));
  }
}
