package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.Ladder.Rung;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LadderTest {
  private static List<String> names(Ladder l) {
    return l.rungs().stream().map(Rung::upstream).toList();
  }

  @Test
  void equalPricesShareATierAndUnpricedRungsNever() {
    Ladder l = Ladder.byPrice(List.of(new Rung("strong", "s", 1, 1), new Rung("a", "a", 0.2, 0.2),
        new Rung("b", "b", 0.2, 0.2), new Rung("c", "c", 0.1, 0.3), Rung.unpriced("d", "d"),
        Rung.unpriced("weak", "w")));
    assertEquals(List.of("strong", "a", "b", "c", "d", "weak"), names(l));
    int[] t = l.priceTiers();
    assertEquals(t[1], t[2], "0.2 / 0.2 twice");
    assertTrue(t[3] != t[1], "the same sum, 0.4, but another split: another cost a prompt");
    assertTrue(t[4] != t[5], "unpriced rungs keep their written order");
    assertEquals(6, java.util.Arrays.stream(t).distinct().count() + 1);
  }

  @Test
  void aBudgetsFirstEstimateWeighsPricesByTheTokenMixAndSkipsRungsAboveTheTop() {
    List<Rung> upstreams = List.of(new Rung("strong", "gpt-4o", 2.5, 10),
        new Rung("sonnet", "claude", 3, 15), new Rung("weak", "flash", 0.075, 0.3));
    // input + output: sonnet is above the top and never routed to, so only flash counts
    assertEquals(0.375 / 12.5, Ladder.byPrice(upstreams).belowTopPriceRatio(), 1e-12);
    // prompts of 10 input tokens for each output token
    assertEquals((10 * 0.075 + 0.3) / (10 * 2.5 + 10), Ladder.byPrice(upstreams, 10, 1).belowTopPriceRatio(), 1e-12);
    // two upstreams: a weak dearer than strong is the ratio, above 1 (the controller then sends all to strong)
    assertEquals(18.0 / 12.5, Ladder.byPrice(List.of(upstreams.get(0), new Rung("weak", "claude", 3, 15)))
        .belowTopPriceRatio(), 1e-12);
    assertTrue(Double.isNaN(Ladder.byPrice(List.of(upstreams.get(0), Rung.unpriced("weak", "local")))
        .belowTopPriceRatio()), "an unpriced rung: unknown");
  }

  @Test
  void strongIsOnTopAndTheOthersFollowDearestFirst() {
    Ladder l = Ladder.byPrice(List.of(
        new Rung("weak", "llama", 0.2, 0.2),
        new Rung("mini", "gpt-4o-mini", 0.15, 0.6),
        new Rung("strong", "gpt-4o", 2.5, 10),
        new Rung("sonnet", "claude", 3, 15)));
    assertEquals(List.of("strong", "sonnet", "mini", "weak"), names(l),
        "strong stays the top even below another's price; the rest by input + output");
  }

  @Test
  void unpricedUpstreamsCountAsFreeAndWeakGoesBelowItsEquals() {
    Ladder l = Ladder.byPrice(List.of(
        Rung.unpriced("strong", "gpt-4o"),
        Rung.unpriced("weak", "ollama"),
        Rung.unpriced("local2", "phi"),
        new Rung("mini", "gpt-4o-mini", 0.15, 0.6),
        Rung.unpriced("local1", "qwen")));
    assertEquals(List.of("strong", "mini", "local2", "local1", "weak"), names(l));
  }

  @Test
  void twoUpstreamsAreStrongThenWeakWhateverTheirPrices() {
    assertEquals(List.of("strong", "weak"),
        names(Ladder.byPrice(List.of(new Rung("weak", "w", 10, 10), new Rung("strong", "s", 1, 1)))));
  }

  @Test
  void aLadderNeedsStrongAndTwoDistinctUpstreams() {
    assertThrows(IllegalArgumentException.class, () -> Ladder.byPrice(List.of(Rung.unpriced("a", "x"), Rung.unpriced("b", "y"))));
    assertThrows(IllegalArgumentException.class, () -> Ladder.byPrice(List.of(Rung.unpriced("strong", "x"))));
    assertThrows(IllegalArgumentException.class,
        () -> new Ladder(List.of(Rung.unpriced("strong", "x"), Rung.unpriced("strong", "y"))));
  }

  @Test
  void aRequestWithMediaClimbsToTheNearestRungThatTakesThem() {
    Ladder ladder = new Ladder(List.of(new Ladder.Rung("strong", "a", 3, 3, Set.of()),
        new Ladder.Rung("mini", "b", 1, 1, Set.of(Media.IMAGE)), new Ladder.Rung("weak", "c", 0.1, 0.1, Set.of())));
    assertEquals(2, ladder.accepting(2, Set.of()));
    assertEquals(1, ladder.accepting(2, Set.of(Media.IMAGE)));
    assertEquals(1, ladder.accepting(1, Set.of(Media.IMAGE)));
    assertEquals(0, ladder.accepting(2, Set.of(Media.IMAGE, Media.AUDIO)), "none takes both: the top");
    assertEquals(0, ladder.accepting(0, Set.of(Media.AUDIO)), "none takes audio: the top");
    // a text-only top (a reasoning model) gives an image to the nearest below that takes it
    assertEquals(1, ladder.accepting(0, Set.of(Media.IMAGE)));
  }
}
