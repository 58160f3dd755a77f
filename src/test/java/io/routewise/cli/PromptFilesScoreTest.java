package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.routewise.data.PromptRecord;
import io.routewise.routing.Router;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PromptFilesScoreTest {
  private static PromptRecord prompt(String text) {
    return new PromptRecord(text, "s", null, text, Map.of());
  }

  @Test
  void aRateOutsideZeroToOneIsTheRoutersFailureAsServeTakesIt() throws Exception {
    // serve sends such a decision strong as out_of_range; score wrote "score": null without a word
    Router router = p -> switch (p.text()) {
      case "nan" -> Double.NaN;
      case "big" -> 1.5;
      default -> 0.25;
    };
    List<String> kinds = new ArrayList<>();
    double[] scores = PromptFiles.score(router, "r", List.of(prompt("ok"), prompt("nan"), prompt("big")), false,
        (i, e) -> {
          kinds.add(i + " " + e.kind());
          return -1;
        });
    assertArrayEquals(new double[] {0.25, -1, -1}, scores);
    assertEquals(List.of("1 out_of_range", "2 out_of_range"), kinds);
  }
}
