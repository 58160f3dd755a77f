package io.routewise.eval;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class QualityCurveTest {

  @Test
  void aRouterThatSendsExactlyTheStrongWinsFirstRecoversTheGapQuickly() {
    // 10 prompts; the strong model wins only on the 2 highest-scored ones
    double[] scores = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0};
    double[] strong = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    double[] weak = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    QualityCurve c = QualityCurve.of(scores, strong, weak);
    // thresholds at the deciles give 0%, 10%, ..., 100% strong calls; quality 0.8, 0.9, 1.0, 1.0, ...
    assertEquals(0.0, c.pct[0], 1e-9);
    assertEquals(100.0, c.pct[10], 1e-9);
    assertEquals(0.9, c.quality[1], 1e-9);
    // area = 0.1*(0.8+0.9)/2 + 0.1*(0.9+1.0)/2 + 0.8*1.0 = 0.085 + 0.095 + 0.8 = 0.98; APGR = (0.98-0.8)/0.2
    assertEquals(0.9, c.apgr(), 1e-9);
    // CPT(50%): quality 0.9 is reached at 10% strong calls
    assertEquals(10.0, c.cpt(0.5), 1e-9);
  }

  @Test
  void cptIsWhereQualityFirstReachesTheTargetOnACurveThatDips() {
    // quality by decile of strong calls: 0.2 0.25 0.25 0.25 0.3 0.35 0.35 0.45 0.4 0.45 0.5 (strong 0.5, weak 0.2)
    double[] scores = {0.569, 0.802, 0.063, 0.118, 0.761, 0.472, 0.38, 0.21, 0.488, 0.893, 0.39, 0.607, 0.767, 0.696,
        0.266, 0.802, 0.591, 0.102, 0.317, 0.022};
    double[] strong = {1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1};
    double[] weak = {0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    QualityCurve c = QualityCurve.of(scores, strong, weak);
    assertEquals(0.4625, c.apgr(), 1e-9); // apgr.py's
    // 0.44 is first reached between the 7th and 8th points (0.35 -> 0.45), not after the dip to 0.4,
    // where numpy.interp's search lands (apgr.py: 88 %)
    assertEquals(0.35, c.quality[6], 1e-9);
    assertEquals(0.45, c.quality[7], 1e-9);
    assertEquals(c.pct[6] + (c.pct[7] - c.pct[6]) * 0.9, c.cpt(0.8), 1e-9);
    // a curve up early, then down: a bisection from both ends found the late crossing (94 %, not 8 %)
    double[] pct = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    double[] up = {0.2, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5};
    assertEquals(8.0, QualityCurve.firstReaching(0.44, up, pct), 1e-9);
    assertEquals(0.0, QualityCurve.firstReaching(0.2, up, pct), 1e-9);
    assertEquals(100.0, QualityCurve.firstReaching(0.6, up, pct), 1e-9, "never reached: the last point");
  }

  @Test
  void theRandomRouterRecoversAboutHalfTheGap() {
    int n = 2000;
    double[] strong = new double[n];
    double[] weak = new double[n];
    for (int i = 0; i < n; i++) {
      strong[i] = 1;
      weak[i] = i % 2;
    }
    assertEquals(0.5, QualityCurve.random(strong, weak, 10, 1).apgr(), 0.03);
  }


  /** strong == weak quality: (auc - weak) / 0; rounding made it -Infinity, which the table printed. */
  @Test
  void apgrIsUndefinedNotInfiniteWhenStrongAndWeakHaveTheSameQuality() {
    int n = 20;
    double[] scores = new double[n];
    double[] strong = new double[n];
    double[] weak = new double[n];
    for (int i = 0; i < n; i++) {
      scores[i] = i;
      strong[i] = i % 2;
      weak[i] = (i + 1) % 2;
    }
    QualityCurve c = QualityCurve.of(scores, strong, weak);
    assertTrue(Double.isNaN(c.apgr()), "APGR " + c.apgr());
    QualityCurve r = QualityCurve.random(strong, weak, 10, 0);
    assertTrue(Double.isNaN(r.apgr()), "random APGR " + r.apgr());
    EvalReport report = new EvalReport("t");
    report.add("random", r);
    report.add("x", c);
    assertFalse(report.table().contains("Infinity"), report.table());
  }
}
