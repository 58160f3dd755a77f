package io.routewise.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.routewise.data.DatasetReader;
import io.routewise.data.TrainingSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pair a trained model's held-out APGR is measured on. */
class HeldOutMetricsTest {
  @TempDir
  Path tmp;

  /** Twelve held-out prompts scored by {@code models}, each model's score its index's (a falls first). */
  private TrainingSet heldOut(String... models) throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int q = 0; q < 12; q++) {
      StringBuilder outcomes = new StringBuilder();
      for (int m = 0; m < models.length; m++) {
        outcomes.append(m == 0 ? "" : ",").append('"').append(models[m]).append("\":").append(m / 10.0);
      }
      rows.append("{\"id\":\"q").append(q).append("\",\"prompt\":\"p").append(q).append("\",\"outcomes\":{")
          .append(outcomes).append("}}\n");
    }
    var data = DatasetReader.read(List.of(Files.writeString(tmp.resolve("l.jsonl"), rows)));
    return new TrainingSet(data, new float[12][1], List.of(), IntStream.range(0, 12).boxed().toList(), null);
  }

  @Test
  void theDefaultPairWhenTheHeldOutPromptsScoreIt() throws Exception {
    assertArrayEquals(new String[] {"gpt-4o", "llama"}, HeldOutMetrics.pairFor(heldOut("llama", "mine", "gpt-4o"),
        "gpt-4o", "llama"));
  }

  @Test
  void elseTheBestAndWorstModelTheyScore() throws Exception {
    // an operator's labels of their own upstreams: the manifest's defaults are not among them
    assertArrayEquals(new String[] {"big", "small"}, HeldOutMetrics.pairFor(heldOut("small", "mid", "big"),
        "gpt-4o", "llama"));
    assertArrayEquals(new String[] {"gpt-4o", "llama"}, HeldOutMetrics.pairFor(heldOut("alone"), "gpt-4o", "llama"),
        "one model is no pair: the defaults, with no prompts");
  }
}
