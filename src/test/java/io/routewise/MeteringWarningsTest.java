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
    assertEquals(2, w.size(), w.toString());
    assertTrue(w.get(0).contains("answers from [weak], which have no price"), w.toString());
    assertTrue(w.get(1).contains("unpriced: allow ([batch]): passthrough to strong (every endpoint)")
        && w.get(1).endsWith("routing.passthrough_endpoints limits what passes"), w.toString());
    assertEquals(1, warnings("price: {input: 1, output: 1}, stream_usage: true,",
        "passthrough: strong, passthrough_endpoints: [files]", Set.of("batch")).size(), "files generate nothing");
    assertEquals(1, warnings("price: {input: 1, output: 1}, stream_usage: true,", "passthrough: strong",
        Set.of("batch"), false).size(), "a budget that refuses what it cannot meter sees the passthrough it lets go");
    assertTrue(warnings("price: {input: 1, output: 1},", "", Set.of("batch")).get(0)
        .contains("chat streams from [strong] whose client did not ask for usage are charged what they held"));
  }

  /**
   * A stream without usage is charged its hold at the price of the upstream that answered it, so a
   * free or unpriced one's cost nothing: the README's ladder (llama priced 0, local) was told at start
   * that its streams were charged a guess and to set stream_usage on it (an operator trial).
   */
  @Test
  void aFreeUpstreamsStreamsAreNotSaidToBeChargedAGuess() {
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", "")
        .replace("model: strong-model,", "model: strong-model, price: {input: 2.5, output: 10}, stream_usage: true,")
        .replace("model: weak-model,", "model: weak-model, price: {input: 0, output: 0},");
    RoutewiseConfig c = TestConfigs.config(TestConfigs.withRouting(yaml, "failover: true"));
    List<String> w = Routewise.meteringWarnings(c, RouterCatalog.inLadderOrder(c), java.util.Map.of("batch",
        new io.routewise.config.ClientKey.Budget(1, io.routewise.config.ClientKey.Period.DAY, false)));
    assertEquals(List.of(), w);
  }
}
