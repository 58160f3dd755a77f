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
}
