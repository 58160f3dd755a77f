package io.routewise.eval;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CostQualityPlotTest {
  @TempDir
  Path tmp;

  private static CostQualityReport report(double cheapest) {
    CostQualityReport r = new CostQualityReport("t", "a", List.of("top", "mid", "local"),
        new double[] {0.01, 0.001, cheapest}, new double[] {0.8, 0.6, 0.4}, new double[] {0, 0.5, 1});
    r.add("length", new CostCurve(new double[] {cheapest, 0.005, 0.01}, new double[] {0.4, 0.6, 0.8}),
        new double[][] {{0.01, 0.8}, {0.005, 0.6}, {cheapest, 0.4}});
    return r;
  }

  @Test
  void aLadderWithAFreeModelIsPlottedOnALinearAxis() throws Exception {
    // the README's own ladder prices its local model 0, which a log axis cannot place: eval --plot exited 2
    for (double cheapest : new double[] {0, 0.0001}) {
      Path png = report(cheapest).plot(tmp.resolve("plot-" + cheapest + ".png"));
      assertTrue(Files.size(png) > 1000, png.toString());
    }
  }
}
