package io.routewise.eval;

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
}
