package io.routewise;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.RoutewiseConfig;
import io.routewise.routers.RouterCatalog;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What the start log says a budget cannot see, and model_prices that nothing reads. */
class MeteringWarningsTest {
  private static List<String> warnings(String strongExtra, String routingKeys, Set<String> budgeted) {
    return warnings(strongExtra, routingKeys, budgeted, true);
  }

  private static List<String> warnings(String strongExtra, String routingKeys, Set<String> budgeted,
      boolean allowUnpriced) {
    java.util.Map<String, io.routewise.config.ClientKey.Budget> budgets = new java.util.HashMap<>();
    budgeted.forEach(b -> budgets.put(b, new io.routewise.config.ClientKey.Budget(1,
        io.routewise.config.ClientKey.Period.DAY, allowUnpriced)));
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", "")
        .replace("model: strong-model,", "model: strong-model, " + strongExtra);
    RoutewiseConfig c = TestConfigs.config(routingKeys.isEmpty() ? yaml : TestConfigs.withRouting(yaml, routingKeys));
    return Routewise.meteringWarnings(c, RouterCatalog.inLadderOrder(c), budgets);
  }

  @Test
  void modelPricesOffThePassthroughAreSaidToDoNothing() {
    String prices = "model_prices: {mini: {input: 1, output: 1}},";
    assertEquals(List.of("upstreams.strong.model_prices does nothing: only passthrough traffic names other models, "
        + "and strong is not routing.passthrough"), warnings(prices, "", Set.of()));
    assertEquals(List.of(), warnings(prices, "passthrough: strong", Set.of()));
  }

  @Test
  void aBudgetIsToldWhatItCannotSee() {
    List<String> w = warnings("price: {input: 1, output: 1}, stream_usage: true,", "passthrough: strong",
        Set.of("batch"));
    assertEquals(3, w.size(), w.toString());
    assertTrue(w.get(0).contains("chat streams from [weak]"), w.toString());
    assertTrue(w.get(1).contains("answers from [weak], which have no price"), w.toString());
    assertTrue(w.get(2).contains("unpriced: allow ([batch]): passthrough to strong (every endpoint)")
        && w.get(2).endsWith("routing.passthrough_endpoints limits what passes"), w.toString());
    assertEquals(2, warnings("price: {input: 1, output: 1}, stream_usage: true,",
        "passthrough: strong, passthrough_endpoints: [files]", Set.of("batch")).size(), "files generate nothing");
    assertEquals(2, warnings("price: {input: 1, output: 1}, stream_usage: true,", "passthrough: strong",
        Set.of("batch"), false).size(), "a budget that refuses what it cannot meter sees the passthrough it lets go");
  }
}
