package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WinRateSketchTest {

  /** Share of {@code rates} that a threshold sends strong, by the threshold rule itself. */
  private static double shareAtOrAbove(double[] rates, double alpha) {
    return Arrays.stream(rates).filter(r -> ThresholdRule.route(r, alpha) == Route.STRONG).count() / (double) rates.length;
  }

  @Test
  void theThresholdForAShareOfUniformRatesIsTheirUpperQuantile() {
    Random rnd = new Random(1);
    double[] rates = new double[100_000];
    WinRateSketch s = new WinRateSketch();
    for (int i = 0; i < rates.length; i++) {
      rates[i] = rnd.nextDouble();
      s.add(rates[i]);
    }
    for (double share : new double[] {0.05, 0.3, 0.5, 0.9}) {
      double alpha = s.thresholdForShare(share);
      assertEquals(1 - share, alpha, 0.003, "share " + share);
      assertEquals(share, shareAtOrAbove(rates, alpha), 0.003, "share " + share);
    }
  }

  @Test
  void ratesCrowdedInANarrowBandStillGiveTheShareWithinAPoint() {
    // mf's calibrated thresholds sit near 0.116 with most prompts close by: the bins must resolve that.
    Random rnd = new Random(2);
    double[] rates = new double[50_000];
    WinRateSketch s = new WinRateSketch();
    for (int i = 0; i < rates.length; i++) {
      rates[i] = Math.min(1, Math.max(0, 0.116 + 0.004 * rnd.nextGaussian()));
      s.add(rates[i]);
    }
    for (double share : new double[] {0.1, 0.3, 0.7}) {
      assertEquals(share, shareAtOrAbove(rates, s.thresholdForShare(share)), 0.01, "share " + share);
    }
  }

  @Test
  void noShareMeansOnlyACertainWinAndAFullShareMeansEveryRate() {
    WinRateSketch s = new WinRateSketch();
    assertTrue(Double.isNaN(s.thresholdForShare(0.3)), "nothing counted: no estimate");
    s.add(0.2);
    s.add(0.9);
    assertEquals(1.0, s.thresholdForShare(0));
    assertEquals(0.0, s.thresholdForShare(1));
  }

  @Test
  void ratesAtZeroAndOneLandInTheOuterBinsAndWeightsCount() {
    assertEquals(0, WinRateSketch.bin(0.0));
    assertEquals(WinRateSketch.BINS - 1, WinRateSketch.bin(1.0));
    assertTrue(WinRateSketch.bin(0.5) > 0 && WinRateSketch.bin(0.5) < WinRateSketch.BINS - 1);
    WinRateSketch s = new WinRateSketch();
    s.add(WinRateSketch.bin(0.2), 3);
    s.add(WinRateSketch.bin(0.8), 1);
    assertEquals(4, s.total());
    // A quarter of the weight sits at 0.8: a quarter share sends exactly that bin strong.
    double alpha = s.thresholdForShare(0.25);
    assertTrue(alpha > 0.79 && alpha <= 0.8, "alpha " + alpha);
  }
}
