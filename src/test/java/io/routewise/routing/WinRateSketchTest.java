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

  /** A tie in the bin where the share is reached is cut around, at the nearest share a threshold can give. */
  @Test
  void aTieIsCutAroundAtTheNearestShareAndDistinctRatesAsBefore() {
    double[] rates = new double[1000];
    WinRateSketch s = new WinRateSketch();
    for (int i = 0; i < rates.length; i++) {
      rates[i] = i < 800 ? 0.3 : 0.9;
      s.add(rates[i]);
    }
    double[] sample = Arrays.copyOf(rates, 1000);
    assertEquals(0.2, shareAtOrAbove(rates, s.thresholdForShare(0.3, sample)), 1e-12, "0.2 is nearer 0.3 than 1.0");
    assertEquals(1.0, shareAtOrAbove(rates, s.thresholdForShare(0.7, sample)), 1e-12, "1.0 is nearer 0.7 than 0.2");
    double between = s.thresholdForShare(0.3, sample);
    assertTrue(between > 0.3 && between < 0.9, "α above the tie, within its bin: " + between);
    double below = s.thresholdForShare(0.7, sample);
    assertTrue(below < 0.3 && below > 0.29, "α below the tie, within its bin: " + below);
    // ties among distinct rates in the bin: cut between values
    double[] mixed = {0.3, 0.3, 0.3, 0.3005, 0.3005, 0.9};
    WinRateSketch m = new WinRateSketch();
    for (double r : mixed) {
      m.add(r);
    }
    assertEquals(WinRateSketch.bin(0.3), WinRateSketch.bin(0.3005), "one bin");
    assertEquals(3 / 6.0, shareAtOrAbove(mixed, m.thresholdForShare(0.5, mixed)), 1e-12);
    // distinct rates: the sample changes nothing
    Random rnd = new Random(3);
    WinRateSketch u = new WinRateSketch();
    double[] distinct = new double[500];
    for (int i = 0; i < distinct.length; i++) {
      distinct[i] = rnd.nextDouble();
      u.add(distinct[i]);
    }
    assertEquals(u.thresholdForShare(0.3), u.thresholdForShare(0.3, distinct));
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
