package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DecisionHeadersTest {
  @Test
  void winRateHeaderReadsLikePercentSixF() {
    for (double v : new double[] {0, 1, 0.5, 0.1234565, 0.0000004, 0.9999996, 0.9999994, 1e-6, 0.116}) {
      assertEquals(String.format(Locale.ROOT, "%.6f", v), DecisionHeaders.sixDecimals(v), "for " + v);
    }
    // decimal ties, where rounding the scaled double instead of the decimal form goes wrong
    for (int i = 0; i < 1_000_000; i += 997) {
      double v = Double.parseDouble("0." + String.format(Locale.ROOT, "%06d", i) + "5");
      assertEquals(String.format(Locale.ROOT, "%.6f", v), DecisionHeaders.sixDecimals(v), "for " + v);
    }
    assertEquals(String.format(Locale.ROOT, "%.6f", 1.245E-4), DecisionHeaders.sixDecimals(1.245E-4));
    Random random = new Random(7);
    for (int i = 0; i < 100_000; i++) {
      double v = random.nextDouble();
      assertEquals(String.format(Locale.ROOT, "%.6f", v), DecisionHeaders.sixDecimals(v), "for " + v);
    }
    assertEquals("NaN", DecisionHeaders.sixDecimals(Double.NaN));
  }

  /** Before, 0.3499996 routed weak against α = 0.35 and its header read 0.350000, which is >= α. */
  @Test
  void theShownWinRateIsOnTheSameSideOfTheThresholdAsTheRate() {
    assertEquals("0.349999", DecisionHeaders.rateBeside(0.3499996, 0.35));
    assertEquals("0.350000", DecisionHeaders.rateBeside(0.35, 0.35));
    assertEquals("0.350001", DecisionHeaders.rateBeside(0.3500004, 0.3500004), "strong at α = 0.3500004: not 0.350000");
    assertEquals("0.123457", DecisionHeaders.rateBeside(0.1234565, 0.5), "far from α: as %.6f");
    assertEquals("0.123457", DecisionHeaders.rateBeside(0.1234565, Double.NaN), "no threshold");
    Random random = new Random(11);
    for (int i = 0; i < 100_000; i++) {
      double rate = random.nextDouble();
      double alpha = rate + (random.nextDouble() - 0.5) * 2e-6;
      double shown = Double.parseDouble(DecisionHeaders.rateBeside(rate, alpha));
      assertEquals(rate >= alpha, shown >= alpha, rate + " against " + alpha);
      assertEquals(rate, shown, 1e-6 + 1e-12, "rounded by at most one step");
    }
  }

  /** The threshold's text is kept while it stays the same, and is always Double.toString's. */
  @Test
  void theThresholdReadsAsDoubleToStringWhateverCameBefore() {
    for (double t : new double[] {0.5, 0.5, 0.35, 0.65715, 0.35, 1e-7, 0, 1, 0.5}) {
      assertEquals(Double.toString(t), DecisionHeaders.thresholdText(t));
    }
  }
}
