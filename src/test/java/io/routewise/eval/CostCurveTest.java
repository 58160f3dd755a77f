package io.routewise.eval;

import java.util.List;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routing.ThresholdRule;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CostCurveTest {

  @Test
  void theHullOfSingleModelsKeepsOnlyTheUpperConcaveNonDecreasingFrontier() {
    // (1, 0.3) cheap; (2, 0.4) below the segment (1, 0.3)-(4, 0.9); (3, 0.2) dominated; (4, 0.9) best;
    // (9, 0.85) dearer and worse than the best: dominated.
    CostCurve h = CostCurve.hull(new double[] {3, 1, 9, 4, 2}, new double[] {0.2, 0.3, 0.85, 0.9, 0.4});
    assertArrayEquals(new double[] {1, 4}, h.cost);
    assertArrayEquals(new double[] {0.3, 0.9}, h.quality);
    CostCurve kink = CostCurve.hull(new double[] {1, 2, 4}, new double[] {0.3, 0.8, 0.9});
    assertArrayEquals(new double[] {1, 2, 4}, kink.cost, "(2, 0.8) lies above the segment and stays");
  }

  @Test
  void meanQualityIsTheAreaOverTheRangeDividedByItsWidthFlatBeyondTheEnds() {
    CostCurve c = new CostCurve(new double[] {1, 3}, new double[] {0.2, 0.6});
    assertEquals(0.4, c.meanQuality(1, 3), 1e-12);
    // [0, 1] flat at 0.2, [1, 3] mean 0.4, [3, 4] flat at 0.6: (0.2 + 0.8 + 0.6) / 4
    assertEquals(0.4, c.meanQuality(0, 4), 1e-12);
    assertEquals(0.5, c.meanQuality(2, 3), 1e-12);
  }

  @Test
  void theCostToReachAQualityIsReadOffTheFirstSegmentThatGetsThere() {
    CostCurve c = new CostCurve(new double[] {1, 2, 3, 4}, new double[] {0.2, 0.6, 0.5, 0.8});
    assertEquals(1.5, c.costToReach(0.4), 1e-12);
    assertEquals(1.0, c.costToReach(0.1));
    assertEquals(3 + 2.0 / 3, c.costToReach(0.7), 1e-12); // (3, 0.5) to (4, 0.8)
    assertTrue(Double.isNaN(c.costToReach(0.81)));
  }

  @Test
  void theExactSweepHasAPointForEveryAlphaOnAFineGrid() {
    Random rnd = new Random(11);
    int n = 300;
    int k = 5;
    double[][] rates = new double[n][k];
    double[][] cost = new double[n][k];
    double[][] quality = new double[n][k];
    for (int p = 0; p < n; p++) {
      for (int r = 0; r < k; r++) {
        rates[p][r] = r == 0 ? 0 : Math.round(rnd.nextDouble() * 100) / 100.0; // ties on purpose
        cost[p][r] = (k - r) * (1 + rnd.nextDouble());
        quality[p][r] = rnd.nextInt(2);
      }
    }
    CostCurve exact = CostCurve.sweep(rates, cost, quality);
    double[] alphas = java.util.stream.IntStream.rangeClosed(0, 2000).mapToDouble(i -> i / 2000.0).toArray();
    double[][] grid = CostCurve.atAlphas(n, alphas.length, (p, a) -> ThresholdRule.rung(rates[p], alphas[a]), cost, quality);
    for (int a = 0; a < alphas.length; a++) {
      boolean found = false;
      for (int i = 0; i < exact.cost.length && !found; i++) {
        found = Math.abs(exact.cost[i] - grid[0][a]) < 1e-9 && Math.abs(exact.quality[i] - grid[1][a]) < 1e-9;
      }
      assertTrue(found, "alpha " + alphas[a] + " gives a point the sweep missed");
    }
    assertEquals(grid[0][0], exact.cost[exact.cost.length - 1], 1e-9, "alpha 0: everything to the top, the dearest");
  }


  /**
   * A ladder all at one price (the README's threshold-rule case) or of free local models: the range
   * is one cost wide, and every "mean quality" was 0 / 0 = NaN, exit 0.
   */
  @Test
  void aRangeOfZeroWidthGivesTheQualityAtThatCostNotNaN() {
    CostQualityReport report = new CostQualityReport("t", "a", List.of("top", "low"), new double[] {1e-3, 1e-3},
        new double[] {0.7, 0.5}, new double[] {0, 1});
    // a sweep's running sums drift in the last bits: 1e-3 + 1e-19 is the same cost
    report.add("r", new CostCurve(new double[] {1e-3, 1e-3 * (1 + 1e-15), 1e-3}, new double[] {0.7, 0.8, 0.5}),
        new double[][] {{1e-3, 1e-3}, {0.7, 0.5}});
    String table = report.table();
    assertFalse(table.contains("NaN"), table);
    assertEquals(0.7, report.hull().meanQuality(1e-3, 1e-3), 1e-12, "the hull at that cost: the best model there");
    assertEquals(0.8, report.curves().get("r").meanQuality(1e-3, 1e-3), 1e-12, "the best the curve reaches there");
  }

  /**
   * The best single model free (a local model priced 0 that answers best on this traffic): "cost to
   * match the best" is a share of its cost, 0 / 0, and every row printed "0.0000 (NaN%)".
   */
  @Test
  void aFreeBestModelGivesNoNaNShareOfItsCost() {
    CostQualityReport report = new CostQualityReport("t", "a", List.of("top", "local"), new double[] {1e-3, 0},
        new double[] {0.6, 0.7}, new double[] {0, 1});
    report.add("r", new CostCurve(new double[] {0, 5e-4, 1e-3}, new double[] {0.7, 0.65, 0.6}),
        new double[][] {{1e-3, 0}, {0.6, 0.7}});
    String table = report.table();
    assertFalse(table.contains("NaN"), table);
    assertFalse(table.contains("Infinity"), table);
  }
}
