package io.routewise.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.TargetConfig;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TargetReplayTest {

  @Test
  void theControllerHoldsTheShareThroughAShiftThatMovesAFixedThresholdByMoreThanTenPoints() {
    Random rnd = new Random(5);
    int half = 8_000;
    double[] rates = new double[2 * half];
    for (int i = 0; i < rates.length; i++) {
      rates[i] = i < half ? 0.6 * rnd.nextDouble() : 0.4 + 0.6 * rnd.nextDouble(); // easy, then hard
    }
    TargetConfig target = new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1, Duration.ofSeconds(60), 0.42);
    TargetReplay.Result r = TargetReplay.run(rates, new int[] {0, half}, target, 0.42, 20, 1000);
    List<TargetReplay.Window> windows = TargetReplay.windows(r, 5);
    List<TargetReplay.Phase> phases = TargetReplay.phases(r, windows, 0.03);

    TargetReplay.Phase after = phases.get(1);
    assertTrue(after.settleSeconds() <= 60, "settled " + after.settleSeconds() + " s after the shift");
    assertTrue(after.maxDeviation() <= 0.03, "max deviation " + after.maxDeviation());
    assertTrue(after.windowsAfterSettling() >= after.windows() - 12, after.toString());
    // The fixed α calibrated on the easy prompts sends 0.6 / 0.6 * (1 - 0.42/...): far more than 30%.
    assertTrue(after.fixedMin() - 0.3 > 0.10, "the fixed threshold drifted only to " + after.fixedMin());
    assertEquals(0.3, phases.get(0).fixedMax(), 0.04, "the fixed threshold was right before the shift");
    // The plot's windows run across the shift, so its transient shows.
    assertTrue(TargetReplay.trailing(r, 5).stream().anyMatch(w -> w.autoShare() > 0.33), "the transient is visible");
  }
}
